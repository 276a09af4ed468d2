/**
 * Status reports from agents already known to this process are merged per
 * agent and written in batches: 10,000 agents acknowledging a config
 * (APPLYING, then APPLIED) become a few transactions, not 20,000.
 */
import type { AgentReportPatch, Store } from '../store/index.js';

export class ReportBuffer {
  private pending = new Map<string, { patch: AgentReportPatch; at: number }>();
  private flushing: Promise<void> | null = null;

  constructor(private readonly store: Store) {}

  get size(): number {
    return this.pending.size;
  }

  /** Later fields win over earlier ones for the same agent. */
  add(id: string, patch: AgentReportPatch, at: number): void {
    const prev = this.pending.get(id);
    this.pending.set(id, { patch: prev ? { ...prev.patch, ...patch } : patch, at });
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  /** Drops what is pending for an agent (it was revoked or re-read). */
  forget(id: string): void {
    this.pending.delete(id);
  }

  /** Writes everything added so far; resolves with how many agents' reports were written, once stored. */
  async flush(): Promise<number> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return 0;
    const batch = [...this.pending].map(([id, r]) => ({ id, ...r }));
    this.pending = new Map();
    this.flushing = this.store.applyAgentReports(batch).finally(() => {
      this.flushing = null;
    });
    await this.flushing;
    return batch.length;
  }
}
