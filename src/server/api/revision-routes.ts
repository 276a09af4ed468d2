/**
 * REST for a deployment's history: its revisions (each an immutable
 * package, version and values) and a rollback to any of them, which goes
 * out as a rollout under the deployment's own policy (staged unless asked
 * otherwise), not all at once.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { ApiApp } from './api-env.js';
import type { RolloutService } from '../rollouts/rollout-service.js';
import type { RevisionRecord, RolloutRecord } from '../store/index.js';
import { actorOf, errors, iso, json } from './openapi-helpers.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
/** Revisions returned by the list, newest first. */
import { unpackResources } from '../fleet/deployment-resources.js';
import { maskSecretValues } from '../secrets/secret-fields.js';

const MAX_REVISIONS = 1000;

const Revision = z
  .object({
    revision: z.number(),
    package: z.string(),
    version: z.string(),
    values: z.record(z.string(), z.string()),
    resources: z.record(z.string(), z.unknown()).optional().openapi({ description: 'resource limits the revision sets over the manifest' }),
    secretValues: z.record(z.string(), z.string()).openapi({ description: 'keys of the secret values, each shown as "***"' }),
    createdAt: z.string(),
    current: z.boolean().openapi({ description: 'the revision the deployment wants now (rollouts take agents to it)' }),
    stable: z.boolean().openapi({ description: 'the last revision fully rolled out and healthy' }),
  })
  .openapi('Revision');

const RevisionList = z
  .object({
    deployment: z.string(),
    revision: z.number().openapi({ description: 'the current revision' }),
    stableRevision: z.number().nullable(),
    revisions: z.array(Revision).openapi({ description: `newest first, at most ${MAX_REVISIONS} (see limit); diff two with their values` }),
  })
  .openapi('RevisionList');

const RollbackToInput = z
  .object({
    toRevision: z.number().int().min(1).openapi({ description: 'any revision the deployment has had' }),
    mode: z.enum(['staged', 'at-once']).default('staged').openapi({ description: "staged (default): the deployment's own rollout policy — canary, batches, promote, error budget; at-once: every agent together" }),
  })
  .strict()
  .openapi('RollbackToInput');

const RollbackResult = z
  .object({
    id: z.string().openapi({ description: 'the rollout taking agents to the revision (see /api/v1/rollouts/{id})' }),
    deployment: z.string(),
    kind: z.literal('rollback'),
    state: z.string(),
    fromRevision: z.number().nullable(),
    toRevision: z.number(),
    policy: z.record(z.string(), z.unknown()),
    createdBy: z.string(),
    createdAt: z.string(),
  })
  .openapi('RollbackResult');

const Param = z.object({ name: z.string().regex(NAME).openapi({ param: { name: 'name', in: 'path' } }) });

const revisionView = (r: RevisionRecord, current: number, stable: number | null) => ({
  revision: r.revision,
  package: r.package,
  version: r.version,
  ...unpackResources(r.values),
  secretValues: maskSecretValues(r.secretValues),
  createdAt: iso(r.createdAt)!,
  current: r.revision === current,
  stable: r.revision === stable,
});

const rolloutView = (r: RolloutRecord) => ({
  id: r.id,
  deployment: r.deployment,
  kind: 'rollback' as const,
  state: r.state,
  fromRevision: r.fromRevision,
  toRevision: r.toRevision,
  policy: r.policy,
  createdBy: r.createdBy,
  createdAt: iso(r.createdAt)!,
});

export function addRevisionRoutes(app: ApiApp, rollouts: RolloutService): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/deployments/{name}/revisions',
      summary: "A deployment's revisions, newest first, marking the current and the stable one",
      request: { params: Param, query: z.object({ limit: z.coerce.number().int().min(1).max(MAX_REVISIONS).default(100) }) },
      responses: { 200: json(RevisionList, 'revisions'), ...errors },
    }),
    async (c) => {
      const { deployment: d, revisions } = await rollouts.revisions(c.req.valid('param').name);
      return c.json(
        { deployment: d.name, revision: d.revision, stableRevision: d.stableRevision, revisions: revisions.slice(0, c.req.valid('query').limit).map((r) => revisionView(r, d.revision, d.stableRevision)) },
        200,
      );
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/deployments/{name}/revisions/{rev}',
      summary: 'One revision of a deployment',
      request: { params: Param.extend({ rev: z.coerce.number().int().min(1).openapi({ param: { name: 'rev', in: 'path' } }) }) },
      responses: { 200: json(Revision, 'the revision'), ...errors },
    }),
    async (c) => {
      const { name, rev } = c.req.valid('param');
      const { deployment: d, revisions } = await rollouts.revisions(name);
      const r = revisions.find((x) => x.revision === rev);
      if (!r) return c.json({ error: { code: 'REVISION_NOT_FOUND', message: `deployment ${name} has no revision ${rev}` } }, 404);
      return c.json(revisionView(r, d.revision, d.stableRevision), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/deployments/{name}/rollback',
      summary: "Roll the deployment back (or forward) to any revision it has had, as a rollout under the deployment's own policy",
      description:
        "Staged by default: the deployment's canary, batches, manual promote and error budget apply as to any change (unlike a revert that skips them). " +
        'A rollout still going is finished as rolled back. 404 REVISION_NOT_FOUND for a revision it never had; 409 ROLLOUT_STATE when it is at that revision already with nothing going on.',
      request: { params: Param, body: { content: { 'application/json': { schema: RollbackToInput } }, required: true } },
      responses: { 200: json(RollbackResult, 'the rollout'), ...errors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const r = await rollouts.rollback(c.req.valid('param').name, actorOf(c), { toRevision: body.toRevision, mode: body.mode });
      return c.json(rolloutView(r), 200);
    },
  );
}
