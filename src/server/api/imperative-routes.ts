/** REST for imperative operations: restart now, read service output. */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { ImperativeService } from '../fleet/imperative.js';
import { ErrorBody } from './schemas.js';
import { errors as baseErrors, json } from './openapi-helpers.js';

const errors = {
  ...baseErrors,
  409: json(ErrorBody, 'the agent is not connected here, or refused'),
  504: json(ErrorBody, 'the agent did not answer in time'),
};
const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

export function addImperativeRoutes(app: OpenAPIHono, imperative: ImperativeService): void {
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
    async (c) => c.json(await imperative.restartDeployment(c.req.valid('param').name), 200),
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
                lastExit: z.object({ code: z.number().nullable(), signal: z.string().nullable(), at: z.number() }).nullable(),
                configHash: z.string(),
                cpuPercent: z.number().nullable(),
                rssBytes: z.number().nullable(),
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
      summary: "A window of a service's output on one agent: the tail, or from an offset (poll with nextOffset to follow)",
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
}
