/**
 * The REST API's JSON as the CLI reads it: aliases onto the types generated
 * from the server's OpenAPI document (src/protocol/gen/openapi.ts; npm run
 * gen:api-types), so the CLI cannot drift from the server. Two deliberate
 * differences, both marked where they are:
 * - fields a server added after 0.1 are optional (`FromNewerServers`): a
 *   newer CLI may talk to an older server, and prints those as absent;
 * - one answer type covers the list, create and revoke answers of a token
 *   (the secret and the revoked ids only in the answers that carry them).
 */
import type { RestApiComponents, RestApiPaths } from '../protocol/index.js';

type Schemas = RestApiComponents['schemas'];

/** `T` with the fields `K` optional: servers before they were added do not send them. */
type FromNewerServers<T, K extends keyof T> = Omit<T, K> & Partial<Pick<T, K>>;

export type ApiAgent = FromNewerServers<Schemas['Agent'], 'boundLabels' | 'claimedLabels' | 'approval' | 'enrollmentTokenId' | 'agentPackage'>;

/**
 * An agent's health tree. Narrower than the document, which says only that
 * `components` hold objects "shaped like this one" (zod describes no recursive
 * schema): this says it for TypeScript.
 */
export type ApiHealthTree = Omit<NonNullable<Schemas['HealthTree']>, 'components'> & { components: Record<string, ApiHealthTree> };

export type ApiAgentDetail = ApiAgent & Omit<Schemas['AgentDetail'], keyof Schemas['Agent'] | 'healthTree'> & { healthTree: ApiHealthTree | null };

/** An enrollment token; `token` (the secret) only in the answer that created it. */
export type ApiToken = FromNewerServers<Schemas['EnrollmentToken'], 'labels' | 'expiresAt' | 'maxAgents' | 'enrolledAgents' | 'requireApproval'> &
  Partial<Pick<Schemas['CreatedEnrollmentToken'], 'token'>>;

/** A config; a secret file's body is "***", with the sha256 of its content. */
export type ApiConfig = Schemas['Config'];
export type ApiConfigStatus = Schemas['ConfigStatus'];
export type ApiEvent = Schemas['Event'];

export type ApiUser = Schemas['User'];
/** A role on the agents a selector matches ('' = the whole fleet), as answers carry it (and requests send it). */
export type ApiRoleBinding = ApiUser['roles'][number];

/** An API token: `token` only in the answer that created it, `alsoRevoked` only in the one that revoked it. */
export type ApiUserToken = FromNewerServers<Schemas['ApiToken'], 'roles'> &
  Partial<Pick<Schemas['CreatedApiToken'], 'token'>> &
  Partial<Pick<Schemas['RevokedApiToken'], 'alsoRevoked'>>;

/** GET /api/v1/whoami. */
export type ApiWhoami = FromNewerServers<
  RestApiPaths['/api/v1/whoami']['get']['responses'][200]['content']['application/json'],
  'tokenRoles'
>;
