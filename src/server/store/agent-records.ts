/**
 * Agents as the store keeps them (AgentRecord and the parts an agent
 * reports), what a report or heartbeat changes, and the agent list's filter,
 * page and facets (agent-query.ts). Re-exported by store.ts.
 */
/** Why `enrollAgent` did or did not create the agent. */
export type EnrollmentOutcome = 'enrolled' | 'exists' | 'token-exhausted' | 'token-expired' | 'token-revoked';

/** approved: served normally; pending: enrolled, waiting for an operator to approve it (nothing is offered). */
export type AgentApproval = 'approved' | 'pending';

export type AgentKind = 'corral' | 'opamp';
/** online: connected or heartbeating; offline: gone; revoked: refused forever. */
export type AgentStatus = 'online' | 'offline' | 'revoked';

export interface HealthRecord {
  healthy: boolean;
  startTimeMs: number;
  lastError: string;
  status: string;
  statusTimeMs: number;
  components: Record<string, HealthRecord>;
}

export type RemoteConfigState = 'UNSET' | 'APPLIED' | 'APPLYING' | 'FAILED';

export interface RemoteConfigStatusRecord {
  /** hex of the hash the agent reports for its last remote config. */
  hash: string;
  status: RemoteConfigState;
  errorMessage: string;
}

export interface EffectiveConfigRecord {
  files: Record<string, { contentType: string; body: string }>;
}

export interface PackageStatusRecord {
  name: string;
  agentHasVersion: string;
  agentHasHash: string;
  serverOfferedVersion: string;
  serverOfferedHash: string;
  status: string;
  errorMessage: string;
  downloadPercent: number | null;
}

export interface AgentRecord {
  id: string;
  kind: AgentKind;
  name: string;
  status: AgentStatus;
  /** Labels set by an operator (trusted); they win over every other source. */
  labels: Record<string, string>;
  /** Labels bound by the enrollment token the agent enrolled with (trusted); {} for none. */
  boundLabels: Record<string, string>;
  /** The enrollment token the agent enrolled with; null when unknown (enrolled before tokens were scoped). */
  enrollmentTokenId: string | null;
  approval: AgentApproval;
  identifyingAttributes: Record<string, string>;
  nonIdentifyingAttributes: Record<string, string>;
  capabilities: number;
  health: HealthRecord | null;
  effectiveConfig: EffectiveConfigRecord | null;
  remoteConfigStatus: RemoteConfigStatusRecord | null;
  packageStatuses: PackageStatusRecord[] | null;
  /** sha256 hex of the agent's own credential (corral agents after enrollment). */
  credentialHash: string | null;
  firstSeenAt: number;
  lastSeenAt: number;
  /** Last AgentToServer.sequence_num seen, for gap detection across replicas. */
  lastSequenceNum: number;
  revokedAt: number | null;
}

/** Fields an agent report may change; absent fields stay as they are. */
export interface AgentReportPatch {
  kind?: AgentKind;
  name?: string;
  identifyingAttributes?: Record<string, string>;
  nonIdentifyingAttributes?: Record<string, string>;
  capabilities?: number;
  health?: HealthRecord | null;
  effectiveConfig?: EffectiveConfigRecord | null;
  remoteConfigStatus?: RemoteConfigStatusRecord | null;
  packageStatuses?: PackageStatusRecord[] | null;
}

export interface AgentTouch {
  id: string;
  lastSeenAt: number;
  lastSequenceNum: number;
}

/** An agent `forgetOfflineAgents` deleted. */
export interface ForgottenAgent {
  id: string;
  name: string;
  lastSeenAt: number;
}

/** A selector requirement, as fleet/selector.ts parses it; `claim.<key>` names what the agent reports. */
export type LabelRequirement =
  | { op: 'eq' | 'neq'; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: readonly string[] }
  | { op: 'exists' | 'notexists'; key: string };

/** An agent's status as lists and facets show it: pending is approved-not-yet (and not revoked). */
export type AgentListStatus = 'online' | 'offline' | 'pending' | 'revoked';
export const AGENT_LIST_STATUSES: readonly AgentListStatus[] = ['online', 'offline', 'pending', 'revoked'];
export type AgentSortKey = 'name' | 'status' | 'lastSeen' | 'version' | 'os';
export const AGENT_SORT_KEYS: readonly AgentSortKey[] = ['name', 'status', 'lastSeen', 'version', 'os'];

/** Separates the fields of an agent's search text (agent_facts): a search containing it would match across fields, so the API refuses it. */
export const SEARCH_SEPARATOR = '\u001f';

/** Which agents: all of the selector's requirements, one of the statuses (none: any), and the free text (see agent-query.ts). */
export interface AgentFilter {
  requirements: readonly LabelRequirement[];
  statuses?: readonly AgentListStatus[];
  /** A part of the name, label value or host name (any case), or the start of the id; must not contain U+001F. */
  q?: string;
  /**
   * A scoped reader's scopes: only agents that one of these selectors
   * (each a list of requirements, all of which must hold) matches. Absent:
   * no restriction; []: no agent.
   */
  scopes?: readonly (readonly LabelRequirement[])[];
}

export interface AgentPageQuery extends AgentFilter {
  sort: AgentSortKey;
  descending: boolean;
  /** 1..1000. */
  limit: number;
  /** The sort key and id of the last agent of the previous page: this page starts after it. */
  after?: { key: string | number; id: string };
}

export interface AgentPage {
  agents: AgentRecord[];
  /** The sort key of each agent, in order (the last one makes the next cursor). */
  keys: (string | number)[];
  /** Agents matching the filter (all pages). */
  total: number;
  /** Whether more agents follow this page. */
  hasMore: boolean;
}

export interface AgentFacetBounds {
  /** Label keys returned, those on most agents first. */
  maxKeys: number;
  /** Values per key (and per os / arch / version), most frequent first; at least 4. */
  maxValues: number;
}

export interface AgentFacets {
  total: number;
  byStatus: Record<string, number>;
  /** key → value → agents, bounded by AgentFacetBounds. */
  labels: Record<string, Record<string, number>>;
  os: Record<string, number>;
  arch: Record<string, number>;
  version: Record<string, number>;
}
