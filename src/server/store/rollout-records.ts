/**
 * Deployments, their immutable revisions, the rollouts that take agents
 * from one revision to another, and the revision each agent is offered, as
 * the store keeps them; RolloutStore writes them (rollout-store.ts).
 * Re-exported by store.ts.
 */
/** A package version + config values + desired run state, on the agents a selector matches. */
export interface DeploymentRecord {
  name: string;
  package: string;
  version: string;
  selector: string;
  values: Record<string, string>;
  /** Secret values, sealed (key → sealed text, see server/secrets); {} for none. Never plaintext. */
  secretValues: Record<string, string>;
  desiredState: 'running' | 'stopped';
  /** The newest revision (package, version, values); rollouts take agents to it. */
  revision: number;
  /** The last revision that was fully rolled out and healthy (Nomad's "stable"); null before the first. */
  stableRevision: number | null;
  /** Rollout policy overrides for this deployment (validated by the rollouts module). */
  policy: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

/** One immutable version of a deployment's content. */
export interface RevisionRecord {
  deployment: string;
  revision: number;
  package: string;
  version: string;
  values: Record<string, string>;
  /** Secret values of this revision, sealed as on DeploymentRecord. */
  secretValues: Record<string, string>;
  createdAt: number;
}

export type RolloutKind = 'rollout' | 'rollback';

export interface RolloutRecord {
  id: string;
  deployment: string;
  kind: RolloutKind;
  fromRevision: number | null;
  toRevision: number;
  /** The full policy in effect (validated by the rollouts module). */
  policy: Record<string, unknown>;
  state: string;
  stage: number;
  stageStartedAt: number;
  promoted: boolean;
  /** Failures an operator accepted by resuming past the error budget; they no longer count against it. */
  forgiven: number;
  reason: string;
  createdBy: string;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
  /** The server process driving it, and until when its lease holds (null before the first tick). */
  leaseOwner?: string | null;
  leaseUntil?: number | null;
}

export interface RolloutAgentRecord {
  rolloutId: string;
  agentId: string;
  agentName: string;
  stage: number;
  state: string;
  startedAt: number | null;
  healthySince: number | null;
  finishedAt: number | null;
  reason: string;
}

/** Which revision of a deployment one agent is offered. */
export interface AgentRevisionRecord {
  deployment: string;
  agentId: string;
  revision: number;
}

/** Rollouts, revisions and per-agent revisions (see src/server/rollouts). */
export interface RolloutStore {
  /**
   * Writes a deployment change in one transaction: the deployment, its new
   * revision (if any), and the rollout that takes agents to it (if any),
   * after marking `supersede` rollouts finished as aborted.
   */
  commitChange(change: {
    deployment: Omit<DeploymentRecord, 'createdAt'>;
    revision?: RevisionRecord;
    rollout?: RolloutRecord;
    agents?: RolloutAgentRecord[];
    supersede?: string[];
  }): Promise<void>;
  listRevisions(deployment?: string): Promise<RevisionRecord[]>;
  getRollout(id: string): Promise<RolloutRecord | null>;
  /** Newest first. */
  listRollouts(deployment?: string, limit?: number): Promise<RolloutRecord[]>;
  /** Rollouts not finished: running or paused. */
  listActiveRollouts(): Promise<RolloutRecord[]>;
  /** Applies the patch only when the rollout is in one of `fromStates`; returns whether it did. */
  updateRollout(id: string, patch: Partial<Omit<RolloutRecord, 'id' | 'deployment' | 'createdAt'>>, fromStates: string[]): Promise<boolean>;
  listRolloutAgents(rolloutId: string): Promise<RolloutAgentRecord[]>;
  putRolloutAgents(rows: RolloutAgentRecord[]): Promise<void>;
  deleteRolloutAgents(rolloutId: string, agentIds: string[]): Promise<void>;
  /** Takes or renews the lease on a rollout: true when `owner` holds it until `until`. */
  acquireRolloutLease(id: string, owner: string, now: number, until: number): Promise<boolean>;
  setAgentRevisions(deployment: string, agentIds: string[], revision: number): Promise<void>;
  /** Every agent's revisions, or only those of `agentIds`. */
  listAgentRevisions(agentIds?: readonly string[]): Promise<AgentRevisionRecord[]>;
  setStableRevision(deployment: string, revision: number): Promise<void>;
}
