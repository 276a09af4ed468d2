/** REST for exec jobs: start one, list them, read results, follow one live (Server-Sent Events). */
import type { Context } from 'hono';
import type { ApiApp, ApiEnv } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { JobEvent, JobService } from '../jobs/job-service.js';
import { DEFAULT_JOB_PAGE, MAX_JOB_PAGE, type JobListItem } from '../jobs/job-list.js';
import { MAX_CURSOR_CHARS } from '../fleet/agent-list.js';
import type { JobHostRecord, JobRecord } from '../store/index.js';
import { actorOf, errors, iso, json } from './openapi-helpers.js';
import { bindingsGranting, scopesContaining, unscoped } from './scope.js';


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
    timedOut: z.boolean().openapi({ description: 'killed at the timeout (status is then failed)' }),
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
    createdBy: z.string().openapi({ description: "the user who started it ('' when unknown: a job from before 0.2 whose start event was pruned)" }),
    createdAt: z.string().openapi({ description: 'when it started' }),
    finishedAt: z.string().nullable(),
    hosts: z.array(Host).openapi({ description: 'every host, or with failed=true only the failed (and timed out) ones' }),
  })
  .openapi('Job');

const HostCounts = z
  .object({
    total: z.number(),
    ok: z.number().openapi({ description: 'succeeded: exit code 0' }),
    failed: z.number().openapi({ description: 'failed, not counting timed out' }),
    timedOut: z.number(),
    skipped: z.number().openapi({ description: 'not started: the error budget was exceeded' }),
    running: z.number(),
    pending: z.number().openapi({ description: 'waiting for a free slot (max concurrency)' }),
  })
  .openapi('JobHostCounts');

const JobSummary = z
  .object({
    id: z.string(),
    status: z.enum(['running', 'succeeded', 'failed', 'stopped']),
    command: z.array(z.string()),
    selector: z.string(),
    service: z.string().nullable(),
    createdBy: z.string(),
    createdAt: z.string().openapi({ description: 'when it started' }),
    finishedAt: z.string().nullable(),
    hosts: HostCounts,
  })
  .openapi('JobSummary');

const JobPage = z
  .object({
    jobs: z.array(JobSummary),
    total: z.number().openapi({ description: 'jobs matching the filter (that you may read), on all pages' }),
    nextCursor: z.string().nullable().openapi({ description: 'pass as `cursor` for the next page; null on the last page' }),
  })
  .openapi('JobPage');

const Bool = z.enum(['true', 'false']).optional();

const summaryView = (j: JobListItem) => ({
  id: j.id,
  status: j.status,
  command: j.spec.command,
  selector: j.spec.selector,
  service: j.spec.service ?? null,
  createdBy: j.createdBy,
  createdAt: iso(j.createdAt)!,
  finishedAt: iso(j.finishedAt),
  hosts: j.hosts,
});

/**
 * The selectors of the jobs a scoped reader may read: those within one of its viewer scopes, as
 * GET /api/v1/jobs/{id} checks one job (authorize.ts, target `job`); undefined for a fleet-wide reader.
 */
async function readableSelectors(c: Context<ApiEnv>, jobs: JobService): Promise<string[] | undefined> {
  const bindings = bindingsGranting(c.get('actor'), 'viewer');
  if (unscoped(bindings)) return undefined;
  const within = (selector: string) => {
    try {
      return scopesContaining(selector, bindings).length > 0;
    } catch {
      return false; // a stored selector that no longer parses is within no scope
    }
  };
  return (await jobs.selectors()).filter(within);
}

const hostView = (h: JobHostRecord) => ({ ...h, startedAt: iso(h.startedAt), finishedAt: iso(h.finishedAt) });
const jobView = (j: JobRecord, hosts: JobHostRecord[]) => ({
  id: j.id,
  status: j.status,
  spec: j.spec as unknown as Record<string, unknown>,
  createdBy: j.createdBy,
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
    createRoute({
      method: 'get',
      path: '/api/v1/jobs',
      summary: 'List jobs, newest first, a page at a time, with host counts by outcome; a scoped reader sees only jobs on selectors within its scopes',
      request: {
        query: z.object({
          state: z.enum(['running', 'done']).optional().openapi({ description: 'running, or done (succeeded, failed or stopped)' }),
          createdBy: z.string().max(256).optional().openapi({ description: 'only jobs this user started' }),
          failed: Bool.openapi({ description: 'true: only jobs with a failed or timed out host' }),
          limit: z.coerce.number().int().min(1).max(MAX_JOB_PAGE).default(DEFAULT_JOB_PAGE).openapi({ description: `jobs per page, 1 to ${MAX_JOB_PAGE} (default ${DEFAULT_JOB_PAGE})` }),
          cursor: z.string().max(MAX_CURSOR_CHARS).optional().openapi({ description: 'nextCursor from the previous page (opaque)' }),
        }),
      },
      responses: { 200: json(JobPage, 'one page of jobs'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await jobs.list({
        state: q.state,
        createdBy: q.createdBy,
        hasFailedHosts: q.failed === 'true' ? true : undefined,
        selectors: await readableSelectors(c, jobs),
        limit: q.limit,
        cursor: q.cursor,
      });
      return c.json({ jobs: page.jobs.map(summaryView), total: page.total, nextCursor: page.nextCursor }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/jobs/{id}',
      summary: 'A job with per-host exit codes and output',
      request: { params: IdParam, query: z.object({ failed: Bool.openapi({ description: 'true: only the hosts that failed or timed out' }) }) },
      responses: { 200: json(Job, 'the job'), ...errors },
    }),
    async (c) => {
      const { job, hosts } = await jobs.get(c.req.valid('param').id);
      const failedOnly = c.req.valid('query').failed === 'true';
      return c.json(jobView(job, failedOnly ? hosts.filter((h) => h.status === 'failed') : hosts), 200);
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
