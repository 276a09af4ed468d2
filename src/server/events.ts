/**
 * Records fleet events (agent online/offline/revoked, config changed, ...)
 * in the store. Events are buffered briefly and written in one batch so that
 * 10,000 agents coming online at once cost a handful of writes, not 10,000.
 */
import type { Logger } from 'pino';
import type { NewEvent, Store } from './store/index.js';
import type { Clock } from './clock.js';

export class EventRecorder {
  private buffer: NewEvent[] = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: { store: Store; clock: Clock; log: Logger; flushMs?: number; /** Called after a batch is stored (live streams look sooner). */ onStored?: () => void }) {}

  record(type: string, agentId: string | null, data: Record<string, unknown> = {}): void {
    this.buffer.push({ at: this.deps.clock.now(), type, agentId, data });
    this.timer ??= setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, this.deps.flushMs ?? 200);
  }

  /** Writes everything recorded so far. Resolves when it is in the store. */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    this.flushing = this.deps.store
      .appendEvents(batch)
      .then(() => this.deps.onStored?.())
      .catch((err: unknown) => this.deps.log.error({ err, count: batch.length }, 'failed to store events'))
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
  }
}
