/** REST for deployments: install, list, show, start/stop, uninstall, status. */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { DeploymentService } from '../fleet/deployment-service.js';
import type { DeploymentRecord } from '../store/index.js';
import { actorOf, errors, json } from './openapi-helpers.js';
import { PolicyOverridesSchema } from '../rollouts/policy.js';
import { ResourcesSchema } from '../../protocol/index.js';
import { unpackResources } from '../fleet/deployment-resources.js';
import { maskSecretValues } from '../secrets/secret-fields.js';


const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const ValueName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/, 'value names use letters, digits and _.-');
/** Secret values one deployment may carry (docs/limits.md). */
export const MAX_SECRET_VALUES = 100;
const Deployment = z
  .object({
    name: z.string(),
    package: z.string(),
    version: z.string(),
    selector: z.string(),
    values: z.record(z.string(), z.string()),
    resources: ResourcesSchema.optional().openapi({ description: "resource limits over the package manifest's, field by field (docs/resource-limits.md)" }),
    secretValues: z.record(z.string(), z.string()).openapi({ description: 'secret values: keys only, every value shown as "***" (write-only)' }),
    desiredState: z.enum(['running', 'stopped']),
    revision: z.number().openapi({ description: 'the revision the deployment wants (package, version, values)' }),
    stableRevision: z.number().nullable().openapi({ description: 'the last revision fully rolled out and healthy' }),
    policy: z.record(z.string(), z.unknown()).openapi({ description: 'rollout policy overrides kept on the deployment' }),
    createdAt: z.string(),
    updatedAt: z.string(),
  })
  .openapi('Deployment');

const DeployResult = Deployment.extend({
  rollout: z.string().nullable().openapi({ description: 'the rollout this change started, if it changed package, version or values' }),
  targets: z.number().openapi({ description: 'Corral agents the selector matches now' }),
  warnings: z.array(z.string()).openapi({ description: 'for the operator, e.g. a selector that matches no Corral agent and why ("did you mean env?")' }),
}).openapi('DeployResult');

const DeploymentInput = z
  .object({
    name: z.string().regex(NAME, 'lower-case letters, digits and ._- (at most 63)'),
    package: z.string().min(1).max(63),
    version: z.string().min(1).max(64),
    selector: z.string().max(4096).openapi({ example: 'env=prod,role=web' }),
    values: z.record(ValueName, z.string().max(65536)).default({}),
    secretValues: z
      .record(ValueName, z.string().max(65536))
      .refine((v) => Object.keys(v).length <= MAX_SECRET_VALUES, `at most ${MAX_SECRET_VALUES} secret values`)
      .default({})
      .openapi({
        description:
          'values templates see like values, stored encrypted and never shown again (answers show "***"); "***" keeps the stored secret of that name, a secret left out is removed; a key may not also be in values',
      }),
    desiredState: z.enum(['running', 'stopped']).default('running'),
    resources: ResourcesSchema.optional().openapi({
      description: "resource limits over the package manifest's, field by field: cpu (cores), memoryMax, memoryHigh (bytes or 256Mi-style), pids. Part of the revision like values: a change goes out as a rollout; absent: the manifest's own",
    }),
    policy: PolicyOverridesSchema.optional().openapi({ description: 'rollout policy overrides kept on the deployment (absent: keep the current ones)' }),
    rollout: PolicyOverridesSchema.optional().openapi({ description: 'rollout policy overrides for the rollout of this change only' }),
  })
  .strict()
  .openapi('DeploymentInput');

const DeploymentStatus = z
  .object({
    deployment: Deployment,
    rollout: z
      .object({ id: z.string(), kind: z.string(), state: z.string(), reason: z.string(), toRevision: z.number() })
      .nullable()
      .openapi({ description: 'the newest rollout of the deployment (see /api/v1/rollouts/{id})' }),
    agents: z.array(
      z.object({
        id: z.string(),
        name: z.string(),
        agentStatus: z.string(),
        revision: z.number().nullable().openapi({ description: 'the revision this agent is offered (null: none yet)' }),
        config: z.string().openapi({ description: 'whether the agent took the desired state: PENDING, APPLYING, APPLIED, FAILED' }),
        service: z.object({ healthy: z.boolean(), status: z.string(), lastError: z.string() }).nullable(),
      }),
    ),
  })
  .openapi('DeploymentStatus');

const Param = z.object({ name: z.string().regex(NAME).openapi({ param: { name: 'name', in: 'path' } }) });
/** Every answer masks secret values (keys, never values, for every role) and shows resource overrides apart from values. */
const view = (d: DeploymentRecord) => ({ ...d, ...unpackResources(d.values), secretValues: maskSecretValues(d.secretValues), createdAt: new Date(d.createdAt).toISOString(), updatedAt: new Date(d.updatedAt).toISOString() });

export function addDeploymentRoutes(app: ApiApp, deployments: DeploymentService): void {
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/deployments',
      summary: 'Install: bind a published package version, config values and a desired run state to a selector (replaces a deployment of the same name)',
      request: { body: { content: { 'application/json': { schema: DeploymentInput } }, required: true } },
      responses: { 200: json(DeployResult, 'the deployment as stored, and the rollout it started'), ...errors },
    }),
    async (c) => {
      const { rollout, ...input } = c.req.valid('json');
      const result = await deployments.put(input, { actor: actorOf(c), rollout: rollout ?? null });
      return c.json({ ...view(result.deployment), rollout: result.rolloutId, targets: result.targets, warnings: result.warnings }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/v1/deployments', summary: 'List deployments', responses: { 200: json(z.object({ deployments: z.array(Deployment) }), 'deployments'), 401: errors[401] } }),
    async (c) => c.json({ deployments: (await deployments.list()).map(view) }, 200),
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/v1/deployments/{name}', summary: 'One deployment', request: { params: Param }, responses: { 200: json(Deployment, 'the deployment'), ...errors } }),
    async (c) => c.json(view(await deployments.get(c.req.valid('param').name)), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/deployments/{name}/status',
      summary: "Per matching agent: desired state taken, and the service's health",
      request: { params: Param },
      responses: { 200: json(DeploymentStatus, 'status'), ...errors },
    }),
    async (c) => {
      const s = await deployments.status(c.req.valid('param').name);
      return c.json({ deployment: view(s.deployment), rollout: s.rollout, agents: s.agents }, 200);
    },
  );

  for (const action of ['start', 'stop'] as const) {
    app.openapi(
      createRoute({
        method: 'post',
        path: `/api/v1/deployments/{name}/${action}`,
        summary: `${action === 'start' ? 'Start' : 'Stop'} the deployment's services (desired state: persists across restarts)`,
        request: { params: Param },
        responses: { 200: json(Deployment, 'the deployment'), ...errors },
      }),
      async (c) => c.json(view(await deployments.setDesiredState(c.req.valid('param').name, action === 'start' ? 'running' : 'stopped', actorOf(c))), 200),
    );
  }

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/deployments/{name}',
      summary: 'Uninstall: services stop, the pre-uninstall hook runs, files are removed',
      request: { params: Param },
      responses: { 200: json(z.object({ deleted: z.string() }), 'deleted'), ...errors },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await deployments.remove(name, actorOf(c));
      return c.json({ deleted: name }, 200);
    },
  );
}
