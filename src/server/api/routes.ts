/**
 * REST API `/api/v1`: bearer-token auth, zod-validated input, JSON output
 * and an OpenAPI document generated from the same schemas at
 * `/api/v1/openapi.json`.
 */
import { bearerToken } from '../auth/tokens.js';
import { TokenListQuery, tokenPageSchema } from './token-page.js';
import { OpenAPIHono, createRoute, z } from '@hono/zod-openapi';
import type { Logger } from 'pino';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { FleetService } from '../fleet/fleet-service.js';
import type { PackageService } from '../packages/package-service.js';
import type { DeploymentService } from '../fleet/deployment-service.js';
import { addDeploymentRoutes } from './deployment-routes.js';
import { addAgentDeleteRoute } from './agent-delete-route.js';
import { addAgentListRoutes } from './agent-list-routes.js';
import { addStreamRoutes } from './stream-routes.js';
import { addRevisionRoutes } from './revision-routes.js';
import type { EventFeed } from '../event-feed.js';
import { addImperativeRoutes } from './imperative-routes.js';
import { addJobRoutes } from './job-routes.js';
import { addApprovalRoutes } from './approval-routes.js';
import { addCredentialRoutes } from './credential-routes.js';
import type { JobService } from '../jobs/job-service.js';
import type { ImperativeService } from '../fleet/imperative.js';
import type { PackageRecord } from '../store/index.js';
import { InvalidPackageError } from '../errors.js';
import { PUBLISHER_SIGNATURE_HEADER } from '../../protocol/index.js';
import type { Store, TokenRecord } from '../store/index.js';
import { authenticateApiToken } from '../auth/api-token.js';
import { authorize } from './authorize.js';
import { addUserRoutes } from './user-routes.js';
import type { UserService } from '../users/user-service.js';
import type { ApiApp, ApiEnv } from './api-env.js';
import { errorResponse, handleError, zodValidationError } from './error-handler.js';
import { actorOf, errors, iso, json } from './openapi-helpers.js';
import { addRolloutRoutes } from './rollout-routes.js';
import { restBodyLimit } from './body-limit.js';
import type { RolloutService } from '../rollouts/rollout-service.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Clock } from '../clock.js';
import { auditMiddleware } from './audit-middleware.js';
import { addAuditRoutes, timeParam } from './audit-routes.js';
import { manifestJsonSchema } from '../../protocol/index.js';
import { maskConfigFiles } from '../secrets/secret-fields.js';
import { INSTALL_AGENT_PACKAGE, installInfoText, installToken, pickInstallPackage, signingKeyFingerprint } from '../install/install-agent.js';
import {
  AgentDetail,
  Config,
  CONFIG_NAME,
  ConfigPut,
  ConfigStatus,
  CreatedEnrollmentToken,
  EnrollmentToken,
  ErrorBody,
  Event,
  LabelsPatch,
  NewEnrollmentToken,
  PackageSchema,
} from './schemas.js';

export interface ApiDeps {
  fleet: FleetService;
  deployments: DeploymentService;
  rollouts: RolloutService;
  imperative: ImperativeService;
  jobs: JobService;
  packages: PackageService;
  store: Store;
  audit: AuditService;
  clock: Clock;
  /** How often an audit follower looks for records other replicas appended, ms. */
  pollMs: number;
  users: UserService;
  /** Live fleet events for GET /api/v1/stream. */
  feed: EventFeed;
  log: Logger;
}

/** Served without a token: editors fetch it. */
const MANIFEST_SCHEMA_PATH = '/api/v1/manifest.schema.json';
/** Authenticated by an enrollment token (the install script's), not the admin token: see its route. */
const INSTALL_AGENT_PATH = '/api/v1/install/agent';
const tokenView = (t: TokenRecord) => ({
  id: t.id,
  name: t.name,
  prefix: t.prefix,
  createdAt: iso(t.createdAt)!,
  revokedAt: iso(t.revokedAt),
  labels: t.labels,
  expiresAt: iso(t.expiresAt),
  maxAgents: t.maxAgents,
  enrolledAgents: t.enrolledAgents,
  requireApproval: t.requireApproval,
});
const AgentId = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });
const ConfigName = z.object({
  name: z.string().regex(CONFIG_NAME, 'config names use letters, digits and ._- (at most 128)').openapi({ param: { name: 'name', in: 'path' } }),
});

/** The document's top level, as /api/v1/openapi.json serves it (and apiDocument() returns it). */
export const OPENAPI_DOCUMENT = {
  openapi: '3.0.3',
  info: { title: 'Corral API', version: '1' },
  security: [{ bearer: [] }],
};

export function createApi(deps: ApiDeps): ApiApp {
  const { fleet } = deps;
  const app = new OpenAPIHono<ApiEnv>({
    defaultHook: (result, c) => {
      if (!result.success) return handleError(zodValidationError(result.error), c, deps.log);
      return undefined;
    },
  });

  app.onError((err, c) => handleError(err, c, deps.log));
  app.notFound((c) => errorResponse(c, 404, 'NOT_FOUND', `no route ${c.req.method} ${c.req.path}`));

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer' });
  app.doc('/api/v1/openapi.json', OPENAPI_DOCUMENT);

  // Every other /api/v1 route needs an API token: it decides the actor (the user), never the client.
  app.use('/api/v1/*', async (c, next) => {
    if (c.req.path === '/api/v1/openapi.json' || c.req.path === MANIFEST_SCHEMA_PATH || c.req.path === INSTALL_AGENT_PATH) return next();
    const auth = await authenticateApiToken(deps.store, c.req.header('authorization'), Date.now());
    if (!auth.ok) return errorResponse(c, 401, 'UNAUTHENTICATED', auth.message);
    c.set('actor', auth.actor);
    return next();
  });
  // Records every authenticated write after it was answered (refusals by the checks registered after it included).
  app.use(
    '/api/v1/*',
    auditMiddleware({
      audit: deps.audit,
      clock: deps.clock,
      onError: (err, method, path) => deps.log.error({ err, method, path }, 'failed to record audit record'),
    }),
  );
  app.use('/api/v1/*', restBodyLimit());
  // Who may do what (access-rules.ts): after authentication (and anything that records the request), before every route.
  app.use('/api/v1/*', authorize({ store: deps.store }));

  // Before /agents/{id}: /agents/facets is not an agent id.
  addAgentListRoutes(app, fleet);

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents/{id}',
      summary: 'One agent in detail',
      request: { params: AgentId },
      responses: { 200: json(AgentDetail, 'the agent'), ...errors },
    }),
    async (c) => c.json(await fleet.getAgent(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/api/v1/agents/{id}',
      summary: "Set or remove an agent's operator labels",
      request: { params: AgentId, body: { content: { 'application/json': { schema: LabelsPatch } }, required: true } },
      responses: { 200: json(AgentDetail, 'the agent after the change'), ...errors },
    }),
    async (c) => c.json(await fleet.patchLabels(c.req.valid('param').id, c.req.valid('json').labels, actorOf(c)), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/agents/{id}',
      summary: 'Revoke an agent: disconnect it and refuse it from now on',
      request: { params: AgentId },
      responses: { 200: json(AgentDetail, 'the revoked agent'), ...errors },
    }),
    async (c) => c.json(await fleet.revokeAgent(c.req.valid('param').id, actorOf(c)), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/enrollment-tokens',
      summary: 'List enrollment tokens a page at a time (oldest first, or newest with sort=-createdAt), filtered by state (secrets are never shown again)',
      request: { query: TokenListQuery },
      responses: { 200: json(tokenPageSchema(EnrollmentToken, 'EnrollmentTokenPage'), 'one page of tokens'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const page = await fleet.listEnrollmentTokens(c.req.valid('query'));
      return c.json({ ...page, tokens: page.tokens.map(tokenView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/enrollment-tokens',
      summary: 'Create an enrollment token',
      request: { body: { content: { 'application/json': { schema: NewEnrollmentToken } }, required: false } },
      responses: { 201: json(CreatedEnrollmentToken, 'the token, with its secret shown once'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const body = c.req.header('content-type')?.includes('json') ? c.req.valid('json') : { name: 'enrollment' };
      const { record, secret } = await fleet.createEnrollmentToken(body.name, body, actorOf(c));
      return c.json({ ...tokenView(record), token: secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/enrollment-tokens/{id}',
      summary: 'Revoke an enrollment token: no new enrollments with it, and sessions holding only this token are closed (on every replica); agents on their own credential stay',
      request: { params: z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: json(EnrollmentToken, 'the revoked token'), ...errors },
    }),
    async (c) => c.json(tokenView(await fleet.revokeEnrollmentToken(c.req.valid('param').id, actorOf(c))), 200),
  );

  // Every answer masks secret files (for every role): the mask and the sha256 of the content.
  const configView = (r: Awaited<ReturnType<FleetService['getConfig']>>) => ({
    ...r,
    files: maskConfigFiles(r.files),
    createdAt: iso(r.createdAt)!,
    updatedAt: iso(r.updatedAt)!,
  });

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/configs',
      summary: 'List named configs',
      responses: { 200: json(z.object({ configs: z.array(Config) }), 'configs'), 401: errors[401] },
    }),
    async (c) => c.json({ configs: (await fleet.listConfigs()).map(configView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/configs/{name}',
      summary: 'One named config',
      request: { params: ConfigName },
      responses: { 200: json(Config, 'the config'), ...errors },
    }),
    async (c) => c.json(configView(await fleet.getConfig(c.req.valid('param').name)), 200),
  );

  app.openapi(
    createRoute({
      method: 'put',
      path: '/api/v1/configs/{name}',
      summary: 'Create or replace a named config for the agents a selector matches',
      request: { params: ConfigName, body: { content: { 'application/json': { schema: ConfigPut } }, required: true } },
      responses: { 200: json(Config, 'the config as stored'), ...errors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      return c.json(configView(await fleet.putConfig(c.req.valid('param').name, body.selector, body.files, actorOf(c))), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/configs/{name}',
      summary: 'Delete a named config; agents are offered what remains',
      request: { params: ConfigName },
      responses: { 200: json(z.object({ deleted: z.string() }), 'deleted'), ...errors },
    }),
    async (c) => {
      const { name } = c.req.valid('param');
      await fleet.deleteConfig(name, actorOf(c));
      return c.json({ deleted: name }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/configs/{name}/status',
      summary: 'Per matching agent: PENDING, APPLYING, APPLIED or FAILED (with the agent\'s error)',
      request: { params: ConfigName },
      responses: { 200: json(ConfigStatus, 'status'), ...errors },
    }),
    async (c) => c.json(await fleet.configStatus(c.req.valid('param').name), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/events',
      summary: 'Fleet events, oldest first: the newest `limit` (default 100; with since/until, newest by time), or after the id `after`; filter by agent, type and time',
      request: {
        query: z.object({
          after: z.coerce.number().int().min(0).optional(),
          agent: z.string().max(64).optional(),
          type: z.string().max(128).optional(),
          since: z.string().max(64).optional().openapi({ description: 'only events at or after this ISO 8601 date-time' }),
          until: z.string().max(64).optional().openapi({ description: 'only events before this ISO 8601 date-time' }),
          limit: z.coerce.number().int().min(1).max(1000).optional(),
        }),
      },
      responses: { 200: json(z.object({ events: z.array(Event) }), 'events'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const events = await fleet.listEvents({ afterId: q.after, agentId: q.agent, type: q.type, since: timeParam('since', q.since), until: timeParam('until', q.until), limit: q.limit });
      return c.json({ events: events.map((e) => ({ ...e, at: iso(e.at)! })) }, 200);
    },
  );

  addDeploymentRoutes(app, deps.deployments);
  addAgentDeleteRoute(app, fleet);
  addImperativeRoutes(app, deps.imperative);
  addJobRoutes(app, deps.jobs);
  addApprovalRoutes(app, fleet);
  addCredentialRoutes(app, deps.fleet);
  addRolloutRoutes(app, deps.rollouts);
  addAuditRoutes(app, deps.audit, { pollMs: deps.pollMs });
  addUserRoutes(app, deps.users);
  addRevisionRoutes(app, deps.rollouts);
  addStreamRoutes(app, { store: deps.store, feed: deps.feed });

  const packageView = (p: PackageRecord) => ({ ...p, createdAt: iso(p.createdAt)!, downloadPath: `/api/v1/artifacts/${p.sha256}` });

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/packages',
      summary: 'Publish a package: the tar.gz (with corral.yaml at its root) is the request body',
      request: { body: { content: { 'application/gzip': { schema: z.string().openapi({ format: 'binary' }) } }, required: true } },
      responses: {
        201: json(z.object({ packages: z.array(PackageSchema) }), 'one record per platform in the manifest'),
        400: errors[400],
        401: errors[401],
        409: json(ErrorBody, 'the same name+version+platform exists with different content'),
      },
    }),
    async (c) => {
      const body = c.req.raw.body;
      if (!body) throw new InvalidPackageError('empty upload: send the package tar.gz as the request body');
      const records = await deps.packages.push(Readable.fromWeb(body as unknown as WebReadableStream<Uint8Array>), { publisherSignature: c.req.header(PUBLISHER_SIGNATURE_HEADER), actor: actorOf(c) });
      return c.json({ packages: records.map(packageView) }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/packages',
      summary: 'List published packages (artifacts download from /api/v1/artifacts/{sha256}, with Range support)',
      request: { query: z.object({ name: z.string().max(64).optional() }) },
      responses: { 200: json(z.object({ packages: z.array(PackageSchema) }), 'packages'), 401: errors[401] },
    }),
    async (c) => c.json({ packages: (await deps.packages.list(c.req.valid('query').name)).map(packageView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/signing-key',
      summary: "The server's ed25519 public key; package signatures cover the artifact's sha256 digest",
      responses: {
        200: json(
          z.object({
            algorithm: z.literal('ed25519'),
            publicKeyPem: z.string(),
            fingerprint: z.string().openapi({ description: "SHA256: and the unpadded base64 of the sha256 of the key's DER SubjectPublicKeyInfo: what the one-line install pins" }),
          }),
          'the key',
        ),
        401: errors[401],
      },
    }),
    (c) => c.json({ algorithm: 'ed25519' as const, publicKeyPem: deps.packages.publicKeyPem, fingerprint: signingKeyFingerprint(deps.packages.publicKeyPem) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: INSTALL_AGENT_PATH,
      summary:
        'For the one-line install (GET /install.sh): the agent package for a host, as key=value lines (name, version, os, arch, sha256, size, signature, signing_key, fingerprint). Needs an enrollment token that could enroll an agent now; with it the script downloads /api/v1/artifacts/{sha256}',
      security: [{ bearer: [] }],
      request: {
        query: z.object({
          os: z.enum(['linux', 'darwin', 'windows', 'freebsd']),
          arch: z.enum(['amd64', 'arm64', 'arm32', 'x86']),
          name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/).optional().openapi({ description: `a kind: agent package (default ${INSTALL_AGENT_PACKAGE})` }),
        }),
      },
      responses: {
        200: { description: 'key=value lines', content: { 'text/plain': { schema: z.string() } } },
        400: errors[400],
        401: errors[401],
        404: json(ErrorBody, 'no agent package for that platform is published'),
      },
    }),
    async (c) => {
      const secret = bearerToken(c.req.header('authorization'));
      if (!secret || !(await installToken(deps.store, secret, Date.now()))) {
        return c.json({ error: { code: 'UNAUTHENTICATED', message: 'an enrollment token that can still enroll agents is required (active, not expired, not full)' } }, 401);
      }
      const { os, arch, name = INSTALL_AGENT_PACKAGE } = c.req.valid('query');
      const picked = pickInstallPackage(await deps.packages.list(name), name, os, arch);
      if (!picked) {
        return c.json({ error: { code: 'PACKAGE_NOT_FOUND', message: `no kind: agent package ${name} for ${os}/${arch} (or ${os}/any) is published: build one with npm run build:agent -- --arch ${arch}${name === 'corral-agent-sea' ? ' --sea' : ''} and corral package push it` } }, 404);
      }
      return c.text(installInfoText(picked, deps.packages.publicKeyPem), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: MANIFEST_SCHEMA_PATH,
      summary: 'The JSON Schema of corral.yaml, the package manifest (for editors; no token needed)',
      security: [],
      responses: { 200: json(z.record(z.string(), z.unknown()), 'a JSON Schema (draft 2020-12)') },
    }),
    (c) => c.json(manifestJsonSchema(), 200),
  );

  return app;
}
