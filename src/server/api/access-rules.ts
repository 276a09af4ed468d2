/**
 * Who may do what: for EVERY REST route and SSE stream, the least role it
 * needs and what a scoped binding (`operator on env=staging`) is checked
 * against. Deny by default: a route without a rule here is refused (403)
 * for everyone, and the route × role test fails.
 *
 * Roles (each includes the ones before it):
 * - viewer: reads (agents, deployments, configs, rollouts, jobs, events, packages, logs).
 * - operator: changes desired state and rolls it out: deploy/undeploy,
 *   start/stop/restart, configs, labels, rollout pause/resume/promote/abort/rollback.
 * - admin: what reaches beyond desired state or decides trust: exec (jobs),
 *   package push, enrollment tokens, approving/rejecting new agents, agent
 *   revocation and deletion, credential rotation, users and their tokens.
 * - authenticated: any user with a valid token, even without roles: whoami,
 *   and their own API tokens (never another user's).
 *
 * Targets (what a SCOPED binding must cover; a binding on the whole fleet covers all):
 * - anywhere: nothing to check (fleet-wide, read-only things such as packages).
 * - fleet: only a binding on the whole fleet will do (users, enrollment tokens, package push).
 * - agent: the agent `{id}` must match the scope now.
 * - agent-labels: the agent must match the scope, and the patch must not touch
 *   a label key the scope's selector uses (else it could move agents into or out of it).
 * - deployment / config: the stored selector of `{name}` must be within the scope.
 * - deployment-put: the body's selector, and the stored one of a deployment it replaces.
 * - config-put: the body's selector, and the stored one of the config it replaces.
 * - rollout: the selector of the rollout's deployment.
 * - job: the selector the job `{id}` ran on.
 * - body-selector: the body's `selector`.
 * - list-*: anyone with the role may list; a scoped reader sees only what
 *   its scopes cover (agents matching, deployments/configs/rollouts within,
 *   events of those agents, deployments and configs; jobs whose selector is within,
 *   as for `job`). For list-agents the route applies the scopes in its store
 *   query, so a page, its total and the facet counts all stay inside them.
 * "Within" is the implication rule in scope.ts.
 */
import type { Role } from '../auth/actor.js';

export type Target =
  | 'anywhere'
  | 'fleet'
  | 'agent'
  | 'agent-labels'
  | 'deployment'
  | 'deployment-put'
  | 'config'
  | 'config-put'
  | 'rollout'
  | 'job'
  | 'body-selector'
  | 'list-agents'
  | 'list-deployments'
  | 'list-configs'
  | 'list-rollouts'
  | 'list-events'
  | 'list-jobs';

export interface AccessRule {
  /** The least role; 'authenticated': any user with a valid token, even without roles. */
  role: Role | 'authenticated';
  target: Target;
}

/** Answered without a user: documents, and the one-line install's agent lookup (which checks its enrollment token itself). */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set(['GET /api/v1/openapi.json', 'GET /api/v1/manifest.schema.json', 'GET /api/v1/install/agent']);

/** Server-Sent Event streams: plain Hono routes, not in openapi.json (the route × role test lists them from here). */
export const STREAM_ROUTES: readonly string[] = [
  'GET /api/v1/agents/{id}/services/{service}/logs/follow',
  'GET /api/v1/jobs/{id}/events',
  'GET /api/v1/rollouts/{ref}/watch',
  'GET /api/v1/stream',
  'GET /api/v1/audit/follow',
];

/** Artifact downloads: served before the REST API (artifact-download.ts), by the same rule. */
export const ARTIFACT_ROUTE = 'GET /api/v1/artifacts/{sha256}';

const viewer = (target: Target): AccessRule => ({ role: 'viewer', target });
const operator = (target: Target): AccessRule => ({ role: 'operator', target });
const admin = (target: Target): AccessRule => ({ role: 'admin', target });

/** Keyed `METHOD /path/{param}` as in openapi.json. */
export const ACCESS_RULES: Readonly<Record<string, AccessRule>> = {
  'GET /api/v1/whoami': { role: 'authenticated', target: 'anywhere' },
  // A user's own tokens: only ever the caller's (the user comes from the token), bounded by it (user-service.ts).
  'GET /api/v1/whoami/tokens': { role: 'authenticated', target: 'anywhere' },
  'POST /api/v1/whoami/tokens': { role: 'authenticated', target: 'anywhere' },
  'DELETE /api/v1/whoami/tokens/{id}': { role: 'authenticated', target: 'anywhere' },

  'GET /api/v1/agents': viewer('list-agents'),
  // Counts and the live stream cover the whole fleet: not (yet) cut down to a scope, so only for fleet-wide readers.
  'GET /api/v1/agents/facets': viewer('list-agents'),
  'GET /api/v1/stream': viewer('fleet'),
  'GET /api/v1/agents/{id}/config-diff': viewer('agent'),
  'GET /api/v1/agents/{id}': viewer('agent'),
  'GET /api/v1/agents/{id}/services': viewer('agent'),
  'GET /api/v1/agents/{id}/samples': viewer('agent'),
  'GET /api/v1/agents/{id}/services/{service}/logs': viewer('agent'),
  'GET /api/v1/agents/{id}/services/{service}/logs/follow': viewer('agent'),
  'PATCH /api/v1/agents/{id}': operator('agent-labels'),
  'DELETE /api/v1/agents/{id}': admin('agent'),
  'DELETE /api/v1/agents/{id}/records': admin('agent'),
  'POST /api/v1/agents/{id}/approve': admin('agent'),
  'POST /api/v1/agents/{id}/reject': admin('agent'),
  'POST /api/v1/agents/rotate-credentials': admin('body-selector'),

  'GET /api/v1/enrollment-tokens': viewer('fleet'),
  'POST /api/v1/enrollment-tokens': admin('fleet'),
  'DELETE /api/v1/enrollment-tokens/{id}': admin('fleet'),

  'GET /api/v1/configs': viewer('list-configs'),
  'GET /api/v1/configs/{name}': viewer('config'),
  'GET /api/v1/configs/{name}/status': viewer('config'),
  'PUT /api/v1/configs/{name}': operator('config-put'),
  'DELETE /api/v1/configs/{name}': operator('config'),

  'GET /api/v1/events': viewer('list-events'),

  'GET /api/v1/deployments': viewer('list-deployments'),
  'GET /api/v1/deployments/{name}': viewer('deployment'),
  'GET /api/v1/deployments/{name}/status': viewer('deployment'),
  'POST /api/v1/deployments': operator('deployment-put'),
  'POST /api/v1/deployments/{name}/start': operator('deployment'),
  'POST /api/v1/deployments/{name}/stop': operator('deployment'),
  'POST /api/v1/deployments/{name}/restart': operator('deployment'),
  'DELETE /api/v1/deployments/{name}': operator('deployment'),
  'GET /api/v1/deployments/{name}/revisions': viewer('deployment'),
  'GET /api/v1/deployments/{name}/revisions/{rev}': viewer('deployment'),
  'POST /api/v1/deployments/{name}/rollback': operator('deployment'),

  'GET /api/v1/rollouts': viewer('list-rollouts'),
  'GET /api/v1/rollouts/{ref}': viewer('rollout'),
  'GET /api/v1/rollouts/{ref}/watch': viewer('rollout'),
  'POST /api/v1/rollouts/{ref}/pause': operator('rollout'),
  'POST /api/v1/rollouts/{ref}/resume': operator('rollout'),
  'POST /api/v1/rollouts/{ref}/promote': operator('rollout'),
  'POST /api/v1/rollouts/{ref}/abort': operator('rollout'),
  'POST /api/v1/rollouts/{ref}/rollback': operator('rollout'),

  'POST /api/v1/jobs': admin('body-selector'),
  'GET /api/v1/jobs': viewer('list-jobs'),
  'GET /api/v1/jobs/{id}': viewer('job'),
  'GET /api/v1/jobs/{id}/events': viewer('job'),

  'GET /api/v1/packages': viewer('anywhere'),
  'POST /api/v1/packages': admin('fleet'),
  'GET /api/v1/signing-key': viewer('anywhere'),
  [ARTIFACT_ROUTE]: viewer('anywhere'),

  'GET /api/v1/users': admin('fleet'),
  'POST /api/v1/users': admin('fleet'),
  'GET /api/v1/users/{name}': admin('fleet'),
  'PATCH /api/v1/users/{name}': admin('fleet'),
  'DELETE /api/v1/users/{name}': admin('fleet'),
  'GET /api/v1/users/{name}/tokens': admin('fleet'),
  'POST /api/v1/users/{name}/tokens': admin('fleet'),
  'DELETE /api/v1/users/{name}/tokens/{id}': admin('fleet'),

  'GET /api/v1/audit': admin('fleet'),
  'GET /api/v1/audit/verify': admin('fleet'),
  'GET /api/v1/audit/follow': admin('fleet'),
};

/** `GET /api/v1/agents/{id}` from a Hono route (`/api/v1/agents/:id`, also `:id{regex}`). */
export function routeKey(method: string, honoPath: string): string {
  return `${method.toUpperCase()} ${honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}')}`;
}
