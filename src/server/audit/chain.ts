/**
 * The audit log's hash chain: how a record is hashed, and the walk that
 * checks a chain (`corral audit verify`). Pure: no store, no clock.
 *
 * hash = sha256(`corral-audit-v1\n` + canonical JSON of every field and
 * prevHash), where canonical JSON sorts object keys at every depth, so the
 * same record always hashes the same whatever order its fields were built in.
 *
 * What a walk proves: every remaining record is as written (its hash), none
 * was deleted between two remaining ones (ids are consecutive and each
 * prevHash is its predecessor's hash), and the oldest remaining one is record
 * 1 or was preceded by records a later pruning record accounts for. It cannot
 * tell a chain rewritten from some record on (every later hash recomputed),
 * nor the newest records cut off, unless the caller brings a hash it noted
 * earlier (`expectHash`): that record must still be in the chain.
 */
import { createHash } from 'node:crypto';
import type { AuditRecord } from '../store/audit-records.js';

export const GENESIS_HASH = '0'.repeat(64);
/** The action of the record retention appends when it deletes old records. */
export const PRUNE_ACTION = 'PRUNE audit';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function auditHash(r: Omit<AuditRecord, 'hash'>): string {
  const fields = {
    id: r.id,
    at: r.at,
    actor: r.actor,
    actorUserId: r.actorUserId,
    actorTokenId: r.actorTokenId,
    source: r.source,
    action: r.action,
    summary: r.summary,
    target: r.target,
    status: r.status,
    outcome: r.outcome,
    message: r.message,
    prevHash: r.prevHash,
  };
  return createHash('sha256').update(`corral-audit-v1\n${canonicalJson(fields)}`).digest('hex');
}

export interface ChainFailure {
  /** The record that fails (for missing records: the first one after the gap). */
  id: number;
  reason: string;
}

export interface ChainResult {
  ok: boolean;
  /** Records walked. */
  records: number;
  /** The oldest remaining record's id (null for an empty log). */
  firstId: number | null;
  /** The newest record: note its hash to check against later (`--expect-head`). */
  head: { id: number; hash: string } | null;
  failure: ChainFailure | null;
}

/**
 * Checks records fed oldest first; stops at the first failure. Feed with
 * `add` (returns false once failed), then `finish()`.
 */
export class ChainWalker {
  private prev: AuditRecord | null = null;
  private firstId: number | null = null;
  /** The oldest remaining record when it is not record 1: a later prune record must account for what came before it. */
  private unexplainedStart: { id: number; prevHash: string } | null = null;
  private records = 0;
  private failure: ChainFailure | null = null;
  private expectedSeen = false;

  constructor(private readonly expectHash?: string) {}

  add(r: AuditRecord): boolean {
    if (this.failure) return false;
    this.records++;
    if (auditHash(r) !== r.hash) return this.fail(r.id, `record ${r.id} was altered: its hash does not match its contents`);
    if (this.prev === null) {
      this.firstId = r.id;
      if (r.id === 1) {
        if (r.prevHash !== GENESIS_HASH) return this.fail(r.id, 'record 1 does not start the chain: its prev_hash is not the genesis hash');
      } else {
        this.unexplainedStart = { id: r.id, prevHash: r.prevHash };
      }
    } else {
      if (r.id !== this.prev.id + 1) {
        const gap = r.id <= this.prev.id ? `record ${r.id} is out of order after ${this.prev.id}` : `records ${this.prev.id + 1}..${r.id - 1} are missing (deleted)`;
        return this.fail(r.id, gap);
      }
      if (r.prevHash !== this.prev.hash) return this.fail(r.id, `record ${r.id} does not follow record ${this.prev.id}: its prev_hash is not that record's hash`);
    }
    const start = this.unexplainedStart;
    if (start && r.action === PRUNE_ACTION && r.summary.prunedThroughId === start.id - 1 && r.summary.prunedThroughHash === start.prevHash) {
      this.unexplainedStart = null;
    }
    if (this.expectHash !== undefined && r.hash === this.expectHash) this.expectedSeen = true;
    this.prev = r;
    return true;
  }

  finish(): ChainResult {
    const head = this.prev ? { id: this.prev.id, hash: this.prev.hash } : null;
    if (!this.failure && this.unexplainedStart) {
      this.fail(this.unexplainedStart.id, `records before ${this.unexplainedStart.id} are missing and no pruning record accounts for them`);
    }
    if (!this.failure && this.expectHash !== undefined && !this.expectedSeen) {
      this.fail(head?.id ?? 0, `no record has the expected hash ${this.expectHash}: the chain was rewritten, cut short, or that record was pruned`);
    }
    return { ok: this.failure === null, records: this.records, firstId: this.firstId, head, failure: this.failure };
  }

  private fail(id: number, reason: string): false {
    this.failure = { id, reason };
    return false;
  }
}
