/**
 * The REST shapes the console reads, as the server's OpenAPI document
 * (/api/v1/openapi.json, from src/server/api/schemas.ts) defines them.
 * Only the fields the console uses; optional ones are newer API additions
 * the console copes without.
 */
export type AgentStatus = 'online' | 'offline' | 'revoked';

export interface Agent {
  id: string;
  name: string;
  kind: 'corral' | 'opamp';
  status: AgentStatus;
  labels: Record<string, string>;
  operatorLabels: Record<string, string>;
  boundLabels: Record<string, string>;
  claimedLabels: Record<string, string>;
  approval: 'approved' | 'pending';
  identifyingAttributes: Record<string, string>;
  nonIdentifyingAttributes: Record<string, string>;
  os: string;
  arch: string;
  agentVersion: string;
  firstSeenAt: string;
  lastSeenAt: string;
  health: { healthy: boolean; status: string; lastError: string } | null;
  config: { desiredHash: string | null; reportedHash: string | null; status: string; errorMessage: string };
}

export interface AgentDetail extends Agent {
  effectiveConfig: { files: Record<string, { contentType: string; body: string }> } | null;
}

export interface AgentList {
  agents: Agent[];
  warnings: string[];
  /** Present when the server pages (`limit`): all matching agents, and where the next page starts. */
  total?: number;
  nextCursor?: string | null;
}

export interface Facets {
  total: number;
  byStatus: Record<string, number>;
  labels: Record<string, Record<string, number>>;
  os: Record<string, number>;
  arch: Record<string, number>;
  version: Record<string, number>;
}

export interface Service {
  name: string;
  version: string;
  state: string;
  healthy: boolean;
  pid: number | null;
  uptimeSeconds: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: number } | null;
  configHash: string;
  cpuPercent: number | null;
  rssBytes: number | null;
}

export interface FleetEvent {
  id: number;
  at: string;
  type: string;
  agentId: string | null;
  data: Record<string, unknown>;
}

export interface Deployment {
  name: string;
  package: string;
  version: string;
  selector: string;
  values: Record<string, string>;
  desiredState: 'running' | 'stopped';
  revision: number;
  stableRevision: number | null;
  policy: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
}

export interface DeploymentStatus {
  deployment: Deployment;
  rollout: { id: string; kind: string; state: string; reason: string; toRevision: number } | null;
  agents: { id: string; name: string; agentStatus: string; revision: number | null; config: string; service: { healthy: boolean; status: string; lastError: string } | null }[];
}

export interface Revision {
  revision: number;
  package: string;
  version: string;
  values: Record<string, string>;
  createdAt?: string;
  createdBy?: string;
  [k: string]: unknown;
}

export interface RolloutSummary {
  id: string;
  deployment: string;
  kind: 'rollout' | 'rollback';
  state: string;
  reason: string;
  fromRevision: number | null;
  toRevision: number;
  stage: number;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
}

export interface StateCounts {
  pending: number;
  updating: number;
  healthy: number;
  failed: number;
  offline: number;
}

export interface RolloutStatus {
  id: string;
  deployment: string;
  kind: 'rollout' | 'rollback';
  state: string;
  reason: string;
  from: { revision: number; package: string; version: string; values: Record<string, string> } | null;
  to: { revision: number; package: string; version: string; values: Record<string, string> } | null;
  stage: { index: number; name: string; startedAt: string | null };
  promoted: boolean;
  stages: { index: number; name: string; counts: StateCounts; total: number }[];
  totals: StateCounts & { total: number };
  errorBudget: { budget: number; failed: number; forgiven: number; left: number };
  policy: Record<string, unknown>;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  /** Present when asked for with ?agents=true. */
  agents?: { id: string; name: string; stage: number; state: string; reason: string; startedAt: string | null; finishedAt: string | null }[];
}

export interface Package {
  name: string;
  version: string;
  os: string;
  arch: string;
  sha256: string;
  size: number;
  signature: string;
  publisherSignature?: string | null;
  manifest: Record<string, unknown>;
  createdAt: string;
  downloadPath: string;
}

export interface JobHost {
  agentId: string;
  agentName: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'skipped';
  exitCode: number | null;
  signal: string | null;
  output: string;
  truncated: boolean;
  /** Newer servers: killed at the timeout (status is then failed). */
  timedOut?: boolean;
  error: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface Job {
  id: string;
  status: 'running' | 'succeeded' | 'failed' | 'stopped';
  spec: Record<string, unknown>;
  createdBy?: string;
  createdAt: string;
  finishedAt: string | null;
  hosts: JobHost[];
}

/** GET /api/v1/jobs: one newest-first page. */
export interface JobSummary {
  id: string;
  status: Job['status'];
  command: string[];
  selector: string;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
  hosts: { total: number; ok: number; failed: number; timedOut: number; skipped: number; running: number; pending: number };
}

export interface JobList {
  jobs: JobSummary[];
  total: number;
  nextCursor: string | null;
}

/** A role on the agents a selector matches ('' = the whole fleet). */
export interface RoleBinding {
  role: string;
  selector: string;
}

/** Who the session's token belongs to and what it may do (GET /api/v1/whoami; the built-in admin before users exist). */
export interface Me {
  /** The user's id and the id of the token in use; absent from a server without whoami. */
  id?: string;
  tokenId?: string;
  name: string;
  /** What requests with this token may do now: the user's role bindings, or for a narrowed token its own within the user's. */
  roles: RoleBinding[];
  /** The token's own role bindings; null (or absent, on an older server): it acts with all of the user's roles. */
  tokenRoles?: RoleBinding[] | null;
}

/** One of your API tokens (GET /api/v1/whoami/tokens): never its secret. */
export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** The token this one was created with (revoking that one revokes this one); null: made by an admin. */
  parentId: string | null;
  /** The token's own role bindings (it acts with those within its user's roles); null (or absent, on an older server): with all of its user's roles. */
  roles?: RoleBinding[] | null;
}

/** POST /api/v1/whoami/tokens: the token and, in this answer only, its secret. */
export interface CreatedApiToken extends ApiToken {
  token: string;
}

/** DELETE /api/v1/whoami/tokens/{id}: the token and the ids of those created with it, revoked too. */
export interface RevokedApiToken extends ApiToken {
  alsoRevoked: string[];
}
