/**
 * Drives rollouts: every tick (and when kicked), for each rollout not yet
 * finished, take its lease in the store (so one server process drives it at
 * a time, also with several replicas on one PostgreSQL), load its agents and
 * what they report, run one step (step.ts), and write the outcome. Every
 * decision is in the store before the next tick, so a server killed at any
 * point continues where it was: a released agent stays released, a healthy
 * one stays counted, nothing is released twice.
 */
import { SYSTEM_ACTOR } from '../auth/actor.js';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { DEPLOYMENT_FILE_PREFIX, INSTALL_COMPONENT, TOP_LEVEL_PACKAGE_NAME, failedInstallRevision } from '../../protocol/index.js';
import { isAgentDeployment } from '../fleet/agent-package.js';
import type { AgentRecord, RolloutRecord, Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import { BatchRing, batchStageOf } from './plan.js';
import { RolloutPolicySchema } from './policy.js';
import { deploymentTargets } from '../fleet/corral-agents.js';
import { planAgent, type RolloutService } from './rollout-service.js';
import { stepRollout, type AgentRow, type Observation, type RolloutAgentState, type RolloutState } from './step.js';

/** Who holds a lease, as operators see it: host, pid and a random part (a restarted process is another owner). */
export function leaseOwnerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export interface DriverOptions {
  /** This process's lease owner id (see leaseOwnerId). */
  owner: string;
  /** Evaluate at least this often. */
  tickMs: number;
  leaseMs: number;
  /** Evaluate at most this often, however often kicked (agent reports kick it). Default 200. */
  minGapMs?: number;
}

/** What an agent reports about one deployment: the revision in effect and the service's health. */
export function observe(agent: AgentRecord | undefined, deployment: string, toRevision: number): Observation {
  if (!agent) return { online: false, revision: null, healthy: null, status: '', lastError: 'agent not found', failed: null };
  let revision: number | null = null;
  const file = agent.effectiveConfig?.files[`${DEPLOYMENT_FILE_PREFIX}${deployment}.json`];
  if (file) {
    try {
      const spec = JSON.parse(file.body) as { name?: unknown; revision?: unknown };
      if (spec.name === deployment && typeof spec.revision === 'number') revision = spec.revision;
    } catch {
      // Not JSON: no revision in effect that we can tell.
    }
  }
  const health = agent.health?.components[deployment];
  const crashLoop = revision === toRevision && health?.status === 'crash-loop';
  // A change the agent could not install fails at once, with its reason; a failure of another revision is stale.
  const install = health?.components[INSTALL_COMPONENT];
  const installFailed = install !== undefined && failedInstallRevision(install.status) === toRevision;
  return {
    online: agent.status === 'online',
    revision,
    healthy: health ? health.healthy : null,
    status: health?.status ?? '',
    lastError: health?.lastError ?? '',
    failed: installFailed ? `install failed: ${install.lastError || 'no reason given'}` : crashLoop ? health.lastError || 'crash loop' : null,
  };
}

/**
 * The same for a `kind: agent` deployment (the agent upgrading itself): on
 * target once it runs the target version (its description says so) and
 * reports the top-level package installed; failed when it reports the
 * upgrade to that version failed (e.g. the watcher reverted it).
 */
export function observeAgentPackage(agent: AgentRecord | undefined, to: { revision: number; version: string }): Observation {
  if (!agent) return { online: false, revision: null, healthy: null, status: '', lastError: 'agent not found', failed: null };
  const pkg = agent.packageStatuses?.find((p) => p.name === TOP_LEVEL_PACKAGE_NAME);
  const running = agent.identifyingAttributes['service.version'] ?? agent.nonIdentifyingAttributes['service.version'];
  const onTarget = running === to.version;
  const failed = pkg?.status === 'install-failed' && pkg.serverOfferedVersion === to.version ? pkg.errorMessage || `upgrade to ${to.version} failed` : null;
  return {
    online: agent.status === 'online',
    revision: onTarget ? to.revision : null,
    healthy: agent.status === 'online' && onTarget && agent.health?.healthy !== false,
    status: pkg?.status ?? '',
    lastError: pkg?.errorMessage ?? '',
    failed,
  };
}

export class RolloutDriver {
  get owner(): string {
    return this.opts.owner;
  }
  private timer: NodeJS.Timeout | null = null;
  private soon: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;
  private lastTickAt = 0;
  /** Earliest due time seen in the last tick, for a wake-up then. */
  private nextDueAt = Infinity;

  constructor(
    private readonly deps: { store: Store; clock: Clock; events: EventRecorder; log: Logger; rollouts: RolloutService; onFleetChange(): void },
    private readonly opts: DriverOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.opts.tickMs);
    this.timer.unref();
    this.kick();
  }

  /** Wakes at `at` (ms since epoch), unless something earlier is already set. */
  private wakeAt(at: number): void {
    if (this.closed) return;
    const delay = Math.max(0, at - this.deps.clock.now());
    if (this.soon && delay >= this.opts.tickMs) return;
    if (this.soon) clearTimeout(this.soon);
    this.soon = setTimeout(() => {
      this.soon = null;
      this.kick();
    }, delay);
    this.soon.unref();
  }

  /** Runs a tick soon; ticks never overlap (a kick during one runs another after it) and are at least minGapMs apart. */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    const gap = this.opts.minGapMs ?? 200;
    const wait = this.lastTickAt + gap - this.deps.clock.now();
    if (wait > 0) return this.wakeAt(this.lastTickAt + gap);
    this.lastTickAt = this.deps.clock.now();
    this.nextDueAt = Infinity;
    this.running = this.tick()
      .catch((err: unknown) => this.deps.log.error({ err }, 'rollout tick failed'))
      .finally(() => {
        this.running = null;
        if (this.nextDueAt !== Infinity) this.wakeAt(this.nextDueAt);
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  /** Evaluates every unfinished rollout this process holds the lease of. */
  async tick(): Promise<void> {
    const { store, clock } = this.deps;
    const active = await store.rollouts.listActiveRollouts();
    const mine: RolloutRecord[] = [];
    for (const r of active) {
      const now = clock.now();
      if (await store.rollouts.acquireRolloutLease(r.id, this.owner, now, now + this.opts.leaseMs)) mine.push(r);
    }
    // Agents are loaded only by the process driving something, once per tick for all its rollouts.
    if (mine.length === 0) return;
    const agents = await store.listAgents();
    for (const r of mine) {
      if (this.closed) return;
      await this.drive(r, agents);
    }
  }

  private async drive(r: RolloutRecord, agents: AgentRecord[]): Promise<void> {
    const { store, clock, events, log } = this.deps;
    const now = clock.now();
    const deployment = await store.getDeployment(r.deployment);
    if (!deployment) return;
    const policy = RolloutPolicySchema.parse(r.policy);
    const targets = deploymentTargets(deployment, agents);
    const byId = new Map(agents.map((a) => [a.id, a]));
    const targetIds = new Set(targets.map((a) => a.id));
    const stored: AgentRow[] = (await store.rollouts.listRolloutAgents(r.id)).map((x) => ({ ...x, state: x.state as RolloutAgentState }));
    const known = new Set(stored.map((x) => x.agentId));

    // Agents that left the selector are no longer part of it; agents that joined fall into their batch.
    const gone = stored.filter((x) => !targetIds.has(x.agentId) && (x.state === 'pending' || x.state === 'updating' || x.state === 'offline'));
    const ring = new BatchRing(policy.batches);
    const joined: AgentRow[] = targets
      .filter((a) => !known.has(a.id))
      .map((a) => ({ rolloutId: r.id, agentId: a.id, agentName: a.name, stage: batchStageOf(policy, ring, planAgent(a)), state: 'pending', startedAt: null, healthySince: null, finishedAt: null, reason: '' }));
    const goneIds = new Set(gone.map((x) => x.agentId));
    const rows: AgentRow[] = [...stored.filter((x) => !goneIds.has(x.agentId)), ...joined].sort((a, b) => a.stage - b.stage || (a.agentId < b.agentId ? -1 : 1));

    const [packages, revisions] = await Promise.all([store.listPackages(deployment.package), store.rollouts.listRevisions(r.deployment)]);
    const to = revisions.find((x) => x.revision === r.toRevision);
    const selfUpgrade = to !== undefined && isAgentDeployment(to, packages);
    const step = stepRollout(
      { state: r.state as RolloutState, stage: r.stage, stageStartedAt: r.stageStartedAt, promoted: r.promoted, forgiven: r.forgiven, reason: r.reason, toRevision: r.toRevision, policy },
      rows,
      (id) => (selfUpgrade ? observeAgentPackage(byId.get(id), to) : observe(byId.get(id), r.deployment, r.toRevision)),
      now,
    );

    // Order matters for a crash at any point: revisions first (re-releasing is harmless), then rows, then the rollout.
    if (step.release.length > 0) await store.rollouts.setAgentRevisions(r.deployment, step.release, r.toRevision);
    const changed = new Map(step.rows.map((x) => [x.agentId, x]));
    for (const j of joined) if (!changed.has(j.agentId)) changed.set(j.agentId, j);
    await store.rollouts.putRolloutAgents([...changed.values()].map((x) => ({ ...x, rolloutId: r.id })));
    await store.rollouts.deleteRolloutAgents(r.id, [...goneIds]);
    if (step.release.length > 0) {
      log.info({ deployment: r.deployment, rollout: r.id, stage: step.rollout.stage, released: step.release.length }, 'rollout released agents');
      this.deps.onFleetChange();
    }
    if (step.nextDueAt !== null) this.nextDueAt = Math.min(this.nextDueAt, step.nextDueAt);
    const s = step.rollout;
    if (s.state !== r.state || s.stage !== r.stage || s.reason !== r.reason || s.stageStartedAt !== r.stageStartedAt) {
      const finished = s.state === 'succeeded' || s.state === 'failed';
      const ok = await store.rollouts.updateRollout(r.id, { ...s, updatedAt: now, ...(finished ? { finishedAt: now } : {}) }, [r.state]);
      if (!ok) return; // An operator acted meanwhile; the next tick sees it.
      if (s.state !== r.state) {
        events.record(`rollout.${s.state}`, null, { deployment: r.deployment, rollout: r.id, actor: SYSTEM_ACTOR, reason: s.reason });
        log.info({ deployment: r.deployment, rollout: r.id, state: s.state, reason: s.reason }, 'rollout state changed');
      }
    }
    if (step.stable) {
      // Agents the rollout never saw (none, normally) are offered the stable revision: it changed.
      await store.rollouts.setStableRevision(r.deployment, r.toRevision);
      this.deps.onFleetChange();
    }
    if (step.rollback) {
      if (r.kind === 'rollback' || deployment.stableRevision === null || deployment.stableRevision === r.toRevision) {
        await store.rollouts.updateRollout(r.id, { state: 'paused', reason: `${s.reason}; nothing stable to roll back to`, finishedAt: null, updatedAt: now }, ['failed']);
      } else {
        await this.deps.rollouts.rollback(r.deployment, SYSTEM_ACTOR, { reason: `automatic rollback: ${s.reason}` });
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.soon) clearTimeout(this.soon);
    await this.running;
  }
}
