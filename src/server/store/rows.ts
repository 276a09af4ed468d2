/** Rows to records and back: the mapping between the tables (schema.ts) and the Store's records (store.ts and the *-records.ts files it re-exports). */
import type { Insertable, Selectable } from 'kysely';
import type { AgentsTable, Database } from './schema.js';
import type { AgentRecord, AgentReportPatch, ConfigRecord, DeploymentRecord, JobHostRecord, JobRecord, JobStatus, NewTokenRecord, PackageRecord, TokenKind, TokenRecord } from './store.js';
import type { RoleBinding } from '../auth/actor.js';

export const json = (v: unknown): string => JSON.stringify(v);
export const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));
export const num = (v: number | string | bigint): number => Number(v);

/** The row of an agent seen for the first time at `at`: online, no labels, nothing reported yet. */
export function newAgentRow(id: string, at: number, overrides: Partial<Insertable<AgentsTable>> = {}): Insertable<AgentsTable> {
  return {
    id,
    kind: 'opamp',
    name: '',
    status: 'online',
    labels: '{}',
    bound_labels: '{}',
    enrollment_token_id: null,
    approval: 'approved',
    identifying_attributes: '{}',
    non_identifying_attributes: '{}',
    capabilities: 0,
    health: null,
    effective_config: null,
    remote_config_status: null,
    package_statuses: null,
    credential_hash: null,
    first_seen_at: at,
    last_seen_at: at,
    last_sequence_num: 0,
    revoked_at: null,
    ...overrides,
  };
}

export function toAgent(r: Selectable<AgentsTable>): AgentRecord {
  return {
    id: r.id,
    kind: r.kind as AgentRecord['kind'],
    name: r.name,
    status: r.status as AgentRecord['status'],
    labels: JSON.parse(r.labels) as Record<string, string>,
    boundLabels: JSON.parse(r.bound_labels) as Record<string, string>,
    enrollmentTokenId: r.enrollment_token_id,
    approval: r.approval as AgentRecord['approval'],
    identifyingAttributes: JSON.parse(r.identifying_attributes) as Record<string, string>,
    nonIdentifyingAttributes: JSON.parse(r.non_identifying_attributes) as Record<string, string>,
    capabilities: num(r.capabilities),
    health: parse(r.health),
    effectiveConfig: parse(r.effective_config),
    remoteConfigStatus: parse(r.remote_config_status),
    packageStatuses: parse(r.package_statuses),
    credentialHash: r.credential_hash,
    firstSeenAt: num(r.first_seen_at),
    lastSeenAt: num(r.last_seen_at),
    lastSequenceNum: num(r.last_sequence_num),
    revokedAt: r.revoked_at === null ? null : num(r.revoked_at),
  };
}

/** The row for a whole record (bulk inserts). */
export function agentRow(a: AgentRecord): Insertable<AgentsTable> {
  return {
    id: a.id,
    kind: a.kind,
    name: a.name,
    status: a.status,
    labels: json(a.labels),
    bound_labels: json(a.boundLabels),
    enrollment_token_id: a.enrollmentTokenId,
    approval: a.approval,
    identifying_attributes: json(a.identifyingAttributes),
    non_identifying_attributes: json(a.nonIdentifyingAttributes),
    capabilities: a.capabilities,
    health: a.health === null ? null : json(a.health),
    effective_config: a.effectiveConfig === null ? null : json(a.effectiveConfig),
    remote_config_status: a.remoteConfigStatus === null ? null : json(a.remoteConfigStatus),
    package_statuses: a.packageStatuses === null ? null : json(a.packageStatuses),
    credential_hash: a.credentialHash,
    first_seen_at: a.firstSeenAt,
    last_seen_at: a.lastSeenAt,
    last_sequence_num: a.lastSequenceNum,
    revoked_at: a.revokedAt,
  };
}

/** The row of a new token (scope fields default to none, no agents enrolled yet). */
export function tokenRow(t: NewTokenRecord): Insertable<Database['tokens']> {
  return {
    id: t.id,
    kind: t.kind,
    name: t.name,
    hash: t.hash,
    prefix: t.prefix,
    created_at: t.createdAt,
    revoked_at: t.revokedAt,
    labels: json(t.labels ?? {}),
    expires_at: t.expiresAt ?? null,
    max_agents: t.maxAgents ?? null,
    enrolled_agents: 0,
    require_approval: t.requireApproval ? 1 : 0,
    user_id: t.userId ?? null,
    parent_id: t.parentId ?? null,
    roles: t.roles ? json(t.roles) : null,
  };
}

export function toToken(r: Selectable<Database['tokens']>): TokenRecord {
  return {
    id: r.id,
    kind: r.kind as TokenKind,
    name: r.name,
    hash: r.hash,
    prefix: r.prefix,
    createdAt: num(r.created_at),
    revokedAt: r.revoked_at === null ? null : num(r.revoked_at),
    labels: JSON.parse(r.labels) as Record<string, string>,
    expiresAt: r.expires_at === null ? null : num(r.expires_at),
    maxAgents: r.max_agents === null ? null : num(r.max_agents),
    enrolledAgents: num(r.enrolled_agents),
    requireApproval: num(r.require_approval) === 1,
    userId: r.user_id ?? null,
    parentId: r.parent_id ?? null,
    roles: r.roles === null ? null : (JSON.parse(r.roles) as RoleBinding[]),
  };
}

export function toPackage(r: Selectable<Database['packages']>): PackageRecord {
  return {
    name: r.name,
    version: r.version,
    os: r.os,
    arch: r.arch,
    sha256: r.sha256,
    size: num(r.size),
    signature: r.signature,
    manifest: JSON.parse(r.manifest) as Record<string, unknown>,
    createdAt: num(r.created_at),
    publisherSignature: r.publisher_signature ?? null,
  };
}

export function toDeployment(r: Selectable<Database['deployments']>): DeploymentRecord {
  return {
    name: r.name,
    package: r.package,
    version: r.version,
    selector: r.selector,
    values: JSON.parse(r.values) as Record<string, string>,
    secretValues: JSON.parse(r.secret_values) as Record<string, string>,
    desiredState: r.desired_state as DeploymentRecord['desiredState'],
    revision: num(r.revision),
    stableRevision: r.stable_revision === null ? null : num(r.stable_revision),
    policy: JSON.parse(r.policy) as Record<string, unknown>,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

export function toJob(r: Selectable<Database['jobs']>): JobRecord {
  return { id: r.id, spec: JSON.parse(r.spec) as JobRecord['spec'], status: r.status as JobStatus, createdBy: r.created_by, createdAt: num(r.created_at), finishedAt: r.finished_at === null ? null : num(r.finished_at) };
}

export function toJobHost(r: Selectable<Database['job_hosts']>): JobHostRecord {
  return {
    jobId: r.job_id,
    agentId: r.agent_id,
    agentName: r.agent_name,
    status: r.status as JobHostRecord['status'],
    exitCode: r.exit_code === null ? null : num(r.exit_code),
    signal: r.signal,
    output: r.output,
    truncated: num(r.truncated) === 1,
    timedOut: num(r.timed_out) === 1,
    error: r.error,
    startedAt: r.started_at === null ? null : num(r.started_at),
    finishedAt: r.finished_at === null ? null : num(r.finished_at),
  };
}

export function jobHostRow(h: JobHostRecord): Database['job_hosts'] {
  return {
    job_id: h.jobId,
    agent_id: h.agentId,
    agent_name: h.agentName,
    status: h.status,
    exit_code: h.exitCode,
    signal: h.signal,
    output: h.output,
    truncated: h.truncated ? 1 : 0,
    timed_out: h.timedOut ? 1 : 0,
    error: h.error,
    started_at: h.startedAt,
    finished_at: h.finishedAt,
  };
}

export function toConfig(r: Selectable<Database['configs']>): ConfigRecord {
  return {
    name: r.name,
    selector: r.selector,
    files: JSON.parse(r.files) as ConfigRecord['files'],
    hash: r.hash,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  };
}

/** Columns for the parts of a report that are present. */
export function patchColumns(p: AgentReportPatch): Partial<AgentsTable> {
  const c: Partial<AgentsTable> = {};
  if (p.kind !== undefined) c.kind = p.kind;
  if (p.name !== undefined) c.name = p.name;
  if (p.identifyingAttributes !== undefined) c.identifying_attributes = json(p.identifyingAttributes);
  if (p.nonIdentifyingAttributes !== undefined) c.non_identifying_attributes = json(p.nonIdentifyingAttributes);
  if (p.capabilities !== undefined) c.capabilities = p.capabilities;
  if (p.health !== undefined) c.health = p.health === null ? null : json(p.health);
  if (p.effectiveConfig !== undefined) c.effective_config = p.effectiveConfig === null ? null : json(p.effectiveConfig);
  if (p.remoteConfigStatus !== undefined) c.remote_config_status = p.remoteConfigStatus === null ? null : json(p.remoteConfigStatus);
  if (p.packageStatuses !== undefined) c.package_statuses = p.packageStatuses === null ? null : json(p.packageStatuses);
  return c;
}
