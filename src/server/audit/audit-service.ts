/**
 * The audit log as the server uses it: append a record (and wake followers),
 * list, verify the chain, and the retention job that prunes old records.
 *
 * Retention: with `retentionMs` set, every `pruneEveryMs` the records older
 * than that are deleted (oldest first, at most PRUNE_BATCH per transaction)
 * and a record by `corral` says what went (`PRUNE audit`, with the id and
 * hash of the last record deleted), so verify starts from the oldest record
 * left. Replicas may all run it: the chain's lock makes them take turns, and
 * a second one finds nothing left to prune.
 */
import type { Logger } from 'pino';
import type { AuditQuery, AuditRecord, NewAuditRecord, Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import { SYSTEM_ACTOR } from '../auth/actor.js';
import { PRUNE_ACTION, type ChainResult } from './chain.js';
import { verifyAuditChain } from './verify.js';

/** Records deleted per pruning transaction; a run repeats until nothing is that old (at most PRUNE_MAX_BATCHES times). */
export const PRUNE_BATCH = 10_000;
const PRUNE_MAX_BATCHES = 100;
/** How often retention runs by default. */
export const DEFAULT_PRUNE_EVERY_MS = 3600_000;

export interface AuditServiceDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Keep records this long; null keeps them forever (the default). */
  retentionMs: number | null;
  pruneEveryMs?: number;
  /** Counts records that could not be stored (the request itself was already answered). */
  onAppendFailed?: () => void;
}

export class AuditService {
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private pruning: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: AuditServiceDeps) {}

  /** Appends a record; on a store failure logs it (with what it was about) and returns null. */
  async record(entry: NewAuditRecord): Promise<AuditRecord | null> {
    try {
      const r = await this.deps.store.audit.append(entry);
      for (const l of this.listeners) l();
      return r;
    } catch (err) {
      this.deps.onAppendFailed?.();
      this.deps.log.error({ err, actor: entry.actor, action: entry.action, status: entry.status }, 'failed to store audit record');
      return null;
    }
  }

  list(query: AuditQuery): Promise<AuditRecord[]> {
    return this.deps.store.audit.list(query);
  }

  verify(expectHash?: string): Promise<ChainResult> {
    return verifyAuditChain(this.deps.store.audit, expectHash === undefined ? {} : { expectHash });
  }

  /** Calls `listener` after each record this process appends (followers then read the store). */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts the retention job (nothing when records are kept forever). */
  start(): void {
    if (this.deps.retentionMs === null || this.timer) return;
    const every = this.deps.pruneEveryMs ?? DEFAULT_PRUNE_EVERY_MS;
    const tick = () => {
      this.pruning = this.prune().catch((err: unknown) => this.deps.log.error({ err }, 'audit retention failed'));
    };
    this.timer = setInterval(tick, every);
    this.timer.unref();
    tick();
  }

  /** Deletes the records older than the retention; returns how many went. */
  async prune(): Promise<number> {
    if (this.deps.retentionMs === null) return 0;
    const before = this.deps.clock.now() - this.deps.retentionMs;
    let total = 0;
    for (let i = 0; i < PRUNE_MAX_BATCHES; i++) {
      const r = await this.deps.store.audit.prune(before, PRUNE_BATCH, (p) => ({
        at: this.deps.clock.now(),
        actor: SYSTEM_ACTOR,
        actorUserId: SYSTEM_ACTOR,
        actorTokenId: '',
        source: '',
        action: PRUNE_ACTION,
        summary: { prunedThroughId: p.throughId, prunedThroughHash: p.throughHash, count: p.count, olderThan: new Date(before).toISOString() },
        target: {},
        status: 0,
        outcome: 'ok',
        message: '',
      }));
      if (!r) break;
      total += Number(r.summary.count);
      for (const l of this.listeners) l();
      this.deps.log.info({ count: r.summary.count, throughId: r.summary.prunedThroughId }, 'audit records pruned');
    }
    return total;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pruning;
  }
}
