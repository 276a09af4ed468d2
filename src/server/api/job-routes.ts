/** REST for exec jobs: start one, read results, follow it live (Server-Sent Events). */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { JobEvent, JobService } from '../jobs/job-service.js';
import type { JobHostRecord, JobRecord } from '../store/index.js';
import { actorOf, errors, iso, json } from './openapi-helpers.js';


const JobInput = z
  .object({
    selector: z.string().max(4096),
    command: z.array(z.string().max(8192)).min(1).max(1024).openapi({ example: ['uptime'] }),
    service: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/).optional().openapi({ description: "run in this deployment's directory and environment" }),
    timeoutSeconds: z.number().positive().max(86_400).default(60),
    maxConcurrency: z.string().default('10').openapi({ description: 'hosts at once: N or N%' }),
    errorBudget: z.string().default('0').openapi({ description: 'failures tolerated before no new host starts: N or N%' }),
  })
  .strict()
  .openapi('JobInput');

const Host = z
  .object({
    agentId: z.string(),
    agentName: z.string(),
    status: z.enum(['pending', 'running', 'succeeded', 'failed', 'skipped']),
    exitCode: z.number().nullable(),
    signal: z.string().nullable(),
    output: z.string(),
    truncated: z.boolean(),
    error: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .openapi('JobHost');

const Job = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'succeeded', 'failed', 'stopped']),
    spec: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
    hosts: z.array(Host),
  })
  .openapi('Job');

const hostView = (h: JobHostRecord) => ({ ...h, startedAt: iso(h.startedAt), finishedAt: iso(h.finishedAt) });
const jobView = (j: JobRecord, hosts: JobHostRecord[]) => ({
  id: j.id,
  status: j.status,
  spec: j.spec as unknown as Record<string, unknown>,
  createdAt: iso(j.createdAt)!,
  finishedAt: iso(j.finishedAt),
  hosts: hosts.map(hostView),
});
const IdParam = z.object({ id: z.string().uuid().openapi({ param: { name: 'id', in: 'path' } }) });

export function addJobRoutes(app: ApiApp, jobs: JobService): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/jobs',
      summary: 'Run a command on every online Corral agent a selector matches (max concurrency, error budget); follow it at /api/v1/jobs/{id}/events',
      request: { body: { content: { 'application/json': { schema: JobInput } }, required: true } },
      responses: { 201: json(Job, 'the job, started'), ...errors },
    }),
    async (c) => {
      const input = c.req.valid('json');
      const { job, hosts } = await jobs.create({
        selector: input.selector,
        command: input.command,
        service: input.service ?? null,
        timeoutMs: Math.round(input.timeoutSeconds * 1000),
        maxConcurrency: input.maxConcurrency,
        errorBudget: input.errorBudget,
      }, actorOf(c));
      return c.json(jobView(job, hosts), 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/v1/jobs/{id}', summary: 'A job with per-host exit codes and output', request: { params: IdParam }, responses: { 200: json(Job, 'the job'), ...errors } }),
    async (c) => {
      const { job, hosts } = await jobs.get(c.req.valid('param').id);
      return c.json(jobView(job, hosts), 200);
    },
  );

  // Server-Sent Events: `output`, `host` and finally `done`, replayed from the start of the job.
  app.get('/api/v1/jobs/:id/events', async (c) => {
    const id = c.req.param('id');
    const stored = await jobs.get(id);
    return streamSSE(c, async (stream) => {
      const queue: JobEvent[] = [];
      let wake: (() => void) | null = null;
      const unsubscribe = jobs.subscribe(id, (e) => {
        queue.push(e);
        wake?.();
      });
      if (!unsubscribe) {
        // Finished and no longer live here: send the stored result.
        await stream.writeSSE({ event: 'done', data: JSON.stringify(jobView(stored.job, stored.hosts)) });
        return;
      }
      stream.onAbort(() => {
        unsubscribe();
        wake?.();
      });
      for (;;) {
        while (queue.length > 0) {
          const e = queue.shift()!;
          if (e.type === 'done') {
            const final = await jobs.get(id);
            await stream.writeSSE({ event: 'done', data: JSON.stringify(jobView(final.job, final.hosts)) });
            unsubscribe();
            return;
          }
          await stream.writeSSE({ event: e.type, data: JSON.stringify(e.type === 'host' ? hostView(e.host) : e) });
        }
        if (stream.aborted) return;
        await new Promise<void>((resolve) => (wake = resolve));
        wake = null;
      }
    });
  });
}
