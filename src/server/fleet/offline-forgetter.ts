/**
 * Forgets agents that have been offline too long (`corral server
 * --forget-offline-after 30d`): a host that re-enrolled under a new uid, or
 * was decommissioned, otherwise stays listed as offline for ever (compare
 * Nomad's node_gc_threshold). A sweep deletes agents offline and last seen
 * before `now - afterMs` through the store's agent deletion (the rows
 * `corral agent delete` removes), in batches of FORGET_BATCH, and for each
 * records `agent.forgotten` (an event not tied to the agent, whose events go
 * with it), plus one audit record by `corral` per FORGET_AUDIT_CHUNK agents
 * naming them.
 *
 * Every replica may sweep: the store deletes with the condition in the
 * DELETE, so two replicas never both forget one agent and an agent that came
 * back online is kept. The first sweep waits `graceMs` after start, so that
 * after the whole control plane was down for longer than `afterMs` the agents
 * still alive reconnect (they retry at least every 30 s) before anything is
 * forgotten. A forgotten agent that returns is refused (401: its credential
 * went with it) until its host is re-enrolled (docs/agent-identity.md).
 */
import type { Logger } from 'pino';
import type { ForgottenAgent, Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import type { AuditService } from '../audit/audit-service.js';
import { SYSTEM_ACTOR } from '../auth/actor.js';

/** Agents forgotten per store transaction. */
export const FORGET_BATCH = 500;
/** Batches per sweep at most; what is left waits for the next sweep. */
export const MAX_FORGET_BATCHES_PER_SWEEP = 20;
/** Agents one audit record names at most (the audit target's bound). */
export const FORGET_AUDIT_CHUNK = 100;
/** The action of the audit records a sweep appends. */
export const FORGET_ACTION = 'FORGET agents';
/** The first sweep waits this long after start at most (less when the threshold is shorter). */
export const FORGET_STARTUP_GRACE_MS = 10 * 60_000;

export interface OfflineForgetterOptions {
  /** Forget agents offline and last seen longer ago than this. */
  afterMs: number;
  /** The threshold as the operator wrote it (30d), for records. */
  afterText: string;
  /** How often to sweep. */
  everyMs: number;
  /** How long after start the first sweep waits. */
  graceMs: number;
}

export interface OfflineForgetterDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  events: EventRecorder;
  audit: Pick<AuditService, 'record'>;
  /** Agents were forgotten: replicas drop them from what they hold. */
  onForgotten(ids: string[]): void;
}

/** How often a threshold is swept for: half of it, between 1 s and 10 minutes. */
export function forgetSweepMs(afterMs: number): number {
  return Math.min(Math.max(Math.floor(afterMs / 2), 1000), 10 * 60_000);
}

export class OfflineForgetter {
  private timer: NodeJS.Timeout | null = null;
  private sweeping: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    private readonly opts: OfflineForgetterOptions,
    private readonly deps: OfflineForgetterDeps,
  ) {}

  /** Schedules sweeps: the first after the grace, then every `everyMs`. Call once; `close` stops them. */
  start(): void {
    if (this.timer || this.closed) return;
    this.deps.log.info({ after: this.opts.afterText, everyMs: this.opts.everyMs, firstInMs: this.opts.graceMs }, 'will forget agents offline longer than the threshold');
    const tick = () => {
      this.sweeping = this.sweep().catch((err: unknown) => this.deps.log.error({ err }, 'forgetting offline agents failed'));
    };
    this.timer = setTimeout(() => {
      tick();
      this.timer = setInterval(tick, this.opts.everyMs);
      this.timer.unref();
    }, this.opts.graceMs);
    this.timer.unref();
  }

  /** One sweep: forgets what is due, batch by batch; returns how many agents were forgotten. */
  async sweep(): Promise<number> {
    let total = 0;
    for (let i = 0; i < MAX_FORGET_BATCHES_PER_SWEEP && !this.closed; i++) {
      // Their own events still buffered here go into the store first, and out with the rest.
      await this.deps.events.flush();
      const before = this.deps.clock.now() - this.opts.afterMs;
      const { agents, events } = await this.deps.store.forgetOfflineAgents(before, FORGET_BATCH);
      if (agents.length === 0) break;
      total += agents.length;
      await this.record(agents, events, before);
      this.deps.onForgotten(agents.map((a) => a.id));
      if (agents.length < FORGET_BATCH) break;
    }
    return total;
  }

  private async record(agents: ForgottenAgent[], events: number, before: number): Promise<void> {
    const olderThan = new Date(before).toISOString();
    for (const a of agents) {
      this.deps.events.record('agent.forgotten', null, { agentId: a.id, name: a.name, lastSeenAt: a.lastSeenAt, forgetOfflineAfter: this.opts.afterText, actor: SYSTEM_ACTOR });
    }
    for (let i = 0; i < agents.length; i += FORGET_AUDIT_CHUNK) {
      const chunk = agents.slice(i, i + FORGET_AUDIT_CHUNK);
      await this.deps.audit.record({
        at: this.deps.clock.now(),
        actor: SYSTEM_ACTOR,
        actorUserId: SYSTEM_ACTOR,
        actorTokenId: '',
        source: '',
        action: FORGET_ACTION,
        summary: {
          reason: `offline and last seen before ${olderThan} (--forget-offline-after ${this.opts.afterText})`,
          agents: chunk.map((a) => ({ id: a.id, name: a.name, lastSeenAt: new Date(a.lastSeenAt).toISOString() })),
          // A batch of more than FORGET_AUDIT_CHUNK agents is named over several records; the events deleted are the batch's.
          batch: { agents: agents.length, events },
        },
        target: { agentIds: chunk.map((a) => a.id), agentCount: chunk.length },
        status: 0,
        outcome: 'ok',
        message: '',
      });
    }
    this.deps.log.info({ count: agents.length, events, olderThan }, 'forgot agents offline too long');
  }

  /** Stops sweeping; waits for a sweep under way. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
    }
    this.timer = null;
    await this.sweeping;
  }
}
