/**
 * Writes to the agents table: reports and heartbeats (one agent, or many in
 * batches), status, credential, operator labels, approval and revocation,
 * and bulk inserts. KyselyStore calls these inside its error translation
 * (`run`); enrolling is in enrollment-store.ts, deleting in agent-deletion.ts.
 */
import { sql, type Kysely, type Updateable } from 'kysely';
import type { AgentsTable, Database } from './schema.js';
import type { AgentApproval, AgentRecord, AgentReportPatch, AgentTouch } from './agent-records.js';
import { AgentNotFoundError, AgentRevokedError } from '../errors.js';
import { agentRow, json, newAgentRow, patchColumns, toAgent } from './rows.js';

/** Rows per statement or transaction for batched writes (reports, touches, events, job hosts). */
export const TOUCH_CHUNK = 500;

export async function insertAgents(db: Kysely<Database>, agents: readonly AgentRecord[]): Promise<void> {
  // 20 columns a row: stay under SQLite's and PostgreSQL's bound-parameter limits.
  for (let i = 0; i < agents.length; i += 1000) {
    await db.insertInto('agents').values(agents.slice(i, i + 1000).map(agentRow)).execute();
  }
}

/** Store.upsertAgentReport, in one transaction. */
export function upsertAgentReport(db: Kysely<Database>, id: string, patch: AgentReportPatch, at: number): Promise<AgentRecord> {
  return db.transaction().execute(async (tx) => {
    const existing = await tx.selectFrom('agents').select(['status']).where('id', '=', id).executeTakeFirst();
    if (existing?.status === 'revoked') throw new AgentRevokedError(id);
    const cols = patchColumns(patch);
    if (!existing) {
      await tx
        .insertInto('agents')
        .values(newAgentRow(id, at, cols))
        // Two replicas may create the same agent at once; the second just applies its patch.
        .onConflict((oc) => oc.column('id').doUpdateSet({ ...cols, last_seen_at: at }))
        .execute();
    } else {
      await tx.updateTable('agents').set({ ...cols, last_seen_at: at }).where('id', '=', id).execute();
    }
    const r = await tx.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    return toAgent(r);
  });
}

/** Store.applyAgentReports: on SQLite a transaction per chunk of reports, on PostgreSQL applyAgentReportsBulk. */
export async function applyAgentReports(db: Kysely<Database>, kind: 'sqlite' | 'postgres', reports: { id: string; patch: AgentReportPatch; at: number }[]): Promise<void> {
  if (kind === 'postgres') return applyAgentReportsBulk(db, reports);
  for (let i = 0; i < reports.length; i += TOUCH_CHUNK) {
    await db.transaction().execute(async (tx) => {
      for (const r of reports.slice(i, i + TOUCH_CHUNK)) {
        await tx
          .updateTable('agents')
          .set({ ...patchColumns(r.patch), last_seen_at: sql`max(last_seen_at, ${r.at})` })
          .where('id', '=', r.id)
          .where('status', '!=', 'revoked')
          .execute();
      }
    });
  }
}

/**
 * PostgreSQL: one UPDATE ... FROM (VALUES ...) per group of reports that
 * set the same columns, instead of a round trip per agent.
 */
async function applyAgentReportsBulk(db: Kysely<Database>, reports: { id: string; patch: AgentReportPatch; at: number }[]): Promise<void> {
  const groups = new Map<string, { id: string; cols: Partial<AgentsTable>; at: number }[]>();
  for (const r of reports) {
    const cols = patchColumns(r.patch);
    const key = Object.keys(cols).sort().join(',');
    groups.set(key, [...(groups.get(key) ?? []), { id: r.id, cols, at: r.at }]);
  }
  for (const [key, rows] of groups) {
    const names = key === '' ? [] : key.split(',');
    for (let i = 0; i < rows.length; i += TOUCH_CHUNK) {
      const values = sql.join(
        rows.slice(i, i + TOUCH_CHUNK).map(
          (r) =>
            sql`(${sql.join([
              sql`${r.id}::text`,
              sql`${r.at}::bigint`,
              ...names.map((n) => (n === 'capabilities' ? sql`${r.cols.capabilities}::bigint` : sql`${(r.cols as Record<string, unknown>)[n]}::text`)),
            ])})`,
        ),
      );
      const sets = sql.join([sql`last_seen_at = greatest(agents.last_seen_at, v.at)`, ...names.map((n) => sql`${sql.ref(n)} = v.${sql.ref(n)}`)]);
      const columns = sql.join([sql.ref('id'), sql.ref('at'), ...names.map((n) => sql.ref(n))]);
      await sql`update agents set ${sets} from (values ${values}) as v(${columns})
                where agents.id = v.id and agents.status <> 'revoked'`.execute(db);
    }
  }
}

export async function setAgentCredential(db: Kysely<Database>, id: string, credentialHash: string): Promise<void> {
  const res = await db.updateTable('agents').set({ credential_hash: credentialHash }).where('id', '=', id).where('status', '!=', 'revoked').executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) throw new AgentNotFoundError(id);
}

export async function claimAgentCredential(db: Kysely<Database>, id: string, credentialHash: string): Promise<boolean> {
  const res = await db
    .updateTable('agents')
    .set({ credential_hash: credentialHash })
    .where('id', '=', id)
    .where('credential_hash', 'is', null)
    .where('status', '!=', 'revoked')
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

export function setAgentLabels(db: Kysely<Database>, id: string, labels: Record<string, string>): Promise<AgentRecord> {
  return updateAgent(db, id, { labels: json(labels) });
}

export function setAgentApproval(db: Kysely<Database>, id: string, approval: AgentApproval): Promise<AgentRecord> {
  return updateAgent(db, id, { approval });
}

/** Sets columns of agent `id` (revoked or not) and returns the record after. Throws AgentNotFoundError. */
async function updateAgent(db: Kysely<Database>, id: string, cols: Updateable<AgentsTable>): Promise<AgentRecord> {
  const res = await db.updateTable('agents').set(cols).where('id', '=', id).executeTakeFirst();
  if (Number(res.numUpdatedRows) === 0) throw new AgentNotFoundError(id);
  return toAgent(await db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
}

export async function setAgentStatus(db: Kysely<Database>, id: string, status: 'online' | 'offline', at: number): Promise<boolean> {
  const set = status === 'online' ? { status, last_seen_at: at } : { status };
  const res = await db.updateTable('agents').set(set).where('id', '=', id).where('status', '!=', 'revoked').where('status', '!=', status).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** Store.touchAgents: a statement per chunk on PostgreSQL, a transaction per chunk on SQLite. */
export async function touchAgents(db: Kysely<Database>, kind: 'sqlite' | 'postgres', touches: AgentTouch[]): Promise<string[]> {
  const offline: string[] = [];
  for (let i = 0; i < touches.length; i += TOUCH_CHUNK) {
    const chunk = touches.slice(i, i + TOUCH_CHUNK);
    if (kind === 'postgres') {
      // One statement per chunk: UPDATE ... FROM (VALUES ...).
      const rows = sql.join(chunk.map((t) => sql`(${t.id}::text, ${t.lastSeenAt}::bigint, ${t.lastSequenceNum}::bigint)`));
      const res = await sql<{ id: string; status: string }>`update agents set last_seen_at = greatest(agents.last_seen_at, v.seen), last_sequence_num = v.seq
                from (values ${rows}) as v(id, seen, seq) where agents.id = v.id returning agents.id, agents.status`.execute(db);
      for (const r of res.rows) if (r.status === 'offline') offline.push(r.id);
    } else {
      await db.transaction().execute(async (tx) => {
        for (const t of chunk) {
          const r = await tx
            .updateTable('agents')
            .set({ last_seen_at: sql`max(last_seen_at, ${t.lastSeenAt})`, last_sequence_num: t.lastSequenceNum })
            .where('id', '=', t.id)
            .returning(['id', 'status'])
            .executeTakeFirst();
          if (r?.status === 'offline') offline.push(r.id);
        }
      });
    }
  }
  return offline;
}

export async function markStaleAgentsOffline(db: Kysely<Database>, before: number): Promise<string[]> {
  const rows = await db.updateTable('agents').set({ status: 'offline' }).where('status', '=', 'online').where('last_seen_at', '<', before).returning('id').execute();
  return rows.map((r) => r.id);
}

export async function revokeAgent(db: Kysely<Database>, id: string, at: number): Promise<AgentRecord> {
  await db.updateTable('agents').set({ status: 'revoked', credential_hash: null, revoked_at: at }).where('id', '=', id).where('status', '!=', 'revoked').execute();
  const r = await db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) throw new AgentNotFoundError(id);
  return toAgent(r);
}
