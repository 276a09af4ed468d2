/**
 * Rollouts: every change of a deployment's package, version or values gets
 * a new revision and a rollout that takes the deployment's agents to it
 * stage by stage (see plan.ts and step.ts; the RolloutDriver runs them).
 * Operators pause, resume, promote, abort and roll back; every action is an
 * event naming who did it.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentRecord, DeploymentRecord, RevisionRecord, RolloutAgentRecord, RolloutRecord, Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import { RolloutNotFoundError, RolloutStateError, DeploymentNotFoundError, RevisionNotFoundError } from '../errors.js';
import { selectableAttributes } from '../fleet/agent-labels.js';
import { deploymentTargets } from '../fleet/corral-agents.js';
import { unpackResources } from '../fleet/deployment-resources.js';
import { amountOf, atOncePolicy, mergePolicy, RolloutPolicySchema, type RolloutPolicy, type RolloutPolicyInput } from './policy.js';
import { planStages, stagesOf, type PlanAgent } from './plan.js';
import { FINISHED_STATES, type RolloutState } from './step.js';
import { maskSecretValues } from '../secrets/secret-fields.js';

export interface RolloutDeps {
  store: Store;
  clock: Clock;
  events: EventRecorder;
  log: Logger;
  /** The policy every deployment starts from (built-in defaults, or the server's --rollout-defaults). */
  defaults: RolloutPolicy;
  /** Something agents are offered changed. */
  onFleetChange(): void;
  /** Asks the driver to evaluate rollouts now rather than at its next tick. */
  kick(): void;
  /** This process's driver: a rollout created here starts with its lease held by it, so no other replica races for it. */
  lease: { owner: string; ms: number };
}

/**
 * Keys of the secret values that differ between two revisions (added,
 * removed or changed), compared sealed: an unchanged secret keeps its
 * ciphertext (server/secrets), so no value is opened to tell.
 */
export function changedSecrets(from: Readonly<Record<string, string>>, to: Readonly<Record<string, string>>): string[] {
  return [...new Set([...Object.keys(from), ...Object.keys(to)])].filter((k) => from[k] !== to[k]).sort();
}

export const planAgent = (a: AgentRecord): PlanAgent => ({ id: a.id, name: a.name, labels: selectableAttributes(a) });

const COUNTED = ['pending', 'updating', 'healthy', 'failed', 'offline'] as const;

export class RolloutService {
  constructor(private readonly deps: RolloutDeps) {}

  policyFor(d: Pick<DeploymentRecord, 'policy'>, overrides?: Partial<RolloutPolicyInput> | null): RolloutPolicy {
    return mergePolicy(this.deps.defaults, d.policy as RolloutPolicyInput, overrides);
  }

  /**
   * Writes a deployment change. Content changes (package, version, values)
   * become a new revision and a rollout to it, superseding any rollout still
   * going; other changes (selector, run state, policy) are written as they are.
   */
  async change(
    next: Omit<DeploymentRecord, 'createdAt' | 'revision' | 'stableRevision'>,
    opts: { actor: string; policy?: Partial<RolloutPolicyInput> | null },
  ): Promise<{ deployment: DeploymentRecord; rollout: RolloutRecord | null }> {
    const { store, clock } = this.deps;
    const now = clock.now();
    const existing = await store.getDeployment(next.name);
    // Secret values compare sealed: an unchanged secret keeps its stored ciphertext (server/secrets), a changed one never does.
    const same =
      existing &&
      existing.package === next.package &&
      existing.version === next.version &&
      JSON.stringify(existing.values) === JSON.stringify(next.values) &&
      JSON.stringify(existing.secretValues) === JSON.stringify(next.secretValues);
    if (existing && same) {
      await store.rollouts.commitChange({ deployment: { ...next, revision: existing.revision, stableRevision: existing.stableRevision, updatedAt: now } });
      return { deployment: (await store.getDeployment(next.name))!, rollout: null };
    }
    const revisions = await store.rollouts.listRevisions(next.name);
    const revision: RevisionRecord = {
      deployment: next.name,
      revision: revisions.reduce((m, r) => Math.max(m, r.revision), 0) + 1,
      package: next.package,
      version: next.version,
      values: next.values,
      secretValues: next.secretValues,
      createdAt: now,
    };
    const policy = this.policyFor(next, opts.policy);
    const active = (await store.rollouts.listRollouts(next.name, 20)).filter((r) => !FINISHED_STATES.includes(r.state as RolloutState));
    const deployment = { ...next, revision: revision.revision, stableRevision: existing?.stableRevision ?? null, updatedAt: now };
    const { rollout, agents } = await this.newRollout(deployment, 'rollout', existing?.revision ?? null, revision.revision, policy, opts.actor);
    await store.rollouts.commitChange({ deployment, revision, rollout, agents, supersede: active.map((r) => r.id) });
    for (const r of active) this.deps.events.record('rollout.aborted', null, { deployment: next.name, rollout: r.id, actor: opts.actor, reason: 'superseded by a newer change' });
    this.deps.events.record('rollout.started', null, { deployment: next.name, rollout: rollout.id, actor: opts.actor, toRevision: revision.revision, version: next.version });
    this.deps.kick();
    return { deployment: (await store.getDeployment(next.name))!, rollout };
  }

  private async newRollout(
    d: Pick<DeploymentRecord, 'name' | 'selector'>,
    kind: RolloutRecord['kind'],
    fromRevision: number | null,
    toRevision: number,
    policy: RolloutPolicy,
    actor: string,
  ): Promise<{ rollout: RolloutRecord; agents: RolloutAgentRecord[] }> {
    const now = this.deps.clock.now();
    const targets = deploymentTargets(d, await this.deps.store.listAgents()).map(planAgent);
    const plan = planStages(policy, targets);
    const rollout: RolloutRecord = {
      id: randomUUID(),
      deployment: d.name,
      kind,
      fromRevision,
      toRevision,
      policy: policy as unknown as Record<string, unknown>,
      state: 'running',
      stage: 0,
      stageStartedAt: now,
      promoted: false,
      forgiven: 0,
      reason: '',
      createdBy: actor,
      createdAt: now,
      updatedAt: now,
      finishedAt: null,
      leaseOwner: this.deps.lease.owner,
      leaseUntil: now + this.deps.lease.ms,
    };
    const agents = targets.map((a) => ({
      rolloutId: rollout.id,
      agentId: a.id,
      agentName: a.name,
      stage: plan.get(a.id)!,
      state: 'pending',
      startedAt: null,
      healthySince: null,
      finishedAt: null,
      reason: '',
    }));
    return { rollout, agents };
  }

  async get(id: string): Promise<RolloutRecord> {
    const r = await this.deps.store.rollouts.getRollout(id);
    if (!r) throw new RolloutNotFoundError(id);
    return r;
  }

  /** A rollout by id, or the newest rollout of a deployment by its name. */
  async resolve(ref: string): Promise<RolloutRecord> {
    const byId = /^[0-9a-f-]{36}$/.test(ref) ? await this.deps.store.rollouts.getRollout(ref) : null;
    if (byId) return byId;
    const [latest] = await this.deps.store.rollouts.listRollouts(ref, 1);
    if (!latest) {
      if (!(await this.deps.store.getDeployment(ref))) throw new RolloutNotFoundError(ref);
      throw new RolloutNotFoundError(`for deployment ${ref} (it has not changed since rollouts began)`);
    }
    return latest;
  }

  list(deployment?: string, limit = 50): Promise<RolloutRecord[]> {
    return this.deps.store.rollouts.listRollouts(deployment, limit);
  }

  private async transition(ref: string, action: string, from: RolloutState[], patch: (r: RolloutRecord) => Partial<RolloutRecord>, actor: string): Promise<RolloutRecord> {
    const r = await this.resolve(ref);
    if (!from.includes(r.state as RolloutState)) throw new RolloutStateError(`cannot ${action} rollout ${r.id} of ${r.deployment}: it is ${r.state}${r.reason ? ` (${r.reason})` : ''}`);
    const now = this.deps.clock.now();
    if (!(await this.deps.store.rollouts.updateRollout(r.id, { ...patch(r), updatedAt: now }, [r.state]))) {
      throw new RolloutStateError(`rollout ${r.id} changed meanwhile; look at it again and retry`);
    }
    this.deps.events.record(`rollout.${action}`, null, { deployment: r.deployment, rollout: r.id, actor });
    this.deps.kick();
    return this.get(r.id);
  }

  pause(ref: string, actor: string): Promise<RolloutRecord> {
    return this.transition(ref, 'pause', ['running'], () => ({ state: 'paused', reason: `paused by ${actor}` }), actor);
  }

  /**
   * Resumes a paused rollout. Failures so far are accepted (they stop
   * counting against the error budget), so a rollout paused by its budget
   * goes on after the operator has looked; new failures count again.
   */
  async resume(ref: string, actor: string): Promise<RolloutRecord> {
    const r = await this.resolve(ref);
    const failed = (await this.deps.store.rollouts.listRolloutAgents(r.id)).filter((a) => a.state === 'failed').length;
    return this.transition(r.id, 'resume', ['paused'], () => ({ state: 'running', reason: '', forgiven: failed }), actor);
  }

  promote(ref: string, actor: string): Promise<RolloutRecord> {
    return this.transition(ref, 'promote', ['running', 'paused'], () => ({ state: 'running', promoted: true, reason: '' }), actor);
  }

  abort(ref: string, actor: string): Promise<RolloutRecord> {
    return this.transition(ref, 'abort', ['running', 'paused'], () => ({ state: 'aborted', reason: `aborted by ${actor}`, finishedAt: this.deps.clock.now() }), actor);
  }

  /**
   * Restores an earlier revision of a deployment: its stable revision (the
   * last one fully rolled out and healthy) by default, through the same
   * stages or at once, with failures pausing it and no manual promote; or,
   * with `toRevision`, any revision it has had, as a rollout under the
   * deployment's own policy (its stages, promote and error budget; staged
   * unless `mode` says at once). A rollout still going is finished as
   * rolled back. Throws DeploymentNotFoundError, RevisionNotFoundError, and
   * RolloutStateError when there is nothing to go back to.
   */
  async rollback(deploymentName: string, actor: string, opts: { mode?: 'staged' | 'at-once'; reason?: string; toRevision?: number } = {}): Promise<RolloutRecord> {
    const { store } = this.deps;
    const d = await store.getDeployment(deploymentName);
    if (!d) throw new DeploymentNotFoundError(deploymentName);
    const revisions = await store.rollouts.listRevisions(d.name);
    const base = this.policyFor(d);
    let target: RevisionRecord;
    let policy: RolloutPolicy;
    if (opts.toRevision !== undefined) {
      const found = revisions.find((r) => r.revision === opts.toRevision);
      if (!found) throw new RevisionNotFoundError(d.name, opts.toRevision, revisions.map((r) => r.revision));
      const active = (await store.rollouts.listRollouts(d.name, 1)).find((r) => !FINISHED_STATES.includes(r.state as RolloutState));
      if (found.revision === d.revision && !active) throw new RolloutStateError(`deployment ${d.name} is at revision ${d.revision} already`);
      target = found;
      policy = (opts.mode ?? 'staged') === 'at-once' ? atOncePolicy(base) : base;
    } else {
      if (d.stableRevision === null) throw new RolloutStateError(`deployment ${d.name} has no stable revision to roll back to (no rollout of it has completed)`);
      target = revisions.find((r) => r.revision === d.stableRevision)!;
      const mode = opts.mode ?? base.rollback;
      policy = { ...(mode === 'at-once' ? atOncePolicy(base) : base), onFailure: 'pause', promote: 'auto' };
    }
    const active = (await store.rollouts.listRollouts(d.name, 20)).filter((r) => !FINISHED_STATES.includes(r.state as RolloutState));
    const now = this.deps.clock.now();
    const reason = opts.reason ?? `rolled back by ${actor}`;
    for (const r of active) await store.rollouts.updateRollout(r.id, { state: 'rolled-back', reason, finishedAt: now, updatedAt: now }, [r.state]);
    const deployment = { ...d, package: target.package, version: target.version, values: target.values, secretValues: target.secretValues, revision: target.revision, updatedAt: now };
    const { rollout, agents } = await this.newRollout(d, 'rollback', d.revision, target.revision, policy, actor);
    await store.rollouts.commitChange({ deployment, rollout, agents });
    this.deps.events.record('rollout.rolled-back', null, { deployment: d.name, rollouts: active.map((r) => r.id), actor, reason, toRevision: target.revision, rollout: rollout.id });
    this.deps.log.warn({ deployment: d.name, toRevision: target.revision, actor, reason }, 'rolling back');
    this.deps.kick();
    return rollout;
  }

  /** A deployment's revisions, newest first, with which is current and which stable. Throws DeploymentNotFoundError. */
  async revisions(deploymentName: string): Promise<{ deployment: DeploymentRecord; revisions: RevisionRecord[] }> {
    const d = await this.deps.store.getDeployment(deploymentName);
    if (!d) throw new DeploymentNotFoundError(deploymentName);
    const revisions = await this.deps.store.rollouts.listRevisions(d.name);
    return { deployment: d, revisions: [...revisions].sort((a, b) => b.revision - a.revision) };
  }

  /** What `rollout status` shows: stages with per-state counts, the error budget, the reason for a pause. */
  async view(ref: string, opts: { agents?: boolean } = {}) {
    const r = await this.resolve(ref);
    const rows = await this.deps.store.rollouts.listRolloutAgents(r.id);
    const revisions = await this.deps.store.rollouts.listRevisions(r.deployment);
    const rev = (n: number | null) => {
      const x = revisions.find((v) => v.revision === n);
      return x ? { revision: x.revision, package: x.package, version: x.version, ...unpackResources(x.values), secretValues: maskSecretValues(x.secretValues) } : null;
    };
    const from = revisions.find((v) => v.revision === r.fromRevision);
    const to = revisions.find((v) => v.revision === r.toRevision);
    const policy = RolloutPolicySchema.parse(r.policy);
    const zero = () => Object.fromEntries(COUNTED.map((k) => [k, 0])) as Record<(typeof COUNTED)[number], number>;
    const stages = stagesOf(policy, new Set(rows.map((a) => a.stage))).map((s) => ({ ...s, counts: zero(), total: 0 }));
    const totals = zero();
    for (const row of rows) {
      const st = stages[row.stage];
      const k = row.state as (typeof COUNTED)[number];
      if (st) {
        st.counts[k]++;
        st.total++;
      }
      totals[k]++;
    }
    const budget = amountOf(policy.errorBudget, rows.length);
    const counted = Math.max(0, totals.failed - r.forgiven);
    const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
    return {
      id: r.id,
      deployment: r.deployment,
      kind: r.kind,
      state: r.state,
      reason: r.reason,
      from: rev(r.fromRevision),
      to: rev(r.toRevision),
      secretsChanged: to ? changedSecrets(from?.secretValues ?? {}, to.secretValues) : [],
      stage: { index: r.stage, name: stages[r.stage]?.name ?? `stage ${r.stage}`, startedAt: iso(r.stageStartedAt) },
      promoted: r.promoted,
      stages: stages.filter((s) => s.total > 0 || s.index === 0),
      totals: { ...totals, total: rows.length },
      errorBudget: { budget, failed: totals.failed, forgiven: r.forgiven, left: Math.max(0, budget - counted) },
      policy,
      createdBy: r.createdBy,
      createdAt: iso(r.createdAt)!,
      updatedAt: iso(r.updatedAt)!,
      finishedAt: iso(r.finishedAt),
      drivenBy: r.leaseOwner && !r.finishedAt ? { owner: r.leaseOwner, leaseUntil: iso(r.leaseUntil ?? null) } : null,
      agents: opts.agents
        ? rows.map((a) => ({ id: a.agentId, name: a.agentName, stage: a.stage, state: a.state, reason: a.reason, startedAt: iso(a.startedAt), finishedAt: iso(a.finishedAt) }))
        : undefined,
    };
  }
}
