/**
 * The REST shapes the console reads, named for the pages: aliases onto the
 * types generated from the server's OpenAPI document (npm run gen:api-types
 * writes src/protocol/gen/openapi.ts from src/server/api/), so a page cannot
 * read a field the server does not send. Types only: the console still
 * talks to the server over HTTP alone, and nothing here reaches the bundle.
 */
import type { components, paths } from '../../../src/protocol/gen/openapi';

type Schemas = components['schemas'];

/** The JSON body of a documented answer: `ApiJson<'/api/v1/agents/{id}/services', 'get'>`. */
export type ApiJson<P extends keyof paths, M extends 'get' | 'post' | 'put' | 'patch' | 'delete', S extends number = 200> = paths[P][M] extends {
  responses: { [K in S]: { content: { 'application/json': infer B } } };
}
  ? B
  : never;

export type Agent = Schemas['Agent'];
export type AgentStatus = Agent['status'];
export type AgentDetail = Schemas['AgentDetail'];
/** GET /api/v1/agents: one page (`total` and `nextCursor` say how many match and where the next page starts). */
export type AgentList = Schemas['AgentPage'];
export type Facets = Schemas['AgentFacets'];
/** GET /api/v1/agents/{id}/config-diff: what the server offers against what the agent runs, file by file. */
export type ConfigDiff = Schemas['ConfigDiff'];
/** GET /api/v1/agents/{id}/services: one of the agent's services now. */
export type Service = ApiJson<'/api/v1/agents/{id}/services', 'get'>['services'][number];
export type FleetEvent = Schemas['Event'];
export type Deployment = Schemas['Deployment'];
export type DeploymentStatus = Schemas['DeploymentStatus'];
export type Revision = Schemas['Revision'];
/** GET /api/v1/deployments/{name}/revisions. */
export type RevisionList = Schemas['RevisionList'];
/** POST /api/v1/deployments/{name}/rollback: the rollout that takes agents back. */
export type RollbackResult = Schemas['RollbackResult'];
export type RolloutSummary = Schemas['RolloutSummary'];
export type RolloutStatus = Schemas['RolloutStatus'];
export type StateCounts = RolloutStatus['stages'][number]['counts'];
export type Package = Schemas['Package'];
/** POST /api/v1/packages: one record per platform the manifest names. */
export type PublishedPackages = ApiJson<'/api/v1/packages', 'post', 201>;
export type Job = Schemas['Job'];
export type JobHost = Schemas['JobHost'];
/** GET /api/v1/jobs: one newest-first page. */
export type JobList = Schemas['JobPage'];
export type JobSummary = Schemas['JobSummary'];
export type AuditRecord = Schemas['AuditRecord'];
export type AuditVerify = Schemas['AuditVerify'];

type WhoAmI = ApiJson<'/api/v1/whoami', 'get'>;
/** A role on the agents a selector matches ('' = the whole fleet), as the server answers it. */
export type RoleBinding = WhoAmI['roles'][number];
/**
 * Who the session's token belongs to and what it may do (GET /api/v1/whoami).
 * Narrower than the answer on purpose: the ids and the token's own roles are
 * optional because the console stands in a built-in admin without them when
 * a server answers whoami with 404 (me.ts).
 */
export type Me = Omit<WhoAmI, 'id' | 'tokenId' | 'tokenRoles'> & Partial<Pick<WhoAmI, 'id' | 'tokenId' | 'tokenRoles'>>;

/** One of your API tokens (GET /api/v1/whoami/tokens): never its secret. */
export type ApiToken = Schemas['ApiToken'];
/** POST /api/v1/whoami/tokens: the token and, in this answer only, its secret. */
export type CreatedApiToken = Schemas['CreatedApiToken'];
/** DELETE /api/v1/whoami/tokens/{id}: the token and the ids of those created with it, revoked too. */
export type RevokedApiToken = Schemas['RevokedApiToken'];
