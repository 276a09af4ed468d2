/**
 * The Store: everything the server knows that must outlive a process.
 *
 * Two implementations (SQLite via better-sqlite3, PostgreSQL via pg, both
 * through Kysely) pass one shared contract suite (`contract.test.ts`). Only
 * live connections live in server memory; everything else is here, so several
 * server replicas can share one PostgreSQL.
 *
 * Conventions:
 * - Times are milliseconds since the epoch (`...At`, `...Ms`).
 * - Agent ids are the canonical UUID string of the OpAMP instance uid.
 * - Database errors are translated to the domain errors in `errors.ts`;
 *   nothing returns driver errors to callers.
 * - JSON-ish fields are stored as text and returned parsed.
 */

import type { AuditStore } from './audit-records.js';
import type { RoleBinding } from '../auth/actor.js';
import type { JobHostRecord, JobListPage, JobListQuery, JobRecord, JobStatus } from './job-records.js';
import type { TokenStore } from './token-records.js';
import type { DeploymentRecord, RolloutStore } from './rollout-records.js';
import type { AgentApproval, AgentFacetBounds, AgentFacets, AgentFilter, AgentPage, AgentPageQuery, AgentRecord, AgentReportPatch, AgentTouch, EnrollmentOutcome, ForgottenAgent } from './agent-records.js';

/** Agents as the store keeps them, and the agent list's query types (agent-records.ts). */
export type * from './agent-records.js';
export { AGENT_LIST_STATUSES, AGENT_SORT_KEYS, SEARCH_SEPARATOR } from './agent-records.js';
/** Deployments, revisions and rollouts (rollout-records.ts). */
export type * from './rollout-records.js';

/**
 * admin: the first-start admin token (`corral server rotate-admin-token`),
 * which belongs to the built-in user `admin`; user: a user's API token
 * (`corral user token create`); enrollment: what new agents enroll with.
 */
export type TokenKind = 'admin' | 'enrollment' | 'user';

export interface TokenRecord {
  id: string;
  kind: TokenKind;
  name: string;
  /** sha256 hex of the secret; the secret itself is never stored. */
  hash: string;
  /** First characters of the secret, shown to tell tokens apart. */
  prefix: string;
  createdAt: number;
  revokedAt: number | null;
  /** Enrollment tokens only: labels bound to every agent enrolled with it (trusted labels); {} for none. */
  labels: Record<string, string>;
  /** Enrollment tokens only: no new enrollments from this time on; null for never. */
  expiresAt: number | null;
  /** Enrollment tokens only: at most this many agents enroll with it; null for no cap. */
  maxAgents: number | null;
  /** Agents enrolled with it so far (counted at enrollment; never goes down). */
  enrolledAgents: number;
  /** Enrollment tokens only: agents enrolled with it wait as `pending` until an operator approves them. */
  requireApproval: boolean;
  /** API tokens (admin, user): the user it acts as; null for enrollment tokens. */
  userId: string | null;
  /**
   * User tokens created by their user with another of their tokens
   * (`POST /api/v1/whoami/tokens`): that token. Revoking a token revokes
   * the tokens created with it, and theirs. Null otherwise.
   */
  parentId: string | null;
  /**
   * API tokens narrowed to their own role bindings (each within its user's
   * when created); a request with it acts with the intersection of these and
   * the user's roles at that time (users/token-roles.ts). Null: acts with all
   * of its user's roles. Never changes after creation.
   */
  roles: RoleBinding[] | null;
}

/** What `createToken` takes: the scope fields default to none (no labels, no expiry, no cap, no approval). */
export type NewTokenRecord = Omit<TokenRecord, 'labels' | 'expiresAt' | 'maxAgents' | 'enrolledAgents' | 'requireApproval' | 'userId' | 'parentId' | 'roles'> &
  Partial<Pick<TokenRecord, 'labels' | 'expiresAt' | 'maxAgents' | 'requireApproval' | 'userId' | 'parentId' | 'roles'>>;

/** Bounds `UserStore.createToken` checks in its transaction. */
export interface TokenLimits {
  maxActive: number;
  /** Tokens with a parent (self-service) created in any 24 hours; unbounded when absent. */
  maxWithParentPerDay?: number;
}

/** A person or a program that calls the REST API with its own tokens. */
export interface UserRecord {
  /** A UUID; the built-in admin's is `admin` (BUILTIN_ADMIN). */
  id: string;
  /** Unique; what events, rollouts and the audit log record. */
  name: string;
  createdAt: number;
  /** Set while the user is disabled: its tokens are refused until it is enabled again. */
  disabledAt: number | null;
  /** What the user may do, where (several grants add up). */
  roles: RoleBinding[];
}

/**
 * Users and their role bindings. API tokens live with the other tokens
 * (`Store.createToken` with kind 'user' and `userId`).
 */
export interface UserStore {
  /** Creates a user with its roles. Throws UserExistsError (changing nothing) when the name is taken. */
  create(user: UserRecord): Promise<UserRecord>;
  get(id: string): Promise<UserRecord | null>;
  findByName(name: string): Promise<UserRecord | null>;
  /** Oldest first. */
  list(): Promise<UserRecord[]>;
  /**
   * Disables (`disabledAt` a time) or enables (null) a user. With
   * `keepAdmin`, throws LastAdminError and changes nothing when no enabled
   * user would be left holding admin on the whole fleet. Throws UserNotFoundError.
   */
  setDisabled(id: string, disabledAt: number | null, opts: { keepAdmin: boolean }): Promise<UserRecord>;
  /** Replaces a user's roles; `keepAdmin` as for setDisabled. Throws UserNotFoundError. */
  setRoles(id: string, roles: RoleBinding[], opts: { keepAdmin: boolean }): Promise<UserRecord>;
  /**
   * Deletes a user and its roles and revokes its tokens (at `at`), in one
   * transaction; `keepAdmin` as for setDisabled. Throws UserNotFoundError.
   */
  delete(id: string, at: number, opts: { keepAdmin: boolean }): Promise<UserRecord>;
  /**
   * Every API token of the user (revoked ones too), oldest first: unbounded,
   * for tests and tools; the API pages with `Store.tokens.query`.
   */
  listTokens(userId: string): Promise<TokenRecord[]>;
  /** The user's API token `id` (revoked or expired too), or null when the user has none such. */
  getToken(userId: string, id: string): Promise<TokenRecord | null>;
  /**
   * Creates an API token for `token.userId` in one transaction (the user's
   * row locked on PostgreSQL, so racing creates cannot pass a bound
   * together, nor a create slip past a revocation of its parent). Refuses,
   * creating nothing, with UserNotFoundError when the user is gone;
   * TokenLimitError when the user already has `limits.maxActive` tokens
   * neither revoked nor expired at `token.createdAt`; RateLimitedError
   * when `limits.maxWithParentPerDay` tokens with a parent were created in
   * the 24 hours before. With `token.parentId`, a CorralError
   * UNAUTHENTICATED when that token is not this user's, is revoked or
   * expired, or the user is disabled.
   */
  createToken(token: NewTokenRecord & { userId: string }, limits: TokenLimits): Promise<TokenRecord>;
  /**
   * Revokes the user's token `id` at `at`, and in the same transaction
   * every token created with it, and with those, down the tree. Returns the
   * token and the ones this call revoked with it. Reads only that tree (in
   * one recursive query), not every token of the user. Throws TokenNotFoundError
   * when the user has no token `id`. Revoking twice is fine.
   */
  revokeToken(userId: string, id: string, at: number): Promise<{ token: TokenRecord; alsoRevoked: TokenRecord[] }>;
  /** Finds a token by hash, revoked or not (to tell its holder why it is refused). */
  findTokenByHash(hash: string): Promise<TokenRecord | null>;
}

export interface ConfigFile {
  contentType: string;
  /** UTF-8 text body; for a secret file as stored, the sealed body (see server/secrets). */
  body: string;
  /** A secret file: stored sealed, masked in every answer, opened only for the agents it is offered to. */
  secret?: boolean;
  /** Secret files as stored: sha256 hex of the content, shown instead of it. */
  sha256?: string;
}

export interface ConfigRecord {
  name: string;
  selector: string;
  files: Record<string, ConfigFile>;
  /** sha256 hex over the files; changes only when content changes. */
  hash: string;
  createdAt: number;
  updatedAt: number;
}

export interface EventRecord {
  id: number;
  at: number;
  type: string;
  agentId: string | null;
  data: Record<string, unknown>;
}

export type NewEvent = Omit<EventRecord, 'id'>;

export interface EventQuery {
  /** Only events with id greater than this. */
  afterId?: number;
  agentId?: string;
  type?: string;
  /** Only events with id up to this (with `afterId`: a window of ids). */
  upToId?: number;
  /** Only events whose type starts with this (`rollout.` for every rollout event). */
  typePrefix?: string;
  /** Only events at or after this time (ms). */
  since?: number;
  /** Only events before this time (ms). */
  until?: number;
  /**
   * Default 100, at most 1000. Newest last. Without `afterId` the newest `limit` events: by id, or with
   * `since`/`until` by time (at, then id), which an index serves wherever the window lies.
   */
  limit?: number;
}

/** One published package artifact for one platform. */
export interface PackageRecord {
  name: string;
  version: string;
  os: string;
  /** 'any' when the artifact runs on every architecture of its os. */
  arch: string;
  /** sha256 hex of the tar.gz; the artifact's file name in the artifact store. */
  sha256: string;
  size: number;
  /** ed25519 signature (hex) of the sha256 digest, by the server's key. */
  signature: string;
  /** The validated manifest, as JSON. */
  manifest: Record<string, unknown>;
  createdAt: number;
  /**
   * The publisher's own ed25519 signature (hex) of the sha256 digest
   * (`corral package sign`), or null/absent. Agents that pin publisher keys
   * require it. Pushing the same bytes again with a signature sets it.
   */
  publisherSignature?: string | null;
}

/** An agent's credential rotation: requested (waiting to be offered) and/or a previous credential in its grace window. */
export interface CredentialRotationRecord {
  agentId: string;
  requestedAt: number | null;
  /** sha256 hex of the credential the agent had before the newest offer; accepted until previousExpiresAt. */
  previousHash: string | null;
  previousExpiresAt: number | null;
}

/**
 * Credential rotation (OpAMP connection settings offers): the server offers
 * a new credential, accepts the previous one for a grace window, and drops it
 * once the agent authenticates with the new one.
 */
export interface CredentialStore {
  /** Marks agents (not revoked) to be offered a new credential; returns how many were marked. */
  requestRotation(agentIds: string[], at: number): Promise<number>;
  /** Agent ids with a rotation requested and not yet offered. */
  listRequestedRotations(): Promise<string[]>;
  getRotation(agentId: string): Promise<CredentialRotationRecord | null>;
  /**
   * Makes `newHash` the agent's credential and clears the request, in one
   * transaction. The credential it replaces stays accepted until
   * `previousUntil` — unless `keepPrevious`, for an agent that authenticated
   * with the previous credential (it never took the newer one): that one
   * then stays the previous, with its expiry unchanged. With
   * `onlyIfRequested`, does nothing and returns false unless a rotation is
   * requested (so two replicas never rotate for one request).
   */
  rotateCredential(agentId: string, newHash: string, opts: { keepPrevious: boolean; previousUntil: number; onlyIfRequested?: boolean }): Promise<boolean>;
  /** The agent authenticated with its current credential: the previous one stops working now. */
  confirmCredential(agentId: string): Promise<void>;
  /** The agent (not revoked) whose previous credential this is, while its grace window lasts. */
  findAgentByPreviousCredentialHash(hash: string, now: number): Promise<string | null>;
}


export type { DeletedToken, TokenPage, TokenPageQuery, TokenState, TokenStore } from './token-records.js';
export type { JobHostCounts, JobHostRecord, JobHostStatus, JobListPage, JobListQuery, JobRecord, JobSpec, JobStatus } from './job-records.js';

/** Turns one sealed secret into another (opens with the old key, seals with the new). */
export interface SecretResealer {
  deploymentValue(deployment: string, key: string, sealed: string): string;
  configFile(config: string, file: string, sealed: string): string;
}

export interface Store {
  /** Which backend this is, for logs and /healthz. */
  readonly kind: 'sqlite' | 'postgres';

  /** Creates or upgrades the schema. Safe to call on every start, and from several replicas at once. */
  migrate(): Promise<void>;
  /** Flushes and closes connections. Calls after close reject. */
  close(): Promise<void>;

  createToken(token: NewTokenRecord): Promise<void>;
  /** Finds a token that is not revoked by its hash (it may have expired: callers check `expiresAt`). */
  findActiveTokenByHash(hash: string): Promise<TokenRecord | null>;
  listTokens(kind?: TokenKind): Promise<TokenRecord[]>;
  /** Marks a token revoked. Throws TokenNotFoundError if no such token. Revoking twice is fine. */
  revokeToken(id: string, at: number): Promise<TokenRecord>;

  getAgent(id: string): Promise<AgentRecord | null>;
  /**
   * Creates agent `id` as enrolled with enrollment token `tokenId`: binds the
   * token's labels, records the token, sets `approval` (pending when the token
   * or `requireApproval` asks for it), and counts it against the token's
   * `maxAgents`, all in one transaction, so concurrent enrollments (also on
   * other replicas) never exceed the cap. Creates nothing and returns 'exists'
   * when the agent already exists; 'token-exhausted' / 'token-expired' /
   * 'token-revoked' when the token cannot enroll another agent at `at`.
   */
  enrollAgent(e: { id: string; tokenId: string; at: number; requireApproval: boolean }): Promise<EnrollmentOutcome>;
  /** Sets an agent's approval. Throws AgentNotFoundError. */
  setAgentApproval(id: string, approval: AgentApproval): Promise<AgentRecord>;
  findAgentByCredentialHash(hash: string): Promise<AgentRecord | null>;
  listAgents(): Promise<AgentRecord[]>;
  /**
   * One page of the agents matching a filter, in (sort key, id) order, and
   * how many match in all, without reading the others (agent-query.ts).
   */
  queryAgents(query: AgentPageQuery): Promise<AgentPage>;
  /** Counts of the agents matching a filter by status, OS, arch, version and label (bounded). */
  agentFacets(filter: AgentFilter, bounds: AgentFacetBounds): Promise<AgentFacets>;
  /**
   * Inserts agents as they are, in batches (benchmarks, tests and imports).
   * Throws StoreError if any id exists; a failed batch inserts nothing of it.
   */
  insertAgents(agents: readonly AgentRecord[]): Promise<void>;
  /**
   * Creates the agent if new (status online, given time as first/last seen),
   * otherwise applies the patch. Returns the record after the change.
   * Throws AgentRevokedError for a revoked agent and changes nothing.
   */
  upsertAgentReport(id: string, patch: AgentReportPatch, at: number): Promise<AgentRecord>;
  /**
   * Applies many reports to existing agents in one transaction (the hub
   * batches status reports this way). Unknown and revoked agents are skipped.
   */
  applyAgentReports(reports: { id: string; patch: AgentReportPatch; at: number }[]): Promise<void>;
  setAgentCredential(id: string, credentialHash: string): Promise<void>;
  /**
   * Sets an agent's first credential (enrollment): only while it has none and
   * is not revoked, atomically. Returns false, changing nothing, for an agent
   * that is already enrolled, revoked or unknown.
   */
  claimAgentCredential(id: string, credentialHash: string): Promise<boolean>;
  /** Replaces operator labels. Throws AgentNotFoundError. */
  setAgentLabels(id: string, labels: Record<string, string>): Promise<AgentRecord>;
  /**
   * Sets online/offline. Returns true if the status changed (so the caller
   * records one event per change). Never changes a revoked agent; returns false.
   */
  setAgentStatus(id: string, status: 'online' | 'offline', at: number): Promise<boolean>;
  /**
   * Batched heartbeat bookkeeping; unknown ids are ignored. Returns the ids
   * among `touches` whose status is offline: another replica (or a late
   * close) marked them offline while this one still talks to them.
   */
  touchAgents(touches: AgentTouch[]): Promise<string[]>;
  /** Marks online agents last seen before `before` offline; returns their ids. */
  markStaleAgentsOffline(before: number): Promise<string[]>;
  /** Revokes: status revoked, credential cleared. Throws AgentNotFoundError. */
  revokeAgent(id: string, at: number): Promise<AgentRecord>;
  /**
   * Deletes a revoked agent's records in one transaction: the agent, its
   * events and its per-deployment revisions (job results and rollout
   * history keep their copy of its name). Returns the deleted record and how
   * many events went with it. Throws AgentNotFoundError, or
   * AgentNotRevokedError (changing nothing) for an agent that is not revoked.
   */
  deleteAgent(id: string): Promise<{ agent: AgentRecord; events: number }>;
  /**
   * Forgets long-offline agents: deletes up to `limit` (at most
   * MAX_FORGET_BATCH) agents whose status is offline and that were last seen
   * before `before`, oldest first, with the same rows deleteAgent removes,
   * in one transaction. An agent online again, or seen since, is kept even
   * if it was offline when the call began; concurrent callers (replicas)
   * never both return one agent. Revoked agents are never forgotten.
   * Returns the agents deleted and how many events went with them.
   */
  forgetOfflineAgents(before: number, limit: number): Promise<{ agents: ForgottenAgent[]; events: number }>;

  putConfig(config: Omit<ConfigRecord, 'createdAt'>): Promise<ConfigRecord>;
  getConfig(name: string): Promise<ConfigRecord | null>;
  listConfigs(): Promise<ConfigRecord[]>;
  /** Throws ConfigNotFoundError. */
  deleteConfig(name: string): Promise<void>;

  appendEvents(events: NewEvent[]): Promise<void>;
  listEvents(query: EventQuery): Promise<EventRecord[]>;
  /** The ids of events after `afterId`, ascending, at most `limit` (the live stream's poll: event-feed.ts). */
  listEventIds(afterId: number, limit: number): Promise<number[]>;

  /**
   * Records a package artifact. The same name+version+platform with the same
   * sha256 returns the existing record; with a different sha256 it throws
   * PackageConflictError and changes nothing.
   */
  putPackage(pkg: PackageRecord): Promise<PackageRecord>;
  /**
   * Stores an artifact's bytes (in order, in chunks), replacing any stored
   * under the same sha256. The caller has checked the hash.
   */
  putArtifactContent(sha256: string, chunks: AsyncIterable<Buffer>): Promise<void>;
  /** The stored bytes of an artifact, a chunk at a time (empty when none are stored). */
  readArtifactContent(sha256: string): AsyncIterable<Buffer>;
  hasArtifactContent(sha256: string): Promise<boolean>;
  deleteArtifactContent(sha256: string): Promise<void>;
  listPackages(name?: string): Promise<PackageRecord[]>;
  findPackagesBySha256(sha256: string): Promise<PackageRecord[]>;

  /** Creates or replaces a deployment (createdAt kept on replace). */
  putDeployment(d: Omit<DeploymentRecord, 'createdAt'>): Promise<DeploymentRecord>;
  getDeployment(name: string): Promise<DeploymentRecord | null>;
  listDeployments(): Promise<DeploymentRecord[]>;
  /** Throws DeploymentNotFoundError. Its revisions, rollouts and agent revisions go with it. */
  deleteDeployment(name: string): Promise<void>;
  readonly rollouts: RolloutStore;
  readonly credentials: CredentialStore;
  /** The audit log's hash chain (audit-records.ts). */
  readonly audit: AuditStore;
  readonly users: UserStore;
  /** Token pages and the retention of dead tokens (token-records.ts). */
  readonly tokens: TokenStore;

  createJob(job: JobRecord, hosts: JobHostRecord[]): Promise<void>;
  /** Sets a job's status (and finish time). */
  finishJob(id: string, status: JobStatus, at: number): Promise<void>;
  putJobHost(host: JobHostRecord): Promise<void>;
  getJob(id: string): Promise<{ job: JobRecord; hosts: JobHostRecord[] } | null>;
  /** One page of jobs, newest first, with host counts by outcome (job-query.ts). */
  queryJobs(query: JobListQuery): Promise<JobListPage>;
  /** Every distinct selector jobs ran on (to cut the list down to a scope). */
  listJobSelectors(): Promise<string[]>;

  /**
   * Key rotation: replaces every sealed secret (deployment values, their
   * revisions' values, secret config files) with what `reseal` returns, and
   * sets `meta`, in one transaction: when `reseal` throws, nothing changes.
   */
  resealSecrets(reseal: SecretResealer, meta: { key: string; value: string }): Promise<{ values: number; files: number }>;

  getMeta(key: string): Promise<string | null>;
  /** Sets the key only if it is absent; returns the value now stored (first writer wins). */
  setMetaIfAbsent(key: string, value: string): Promise<string>;
  setMeta(key: string, value: string): Promise<void>;
}
