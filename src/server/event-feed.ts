/**
 * The live side of the events table, for `GET /api/v1/stream`: which event
 * ids are safe to hand out, and a wake-up for streams when there are new ones.
 *
 * Events come from the store, never from this process's memory, so a stream
 * on any replica sees events recorded by every replica. One poll per process
 * (`select id from events where id > head`, on the primary key) serves all
 * its streams; each stream then reads its own filtered events from the store.
 *
 * Ids are taken when a transaction inserts, not when it commits: on
 * PostgreSQL a writer on another replica can commit id 11 before id 10
 * appears. Handing out 11 would make a client resuming "after 11" miss 10
 * for good. So `head` only moves over contiguous ids; a hole holds it for
 * `gapWaitMs` (longer than any insert transaction), after which the hole is
 * taken as permanent (a rolled-back insert, events deleted with their agent).
 */
import type { Logger } from 'pino';
import type { Store } from './store/index.js';
import type { Clock } from './clock.js';

export interface EventFeedDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** How often the store is asked for new ids while someone listens. Default 250. */
  pollMs?: number;
  /** How long a hole in the ids holds the head back. Default 2000. */
  gapWaitMs?: number;
}

/** Ids looked at per poll; a longer burst takes several polls (the next one at once). */
const POLL_BATCH = 5000;

export class EventFeed {
  private head = -1;
  private started: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private waiters = new Set<() => void>();
  private gap: { after: number; since: number } | null = null;
  private closed = false;
  private polling = false;

  constructor(private readonly deps: EventFeedDeps) {}

  /** The newest event id safe to hand out (every id up to it is visible or gone for good). */
  async safeHead(): Promise<number> {
    await this.start();
    return this.head;
  }

  /**
   * Resolves once the head passes `id`, or after `timeoutMs`, or when the
   * feed closes. Polling runs only while someone waits.
   */
  async waitBeyond(id: number, timeoutMs: number): Promise<void> {
    await this.start();
    if (this.head > id || this.closed) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (this.head > id || this.closed) done();
      };
      const t = setTimeout(done, timeoutMs);
      this.waiters.add(check);
      this.schedule();
    });
  }

  /** Ask for a poll now (this process just stored events). */
  nudge(): void {
    if (this.waiters.size > 0 && !this.closed) this.schedule(0);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Wakes every waiter; nothing polls after this. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const w of [...this.waiters]) w();
  }

  private start(): Promise<void> {
    this.started ??= (async () => {
      const newest = await this.deps.store.listEvents({ limit: 1 });
      this.head = newest.at(-1)?.id ?? 0;
    })();
    return this.started;
  }

  private schedule(ms = this.deps.pollMs ?? 250): void {
    if (this.closed || (this.timer && ms > 0)) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.poll();
    }, ms);
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    let more = false;
    try {
      const ids = await this.deps.store.listEventIds(this.head, POLL_BATCH);
      this.advance(ids);
      more = ids.length === POLL_BATCH;
    } catch (err) {
      this.deps.log.warn({ err }, 'event feed poll failed');
    } finally {
      this.polling = false;
    }
    for (const w of [...this.waiters]) w();
    if (this.waiters.size > 0) this.schedule(more ? 0 : undefined);
  }

  private advance(ids: number[]): void {
    const next = advanceHead({ head: this.head, gap: this.gap }, ids, this.deps.clock.now(), this.deps.gapWaitMs ?? 2000);
    if (next.skipped) this.deps.log.debug({ after: this.head, head: next.head }, 'event ids skipped');
    this.head = next.head;
    this.gap = next.gap;
  }
}

export interface HeadState {
  head: number;
  /** A hole right after `after`, first seen at `since`. */
  gap: { after: number; since: number } | null;
}

/**
 * Moves the head over `ids` (ascending, newer than the head) as far as they
 * are contiguous; a hole holds it until it has been there `gapWaitMs`, then
 * is passed over (`skipped`). Pure.
 */
export function advanceHead(state: HeadState, ids: readonly number[], now: number, gapWaitMs: number): HeadState & { skipped: boolean } {
  let { head, gap } = state;
  let skipped = false;
  for (const id of ids) {
    if (id <= head) continue;
    if (id !== head + 1) {
      if (!gap || gap.after !== head) gap = { after: head, since: now };
      if (now - gap.since < gapWaitMs) return { head, gap, skipped };
      skipped = true;
    }
    head = id;
    gap = null;
  }
  return { head, gap, skipped };
}
