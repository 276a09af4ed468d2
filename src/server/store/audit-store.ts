/**
 * The AuditStore over Kysely (see audit-records.ts for the contract).
 *
 * An append reads the head and inserts head + 1 in one transaction. Appends
 * in this process wait for each other (a promise queue); on PostgreSQL the
 * transaction first takes an advisory lock (per schema), so replicas queue
 * too. Whatever still races (several processes on one SQLite file) meets the
 * primary key on id and is retried against the new head.
 */
import { sql, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { AuditLogTable, Database } from './schema.js';
import type { AuditPruned, AuditQuery, AuditRecord, AuditStore, NewAuditRecord } from './audit-records.js';
import { auditHash, canonicalJson, GENESIS_HASH } from '../audit/chain.js';

type Run = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** First key of the advisory lock the chain is appended under (the second is the schema's hash). */
const CHAIN_LOCK_KEY = 0x436f7241; // "CorA"
/** Attempts of an append that meets a concurrent one at the same id (other processes on one SQLite file). */
const MAX_APPEND_ATTEMPTS = 8;

const num = (v: number | string | bigint): number => Number(v);

function toRecord(r: Selectable<AuditLogTable>): AuditRecord {
  return {
    id: num(r.id),
    at: num(r.at),
    actor: r.actor,
    actorUserId: r.actor_user_id,
    actorTokenId: r.actor_token_id,
    source: r.source,
    action: r.action,
    summary: JSON.parse(r.summary) as Record<string, unknown>,
    target: JSON.parse(r.target) as Record<string, unknown>,
    status: num(r.status),
    outcome: r.outcome as AuditRecord['outcome'],
    message: r.message,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

function isIdConflict(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  return err.code === '23505' || err.code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || err.code === 'SQLITE_BUSY' || err.code === '40001';
}

export class KyselyAuditStore implements AuditStore {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: 'sqlite' | 'postgres',
    private readonly run: Run,
  ) {}

  /** Runs `fn` after every earlier append/prune of this process has finished. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async lockChain(tx: Transaction<Database>): Promise<void> {
    if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${CHAIN_LOCK_KEY}, hashtext(current_schema()))`.execute(tx);
  }

  private readHead(tx: Transaction<Database>) {
    return tx.selectFrom('audit_log').select(['id', 'hash']).orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  /** Inserts `entry` after `head` (read under the lock: the newest record, or undefined for an empty log). */
  private async insertAfter(tx: Transaction<Database>, head: { id: number | string; hash: string } | undefined, entry: NewAuditRecord): Promise<AuditRecord> {
    const unhashed = {
      ...entry,
      // Stored as canonical JSON, and read back as the same values the hash covered.
      summary: JSON.parse(canonicalJson(entry.summary)) as Record<string, unknown>,
      target: JSON.parse(canonicalJson(entry.target)) as Record<string, unknown>,
      id: head ? num(head.id) + 1 : 1,
      prevHash: head?.hash ?? GENESIS_HASH,
    };
    const record: AuditRecord = { ...unhashed, hash: auditHash(unhashed) };
    await tx
      .insertInto('audit_log')
      .values({
        id: record.id,
        at: record.at,
        actor: record.actor,
        actor_user_id: record.actorUserId,
        actor_token_id: record.actorTokenId,
        source: record.source,
        action: record.action,
        summary: canonicalJson(record.summary),
        target: canonicalJson(record.target),
        status: record.status,
        outcome: record.outcome,
        message: record.message,
        prev_hash: record.prevHash,
        hash: record.hash,
      })
      .execute();
    return record;
  }

  /** Runs `fn` in a transaction holding the chain's lock, again if it met a concurrent append. */
  private async locked<T>(fn: (tx: Transaction<Database>) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db.transaction().execute(async (tx) => {
          await this.lockChain(tx);
          return fn(tx);
        });
      } catch (e) {
        if (attempt >= MAX_APPEND_ATTEMPTS || !isIdConflict(e)) throw e;
        await new Promise((r) => setTimeout(r, 5 * attempt + Math.floor(Math.random() * 10)));
      }
    }
  }

  append(entry: NewAuditRecord): Promise<AuditRecord> {
    return this.run('append audit record', () => this.serialized(() => this.locked(async (tx) => this.insertAfter(tx, await this.readHead(tx), entry))));
  }

  list(query: AuditQuery): Promise<AuditRecord[]> {
    return this.run('list audit records', async () => {
      const limit = Math.min(Math.max(query.limit ?? 100, 1), 1000);
      let q = this.db.selectFrom('audit_log').selectAll();
      if (query.afterId !== undefined) q = q.where('id', '>', query.afterId);
      if (query.actor !== undefined) q = q.where('actor', '=', query.actor);
      if (query.since !== undefined) q = q.where('at', '>=', query.since);
      if (query.until !== undefined) q = q.where('at', '<', query.until);
      if (query.action !== undefined) q = q.where('action', '=', query.action);
      if (query.outcome !== undefined) q = q.where('outcome', '=', query.outcome);
      const rows =
        query.afterId === undefined && query.since === undefined
          ? (await q.orderBy('id', 'desc').limit(limit).execute()).reverse()
          : await q.orderBy('id', 'asc').limit(limit).execute();
      return rows.map(toRecord);
    });
  }

  head(): Promise<{ id: number; hash: string } | null> {
    return this.run('read audit head', async () => {
      const r = await this.db.selectFrom('audit_log').select(['id', 'hash']).orderBy('id', 'desc').limit(1).executeTakeFirst();
      return r ? { id: num(r.id), hash: r.hash } : null;
    });
  }

  prune(before: number, maxRecords: number, describe: (pruned: AuditPruned) => NewAuditRecord): Promise<AuditRecord | null> {
    return this.run('prune audit records', () =>
      this.serialized(() =>
        this.locked(async (tx) => {
          // The oldest records first: ids, not times, decide (clocks of replicas may differ a little).
          const old = await tx.selectFrom('audit_log').select(['id', 'hash']).where('at', '<', before).orderBy('id', 'asc').limit(maxRecords).execute();
          if (old.length === 0) return null;
          // Read before deleting: the pruning record follows the newest record even when every record was old.
          const head = await this.readHead(tx);
          const last = old[old.length - 1]!;
          const throughId = num(last.id);
          const deleted = await tx.deleteFrom('audit_log').where('id', '<=', throughId).executeTakeFirst();
          return this.insertAfter(tx, head, describe({ count: Number(deleted.numDeletedRows), throughId, throughHash: last.hash }));
        }),
      ),
    );
  }
}
