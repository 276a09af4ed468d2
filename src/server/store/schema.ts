/** Kysely table types. JSON-ish columns are text; times are bigint milliseconds. */
import type { Generated } from 'kysely';

export interface TokensTable {
  id: string;
  kind: string;
  name: string;
  hash: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
  labels: string;
  expires_at: number | null;
  max_agents: number | null;
  enrolled_agents: number;
  require_approval: number;
  /** API tokens: the user (0011); null for enrollment tokens. */
  user_id: string | null;
  /** API tokens a user created with another of their tokens: that token (0019); null otherwise. */
  parent_id: string | null;
  /** API tokens narrowed to their own role bindings: JSON RoleBinding[] (0022); null acts with all of its user's roles. */
  roles: string | null;
}

/** Users (0011). */
export interface UsersTable {
  id: string;
  name: string;
  created_at: number;
  disabled_at: number | null;
}

/** One row per role binding of a user (0011); selector '' is the whole fleet. */
export interface UserRolesTable {
  user_id: string;
  role: string;
  selector: string;
}

export interface AgentsTable {
  id: string;
  kind: string;
  name: string;
  status: string;
  labels: string;
  bound_labels: string;
  enrollment_token_id: string | null;
  approval: string;
  identifying_attributes: string;
  non_identifying_attributes: string;
  capabilities: number;
  health: string | null;
  effective_config: string | null;
  remote_config_status: string | null;
  package_statuses: string | null;
  credential_hash: string | null;
  first_seen_at: number;
  last_seen_at: number;
  last_sequence_num: number;
  revoked_at: number | null;
}

/** An agent's trusted labels, one row per key (0016; written by triggers on agents only). */
export interface AgentLabelsTable {
  agent_id: string;
  key: string;
  value: string;
}

/** What the fleet list searches and counts by (0016; triggers only): see agent-derived-migration.ts. */
export interface AgentFactsTable {
  agent_id: string;
  /** Name, host name and trusted label values joined by U+001F. */
  text: string;
  os: string;
  arch: string;
  version: string;
}

export interface ConfigsTable {
  name: string;
  selector: string;
  files: string;
  hash: string;
  created_at: number;
  updated_at: number;
}

export interface EventsTable {
  id: Generated<number>;
  at: number;
  type: string;
  agent_id: string | null;
  data: string;
}

export interface MetaTable {
  key: string;
  value: string;
}

export interface PackagesTable {
  name: string;
  version: string;
  os: string;
  arch: string;
  sha256: string;
  size: number;
  signature: string;
  manifest: string;
  created_at: number;
  /** Added by migration 0009; null when the publisher did not sign. */
  publisher_signature?: string | null;
}

export interface DeploymentsTable {
  name: string;
  package: string;
  version: string;
  selector: string;
  values: string;
  /** Added by 0013: sealed secret values as JSON (key → sealed text). */
  secret_values: string;
  desired_state: string;
  revision: number;
  stable_revision: number | null;
  policy: string;
  created_at: number;
  updated_at: number;
}

export interface DeploymentRevisionsTable {
  deployment: string;
  revision: number;
  package: string;
  version: string;
  values: string;
  /** Added by 0013: sealed secret values as JSON. */
  secret_values: string;
  created_at: number;
}

export interface RolloutsTable {
  id: string;
  deployment: string;
  kind: string;
  from_revision: number | null;
  to_revision: number;
  policy: string;
  state: string;
  stage: number;
  stage_started_at: number;
  promoted: number;
  forgiven: number;
  reason: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  lease_owner: string | null;
  lease_until: number | null;
}

export interface RolloutAgentsTable {
  rollout_id: string;
  agent_id: string;
  agent_name: string;
  stage: number;
  state: string;
  started_at: number | null;
  healthy_since: number | null;
  finished_at: number | null;
  reason: string;
}

export interface ArtifactChunksTable {
  sha256: string;
  seq: number;
  data: Buffer;
}

export interface DeploymentAgentsTable {
  deployment: string;
  agent_id: string;
  revision: number;
}

export interface JobsTable {
  id: string;
  spec: string;
  status: string;
  /** 0014: who started it, and spec.selector (for the list's filters and scopes). */
  created_by: string;
  selector: string;
  created_at: number;
  finished_at: number | null;
  /** 0017: hosts with status failed, kept by triggers on job_hosts (job-failed-migration.ts); never written by code. */
  failed_hosts: Generated<number>;
}

export interface JobHostsTable {
  job_id: string;
  agent_id: string;
  agent_name: string;
  status: string;
  exit_code: number | null;
  signal: string | null;
  output: string;
  truncated: number;
  /** 0014 */
  timed_out: number;
  error: string;
  started_at: number | null;
  finished_at: number | null;
}

/** One row per agent with a credential rotation requested or in its grace window (0008). */
export interface AgentCredentialRotationsTable {
  agent_id: string;
  requested_at: number | null;
  previous_hash: string | null;
  previous_expires_at: number | null;
}

/** The audit log's hash chain (0012); see audit-records.ts. */
export interface AuditLogTable {
  id: number;
  at: number;
  actor: string;
  actor_user_id: string;
  actor_token_id: string;
  source: string;
  action: string;
  summary: string;
  target: string;
  status: number;
  outcome: string;
  message: string;
  prev_hash: string;
  hash: string;
}

export interface Database {
  audit_log: AuditLogTable;
  users: UsersTable;
  user_roles: UserRolesTable;
  agent_credential_rotations: AgentCredentialRotationsTable;
  jobs: JobsTable;
  job_hosts: JobHostsTable;
  deployments: DeploymentsTable;
  deployment_revisions: DeploymentRevisionsTable;
  rollouts: RolloutsTable;
  rollout_agents: RolloutAgentsTable;
  deployment_agents: DeploymentAgentsTable;
  artifact_chunks: ArtifactChunksTable;
  packages: PackagesTable;
  tokens: TokensTable;
  agents: AgentsTable;
  agent_labels: AgentLabelsTable;
  agent_facts: AgentFactsTable;
  configs: ConfigsTable;
  events: EventsTable;
  meta: MetaTable;
}
