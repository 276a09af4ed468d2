/**
 * Timers that fire only when a test says so: `runNext()` fires the earliest
 * due one, `pending()` lists what is scheduled. For components that take a
 * `Timers` (e.g. the service supervisor), so a test shows that something did
 * or did not get scheduled without sleeping.
 */
import type { Timers } from '../agent/services/timers.js';

export class ManualTimers implements Timers {
  private now = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; ms: number; fn: () => void }>();

  setTimeout(fn: () => void, ms: number): unknown {
    const id = ++this.seq;
    this.due.set(id, { at: this.now + ms, ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** The delays (ms, as scheduled) of the timers not yet fired or cleared, earliest due first. */
  pending(): number[] {
    return [...this.due.values()].sort((a, b) => a.at - b.at).map((t) => t.ms);
  }

  /** Fires the earliest due timer, moving time to it. Throws when none is scheduled. */
  runNext(): void {
    const next = [...this.due.entries()].sort(([, a], [, b]) => a.at - b.at)[0];
    if (!next) throw new Error('no timer is scheduled');
    this.due.delete(next[0]);
    this.now = next[1].at;
    next[1].fn();
  }
}
