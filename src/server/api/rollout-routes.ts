/** REST for rollouts: list, status, operator actions, and a live status stream (Server-Sent Events). */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import { streamSSE } from 'hono/streaming';
import type { RolloutService } from '../rollouts/rollout-service.js';
import type { RolloutRecord } from '../store/index.js';
import { FINISHED_STATES, type RolloutState } from '../rollouts/step.js';
import { actorOf, errors, iso, json } from './openapi-helpers.js';
import { ValidationError } from '../errors.js';

const Counts = z.object({ pending: z.number(), updating: z.number(), healthy: z.number(), failed: z.number(), offline: z.number() });
const Revision = z
  .object({
    revision: z.number(),
    package: z.string(),
    version: z.string(),
    values: z.record(z.string(), z.string()),
    resources: z.record(z.string(), z.unknown()).optional(),
    secretValues: z.record(z.string(), z.string()).openapi({ description: 'keys of the secret values, each shown as "***"' }),
  })
  .nullable();

const RolloutSummary = z
  .object({
    id: z.string(),
    deployment: z.string(),
    kind: z.enum(['rollout', 'rollback']),
    state: z.string().openapi({ description: 'running, paused, succeeded, failed, aborted, rolled-back' }),
    reason: z.string(),
    fromRevision: z.number().nullable(),
    toRevision: z.number(),
    stage: z.number(),
    createdBy: z.string(),
    createdAt: z.string(),
    finishedAt: z.string().nullable(),
  })
  .openapi('RolloutSummary');

const RolloutStatus = z
  .object({
    id: z.string(),
    deployment: z.string(),
    kind: z.enum(['rollout', 'rollback']),
    state: z.string(),
    reason: z.string().openapi({ description: 'why it is paused, failed or finished as it did' }),
    from: Revision,
    to: Revision,
    secretsChanged: z.array(z.string()).openapi({ description: 'keys of the secret values this rollout adds, removes or changes (never their values)' }),
    stage: z.object({ index: z.number(), name: z.string(), startedAt: z.string().nullable() }),
    promoted: z.boolean(),
    stages: z.array(z.object({ index: z.number(), name: z.string(), counts: Counts, total: z.number() })),
    totals: Counts.extend({ total: z.number() }),
    errorBudget: z.object({
      budget: z.number(),
      failed: z.number(),
      forgiven: z.number().openapi({ description: 'failures accepted by an operator resuming; they no longer count' }),
      left: z.number(),
    }),
    policy: z.record(z.string(), z.unknown()),
    createdBy: z.string(),
    createdAt: z.string(),
    updatedAt: z.string(),
    finishedAt: z.string().nullable(),
    drivenBy: z
      .object({ owner: z.string().openapi({ description: 'host:pid:id of the server process driving it' }), leaseUntil: z.string().nullable() })
      .nullable()
      .openapi({ description: 'which server process holds the lease on it (one at a time, also across replicas)' }),
    agents: z
      .array(z.object({ id: z.string(), name: z.string(), stage: z.number(), state: z.string(), reason: z.string(), startedAt: z.string().nullable(), finishedAt: z.string().nullable() }))
      .optional(),
  })
  .openapi('RolloutStatus');

const summary = (r: RolloutRecord) => ({
  id: r.id,
  deployment: r.deployment,
  kind: r.kind,
  state: r.state,
  reason: r.reason,
  fromRevision: r.fromRevision,
  toRevision: r.toRevision,
  stage: r.stage,
  createdBy: r.createdBy,
  createdAt: iso(r.createdAt)!,
  finishedAt: iso(r.finishedAt),
});

const RollbackBody = z.object({ mode: z.enum(['staged', 'at-once']).optional() }).strict().openapi('RollbackInput');
const Ref = z.object({ ref: z.string().min(1).max(64).openapi({ param: { name: 'ref', in: 'path' }, description: 'a rollout id, or a deployment name for its newest rollout' }) });
const WATCH_POLL_MS = 500;
const WATCH_MAX_MS = 6 * 3600_000;

export function addRolloutRoutes(app: ApiApp, rollouts: RolloutService): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/rollouts',
      summary: 'Rollouts, newest first',
      request: { query: z.object({ deployment: z.string().max(63).optional(), limit: z.coerce.number().int().min(1).max(500).default(50) }) },
      responses: { 200: json(z.object({ rollouts: z.array(RolloutSummary) }), 'rollouts'), ...errors },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json({ rollouts: (await rollouts.list(q.deployment, q.limit)).map(summary) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/rollouts/{ref}',
      summary: 'Rollout status: stages with counts per state, error budget left, the reason for a pause',
      request: { params: Ref, query: z.object({ agents: z.enum(['true', 'false']).default('false') }) },
      responses: { 200: json(RolloutStatus, 'status'), ...errors },
    }),
    async (c) => c.json(await rollouts.view(c.req.valid('param').ref, { agents: c.req.valid('query').agents === 'true' }), 200),
  );

  const actions = {
    pause: 'Pause: release no more agents until resumed',
    resume: 'Resume a paused rollout',
    promote: 'Promote past the canary stage',
    abort: 'Abort: stop where it is (agents keep what they have)',
  } as const;
  for (const [action, text] of Object.entries(actions) as [keyof typeof actions, string][]) {
    app.openapi(
      createRoute({ method: 'post', path: `/api/v1/rollouts/{ref}/${action}`, summary: text, request: { params: Ref }, responses: { 200: json(RolloutSummary, 'the rollout'), ...errors } }),
      async (c) => c.json(summary(await rollouts[action](c.req.valid('param').ref, actorOf(c))), 200),
    );
  }

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/rollouts/{ref}/rollback',
      summary: "Roll the rollout's deployment back to its stable revision (the last one fully healthy), staged or at once",
      request: { params: Ref, body: { content: { 'application/json': { schema: RollbackBody } }, required: false } },
      responses: { 200: json(RolloutSummary, 'the rollback rollout'), ...errors },
    }),
    async (c) => {
      const r = await rollouts.resolve(c.req.valid('param').ref);
      // The body is optional: an empty one means the policy's rollback mode.
      const text = await c.req.text();
      let body: unknown = {};
      try {
        body = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        throw new ValidationError('the body must be JSON like {"mode": "staged"} or empty', 'body');
      }
      const parsed = RollbackBody.safeParse(body);
      if (!parsed.success) throw new ValidationError('mode must be "staged" or "at-once"', 'mode');
      return c.json(summary(await rollouts.rollback(r.deployment, actorOf(c), { mode: parsed.data.mode })), 200);
    },
  );

  // Server-Sent Events: `status` whenever the status changes, `done` once the rollout has finished.
  app.get('/api/v1/rollouts/:ref/watch', async (c) => {
    const first = await rollouts.view(c.req.param('ref'));
    return streamSSE(c, async (stream) => {
      let aborted = false;
      stream.onAbort(() => {
        aborted = true;
      });
      let last = '';
      const deadline = Date.now() + WATCH_MAX_MS;
      let status = first;
      while (!aborted && Date.now() < deadline) {
        const text = JSON.stringify(status);
        if (text !== last) {
          last = text;
          await stream.writeSSE({ event: 'status', data: text });
        }
        if (FINISHED_STATES.includes(status.state as RolloutState)) {
          await stream.writeSSE({ event: 'done', data: text });
          return;
        }
        await stream.sleep(WATCH_POLL_MS);
        status = await rollouts.view(first.id);
      }
    });
  });
}
