/** REST for imperative operations: restart now, read or follow service output. */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { LogChunk } from '../../protocol/index.js';
import type { ImperativeService } from '../fleet/imperative.js';
import { ErrorBody } from './schemas.js';
import { zodValidationError } from './error-handler.js';
import { actorOf, errors as baseErrors, json } from './openapi-helpers.js';

const errors = {
  ...baseErrors,
  409: json(ErrorBody, 'the agent is not connected here, or refused'),
  504: json(ErrorBody, 'the agent did not answer in time'),
};
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

const FollowInput = z
  .object({
    id: z.string().min(1).max(64),
    service: z.string().regex(NAME),
    stdoutOffset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
    stderrOffset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();

/** Output waiting for a slow client beyond this is dropped (and the client told how much). */
const MAX_QUEUED_CHARS = 1024 * 1024;
/** An SSE comment this often keeps proxies from closing an idle follow. */
const KEEPALIVE_MS = 15_000;

export function addImperativeRoutes(app: ApiApp, imperative: ImperativeService): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/deployments/{name}/restart',
      summary: "Restart the deployment's services now on every matching online agent (desired state unchanged)",
      request: { params: z.object({ name: z.string().regex(NAME).openapi({ param: { name: 'name', in: 'path' } }) }) },
      responses: {
        200: json(z.object({ deployment: z.string(), results: z.array(z.object({ id: z.string(), name: z.string(), ok: z.boolean(), error: z.string() })) }), 'per agent'),
        ...errors,
      },
    }),
    async (c) => c.json(await imperative.restartDeployment(c.req.valid('param').name, actorOf(c)), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents/{id}/services',
      summary: "The agent's services now: state, pid, uptime, restarts, last exit, health, version, config hash, CPU and RSS",
      request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: {
        200: json(
          z.object({
            services: z.array(
              z.object({
                name: z.string(),
                version: z.string(),
                state: z.string(),
                healthy: z.boolean(),
                pid: z.number().nullable(),
                uptimeSeconds: z.number().nullable(),
                restarts: z.number(),
                lastExit: z
                  .object({
                    code: z.number().nullable(),
                    signal: z.string().nullable(),
                    at: z.number(),
                    reason: z.string().optional().openapi({ description: 'why, where the agent knows more than code and signal, e.g. "killed: out of memory (limit 256 MiB)"' }),
                  })
                  .nullable(),
                configHash: z.string(),
                cpuPercent: z.number().nullable(),
                rssBytes: z.number().nullable(),
                logFollowers: z.number().optional().openapi({ description: 'live `logs -f` followers of this service on the agent' }),
              }),
            ),
          }),
          'services',
        ),
        ...errors,
      },
    }),
    async (c) => c.json({ services: await imperative.services(c.req.valid('param').id) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents/{id}/samples',
      summary: 'Recent resource samples (host CPU, memory, disk; per service CPU, RSS, open files), oldest first',
      request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: json(z.object({ samples: z.array(z.record(z.string(), z.unknown())) }), 'samples'), ...errors },
    }),
    async (c) => c.json({ samples: (await imperative.samples(c.req.valid('param').id)) as unknown as Record<string, unknown>[] }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents/{id}/services/{service}/logs',
      summary: "A window of a service's output on one agent: the tail, or from an offset (to follow live, see /logs/follow)",
      request: {
        params: z.object({
          id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }),
          service: z.string().regex(NAME).openapi({ param: { name: 'service', in: 'path' } }),
        }),
        query: z.object({
          stream: z.enum(['stdout', 'stderr']).default('stdout'),
          offset: z.coerce.number().int().min(0).optional(),
          tailBytes: z.coerce.number().int().min(0).max(256 * 1024).optional(),
        }),
      },
      responses: { 200: json(z.object({ data: z.string(), nextOffset: z.number() }), 'the output window'), ...errors },
    }),
    async (c) => {
      const { id, service } = c.req.valid('param');
      return c.json(await imperative.logs(id, service, c.req.valid('query')), 200);
    },
  );

  // Server-Sent Events: `output` {stream, data} as the service writes, `dropped` {chars} if this client fell behind,
  // and finally `end` {reason} or `error` {code, message}. Closing the request makes the agent stop following.
  app.get('/api/v1/agents/:id/services/:service/logs/follow', async (c) => {
    const input = FollowInput.safeParse({ ...c.req.query(), id: c.req.param('id'), service: c.req.param('service') });
    if (!input.success) throw zodValidationError(input.error);
    const { id, service, stdoutOffset, stderrOffset } = input.data;
    const queue: LogChunk[] = [];
    let queued = 0;
    let dropped = 0;
    let wake: (() => void) | null = null;
    const follow = await imperative.followLogs(id, service, { stdout: stdoutOffset, stderr: stderrOffset }, (chunks) => {
      for (const chunk of chunks) {
        if (queued + chunk.data.length > MAX_QUEUED_CHARS) {
          dropped += chunk.data.length;
          continue;
        }
        queue.push(chunk);
        queued += chunk.data.length;
      }
      wake?.();
    });
    let end: { event: 'end' | 'error'; data: Record<string, unknown> } | null = null;
    void follow.ended.then(
      (reason) => (end = { event: 'end', data: { reason } }),
      (err: unknown) => (end = { event: 'error', data: { code: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message } }),
    ).finally(() => wake?.());
    return streamSSE(c, async (stream) => {
      stream.onAbort(() => {
        follow.cancel();
        wake?.();
      });
      const keepalive = setInterval(() => void stream.write(': keepalive\n\n').catch(() => follow.cancel()), KEEPALIVE_MS);
      try {
        while (!stream.aborted) {
          while (queue.length > 0) {
            const chunk = queue.shift()!;
            queued -= chunk.data.length;
            await stream.writeSSE({ event: 'output', data: JSON.stringify(chunk) });
          }
          if (dropped > 0) {
            await stream.writeSSE({ event: 'dropped', data: JSON.stringify({ chars: dropped }) });
            dropped = 0;
          }
          const last = end as { event: string; data: Record<string, unknown> } | null;
          if (last) {
            await stream.writeSSE({ event: last.event, data: JSON.stringify(last.data) });
            return;
          }
          if (queue.length === 0 && dropped === 0 && end === null) await new Promise<void>((resolve) => (wake = resolve));
          wake = null;
        }
      } finally {
        clearInterval(keepalive);
        follow.cancel();
      }
    });
  });
}
