/**
 * Events caused by what agents send (service state changes, config
 * failures, online/offline, refused messages) pass through a per-agent
 * budget: at most `perMinute` per agent per minute window. Past it, events
 * are dropped and counted; the first drop in a window records one
 * `agent.events_dropped` summary event instead, so a flapping or hostile
 * agent costs at most `perMinute + 1` rows a minute, not 60,000.
 */
import type { Clock } from '../clock.js';

export interface EventSink {
  record(type: string, agentId: string | null, data?: Record<string, unknown>): void;
}

const WINDOW_MS = 60_000;
/** Past this many tracked agents, windows that have ended are forgotten. */
const PRUNE_AT_AGENTS = 10_000;

export class AgentEventBudget implements EventSink {
  private readonly windows = new Map<string, { startedAt: number; used: number; dropped: number }>();

  constructor(
    private readonly sink: EventSink,
    private readonly opts: { perMinute: number; clock: Clock; onDropped?: (agentId: string) => void },
  ) {}

  record(type: string, agentId: string | null, data: Record<string, unknown> = {}): void {
    if (agentId === null) return this.sink.record(type, agentId, data);
    const now = this.opts.clock.now();
    let w = this.windows.get(agentId);
    if (!w || now - w.startedAt >= WINDOW_MS) {
      if (!w && this.windows.size >= PRUNE_AT_AGENTS) this.prune(now);
      w = { startedAt: now, used: 0, dropped: 0 };
      this.windows.set(agentId, w);
    }
    if (w.used < this.opts.perMinute) {
      w.used++;
      return this.sink.record(type, agentId, data);
    }
    w.dropped++;
    this.opts.onDropped?.(agentId);
    if (w.dropped === 1) {
      this.sink.record('agent.events_dropped', agentId, {
        limitPerMinute: this.opts.perMinute,
        firstDropped: type,
        until: new Date(w.startedAt + WINDOW_MS).toISOString(),
      });
    }
  }

  private prune(now: number): void {
    for (const [id, w] of this.windows) if (now - w.startedAt >= WINDOW_MS) this.windows.delete(id);
  }
}
