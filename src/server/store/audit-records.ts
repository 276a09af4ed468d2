/**
 * The audit log's records: one per write (or exec) through the REST API,
 * and one per thing the server did to the log itself (pruning). Records form
 * a hash chain: each carries the hash of the one before it, so a row altered
 * or deleted in the database is found by `verify` (src/server/audit/chain.ts).
 */

/** ok: 2xx/3xx; denied: 401/403 (the caller may not); error: any other failure (invalid input, not found, server error). */
export type AuditOutcome = 'ok' | 'denied' | 'error';

export interface NewAuditRecord {
  at: number;
  /** The user's name (SYSTEM_ACTOR 'corral' for what the server did by itself). */
  actor: string;
  actorUserId: string;
  /** The API token the request came with; '' for the server itself. */
  actorTokenId: string;
  /** The caller's address ('' for the server itself). */
  source: string;
  /** HTTP method + route template, e.g. `PUT /api/v1/configs/{name}`; `PRUNE audit` for retention. */
  action: string;
  /** What changed, with secrets masked (never a request body wholesale). */
  summary: Record<string, unknown>;
  /** What it was aimed at: selector, agent ids, deployment, config, ... */
  target: Record<string, unknown>;
  /** HTTP status of the answer (0 for records the server makes itself). */
  status: number;
  outcome: AuditOutcome;
  /** The error message of a failed or refused request; '' when it succeeded. */
  message: string;
}

export interface AuditRecord extends NewAuditRecord {
  /** 1, 2, 3, ... without gaps: a gap is a deleted record. */
  id: number;
  /** The hash of record id-1 (64 zeros for record 1). */
  prevHash: string;
  /** sha256 hex over the canonical serialization of every field above and prevHash. */
  hash: string;
}

export interface AuditQuery {
  /** Only records with id greater than this (oldest first from there). */
  afterId?: number;
  /** Only this user's records (by name). */
  actor?: string;
  /** Only records at or after this time (ms); oldest first from there when afterId is absent. */
  since?: number;
  /** Only records before this time (ms). */
  until?: number;
  /** Only this action (exact, e.g. `POST /api/v1/jobs`). */
  action?: string;
  /** Only records with this outcome. */
  outcome?: 'ok' | 'denied' | 'error';
  /** Default 100, at most 1000. Without afterId and since: the newest `limit`. Oldest first always. */
  limit?: number;
}

/** What `prune` removed: records 1..throughId (those still there), the last of them with this hash. */
export interface AuditPruned {
  count: number;
  throughId: number;
  throughHash: string;
}

/**
 * The append-only audit table. Appends are serialized (in the process, and
 * across replicas on PostgreSQL by a transaction-scoped advisory lock, with
 * the primary key on id as a backstop), so the chain never forks.
 */
export interface AuditStore {
  /** Appends a record after the current head and returns it with its id and hashes. */
  append(entry: NewAuditRecord): Promise<AuditRecord>;
  list(query: AuditQuery): Promise<AuditRecord[]>;
  /** The newest record's id and hash; null for an empty log. */
  head(): Promise<{ id: number; hash: string } | null>;
  /**
   * Deletes the oldest records (at most `maxRecords`) whose time is before
   * `before`, and appends the record `describe` makes of
   * that, in one transaction under the chain's lock. Returns the appended
   * record, or null (nothing deleted, nothing appended) when none is that old.
   */
  prune(before: number, maxRecords: number, describe: (pruned: AuditPruned) => NewAuditRecord): Promise<AuditRecord | null>;
}
