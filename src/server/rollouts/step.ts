/**
 * One evaluation of a rollout: given its agents' rows and what those agents
 * report, decide which rows change, which agents get the new revision now,
 * and what happens to the rollout. Pure, so every rule is unit-tested and the
 * driver only loads, calls this, and writes the result.
 *
 * Rules, in order:
 * - An updating agent counts as healthy once it reports the target revision
 *   in effect and its service healthy, continuously, for minHealthySeconds.
 *   A failure it reports for the target revision (a crash loop, an upgrade
 *   reverted) fails it at once; not healthy within
 *   healthyDeadlineSeconds fails it, unless it is offline, in which case it is
 *   marked offline (reported, not counted against the error budget) and is
 *   retried when it returns.
 * - More failures than the error budget: the rollout fails (onFailure decides
 *   whether it pauses or rolls back). Failures an operator accepted by
 *   resuming no longer count.
 * - While running: agents of stages up to the current one are released while
 *   fewer than maxInFlight are updating; a stage is done when none of its
 *   agents is pending or updating; after the canary stage a manual policy
 *   waits for a promote; a stage running past progressDeadlineSeconds fails
 *   the rollout; after the last stage the rollout has succeeded.
 */
import type { RolloutPolicy } from './policy.js';
import { amountOf } from './policy.js';

export type RolloutState = 'running' | 'paused' | 'succeeded' | 'failed' | 'aborted' | 'rolled-back';
export type RolloutAgentState = 'pending' | 'updating' | 'healthy' | 'failed' | 'offline';

export const FINISHED_STATES: readonly RolloutState[] = ['succeeded', 'failed', 'aborted', 'rolled-back'];

export interface RolloutCore {
  state: RolloutState;
  stage: number;
  stageStartedAt: number;
  promoted: boolean;
  /** Failures accepted by an operator's resume: they no longer count against the budget. */
  forgiven: number;
  reason: string;
  toRevision: number;
  policy: RolloutPolicy;
}

export interface AgentRow {
  agentId: string;
  agentName: string;
  stage: number;
  state: RolloutAgentState;
  startedAt: number | null;
  healthySince: number | null;
  finishedAt: number | null;
  reason: string;
}

export interface Observation {
  online: boolean;
  /** The deployment revision the agent reports in effect, null when none. */
  revision: number | null;
  /** The service's health as reported, null when the agent reports none. */
  healthy: boolean | null;
  status: string;
  lastError: string;
  /** Set when the agent reports that the target revision failed (a crash loop on it, an upgrade reverted): fails at once. */
  failed: string | null;
}

export interface StepResult {
  /** Rows that changed, by agent id. */
  rows: AgentRow[];
  /** Agents to offer the target revision from now on. */
  release: string[];
  rollout: Pick<RolloutCore, 'state' | 'stage' | 'stageStartedAt' | 'reason'>;
  /** Set when the rollout just failed and its policy asks for a rollback. */
  rollback: boolean;
  /** Set when the rollout just succeeded. */
  succeeded: boolean;
  /** Set when it succeeded with every agent healthy: its revision becomes the deployment's stable one. */
  stable: boolean;
  /** The earliest time something here changes with no new report (a min-healthy time or a deadline passing). */
  nextDueAt: number | null;
}

const ACTIVE: readonly RolloutAgentState[] = ['pending', 'updating'];

export function stepRollout(rollout: RolloutCore, rows: AgentRow[], observe: (agentId: string) => Observation, now: number): StepResult {
  const p = rollout.policy;
  const changed = new Map<string, AgentRow>();
  const put = (r: AgentRow, patch: Partial<AgentRow>) => {
    const next = { ...r, ...patch };
    changed.set(r.agentId, next);
    return next;
  };
  const current = rows.map((r) => {
    const o = observe(r.agentId);
    if (r.state === 'offline' && o.online) return put(r, { state: 'updating', startedAt: now, healthySince: null, reason: 'back online: retrying' });
    if (r.state !== 'updating') return r;
    const onTarget = o.revision === rollout.toRevision;
    if (onTarget && o.healthy === true) {
      const since = r.healthySince ?? now;
      if (now - since >= p.minHealthySeconds * 1000) return put(r, { state: 'healthy', healthySince: since, finishedAt: now, reason: '' });
      return r.healthySince === null ? put(r, { healthySince: since }) : r;
    }
    if (o.failed !== null) return put(r, { state: 'failed', finishedAt: now, healthySince: null, reason: o.failed });
    if (now - (r.startedAt ?? now) > p.healthyDeadlineSeconds * 1000) {
      if (!o.online) return put(r, { state: 'offline', healthySince: null, reason: `offline past the healthy deadline (${p.healthyDeadlineSeconds}s)` });
      const why = onTarget ? o.lastError || `status ${o.status || 'unknown'}` : `still on revision ${o.revision ?? 'none'}${o.lastError ? `: ${o.lastError}` : ''}`;
      return put(r, { state: 'failed', finishedAt: now, healthySince: null, reason: `not healthy within ${p.healthyDeadlineSeconds}s (${why})` });
    }
    return r.healthySince !== null ? put(r, { healthySince: null }) : r;
  });

  let { state, stage, stageStartedAt, reason } = rollout;
  const result = (extra: Partial<StepResult> = {}): StepResult => {
    let due = Infinity;
    for (const r of current) {
      if (r.state !== 'updating') continue;
      if (r.healthySince !== null) due = Math.min(due, r.healthySince + p.minHealthySeconds * 1000);
      if (r.startedAt !== null) due = Math.min(due, r.startedAt + p.healthyDeadlineSeconds * 1000 + 1);
    }
    if (state === 'running') due = Math.min(due, stageStartedAt + p.progressDeadlineSeconds * 1000 + 1);
    return {
      rows: [...changed.values()],
      release: [],
      rollout: { state, stage, stageStartedAt, reason },
      rollback: false,
      succeeded: false,
      stable: false,
      nextDueAt: due === Infinity ? null : due,
      ...extra,
    };
  };

  const failed = current.filter((r) => r.state === 'failed').length - rollout.forgiven;
  const budget = amountOf(p.errorBudget, current.length);
  if (state === 'running' && failed > budget) {
    // Name the latest failure and its agent's reason (agent text: bounded), so the rollout's own reason says what went wrong.
    const last = current.filter((r) => r.state === 'failed' && r.reason).sort((a, b) => (b.finishedAt ?? 0) - (a.finishedAt ?? 0))[0];
    const why = last ? (last.reason.length > 300 ? `${last.reason.slice(0, 300)}…` : last.reason) : '';
    reason = `error budget exceeded: ${failed} failed, budget ${budget}${last ? ` (last: ${last.agentName}: ${why})` : ''}`;
    if (p.onFailure === 'rollback') return result({ rollout: { state: 'failed', stage, stageStartedAt, reason }, rollback: true });
    state = 'paused';
    return result();
  }
  if (state !== 'running') return result();

  const release: string[] = [];
  const limit = Math.max(1, amountOf(p.maxInFlight, current.length));
  for (let guard = 0; guard <= current.length + 1; guard++) {
    let inFlight = current.filter((r) => r.state === 'updating').length;
    for (let i = 0; i < current.length && inFlight < limit; i++) {
      const r = current[i]!;
      if (r.state !== 'pending' || r.stage > stage) continue;
      current[i] = put(r, { state: 'updating', startedAt: now, healthySince: null, reason: '' });
      release.push(r.agentId);
      inFlight++;
    }
    const open = current.some((r) => r.stage <= stage && ACTIVE.includes(r.state));
    if (open) {
      if (now - stageStartedAt > p.progressDeadlineSeconds * 1000) {
        reason = `stage ${stage} did not finish within ${p.progressDeadlineSeconds}s`;
        if (p.onFailure === 'rollback') return result({ release, rollout: { state: 'failed', stage, stageStartedAt, reason }, rollback: true });
        state = 'paused';
      }
      return result({ release });
    }
    const canaries = current.some((r) => r.stage === 0);
    if (stage === 0 && canaries && p.promote === 'manual' && !rollout.promoted) {
      state = 'paused';
      reason = 'waiting for promote: the canary stage is healthy';
      return result({ release });
    }
    const next = current.filter((r) => r.stage > stage).reduce((m, r) => Math.min(m, r.stage), Infinity);
    if (next === Infinity) {
      state = 'succeeded';
      const unhealthy = current.filter((r) => r.state !== 'healthy').length;
      reason = unhealthy > 0 ? `finished with ${unhealthy} agent(s) not healthy (accepted on resume, or offline); not marked stable` : '';
      return result({ release, succeeded: true, stable: unhealthy === 0 });
    }
    stage = next;
    stageStartedAt = now;
  }
  return result({ release });
}
