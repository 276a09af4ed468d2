/**
 * Removing agents from the store, one way for every caller: an operator
 * deleting a revoked agent (`Store.deleteAgent`) and the server forgetting
 * long-offline agents (`Store.forgetOfflineAgents`). Both delete the agent
 * rows and, in the same transaction, everything keyed by those agents:
 * their events, per-deployment revisions and credential-rotation state
 * (trusted labels and search facts go with the row, by trigger:
 * agent-derived-migration.ts). Job results and rollout history keep their
 * copy of the agent's name.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { AgentRecord, ForgottenAgent } from './agent-records.js';
import { AgentNotFoundError, AgentNotRevokedError } from '../errors.js';
import { num, toAgent } from './rows.js';

/** Agents forgotten per call at most, whatever the caller asks (bounds the statement and its parameters). */
export const MAX_FORGET_BATCH = 1000;

/** Deletes the rows keyed by these (already deleted or being deleted) agents; returns how many events went. */
export async function deleteAgentRows(tx: Transaction<Database>, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const events = await tx.deleteFrom('events').where('agent_id', 'in', ids).executeTakeFirst();
  await tx.deleteFrom('deployment_agents').where('agent_id', 'in', ids).execute();
  await tx.deleteFrom('agent_credential_rotations').where('agent_id', 'in', ids).execute();
  return Number(events.numDeletedRows);
}

/** Store.deleteAgent: deletes revoked agent `id` and its rows in one transaction. */
export function deleteRevokedAgentTx(db: Kysely<Database>, id: string): Promise<{ agent: AgentRecord; events: number }> {
  return db.transaction().execute(async (tx) => {
    const r = await tx.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new AgentNotFoundError(id);
    if (r.status !== 'revoked') throw new AgentNotRevokedError(id, r.name, r.status);
    await tx.deleteFrom('agents').where('id', '=', id).where('status', '=', 'revoked').execute();
    return { agent: toAgent(r), events: await deleteAgentRows(tx, [id]) };
  });
}

/**
 * Deletes up to `limit` agents that are offline and were last seen before
 * `before`, oldest first, with their rows (deleteAgentRows). The condition
 * is part of the DELETE itself, so an agent that comes back online (status
 * online, a newer last seen) after it was picked is not deleted; on
 * PostgreSQL a second replica deleting at once waits for the first's row
 * locks, re-checks, and finds those agents gone: each agent is returned by
 * exactly one caller. Revoked agents are never forgotten (their row is what
 * keeps their uid refused).
 */
export function forgetOfflineAgentsTx(db: Kysely<Database>, before: number, limit: number): Promise<{ agents: ForgottenAgent[]; events: number }> {
  const n = Math.min(Math.max(Math.floor(limit), 1), MAX_FORGET_BATCH);
  return db.transaction().execute(async (tx) => {
    const rows = await tx
      .deleteFrom('agents')
      .where('id', 'in', (eb) =>
        eb.selectFrom('agents').select('id').where('status', '=', 'offline').where('last_seen_at', '<', before).orderBy('last_seen_at').orderBy('id').limit(n),
      )
      .where('status', '=', 'offline')
      .where('last_seen_at', '<', before)
      .returning(['id', 'name', 'last_seen_at'])
      .execute();
    const agents = rows.map((r) => ({ id: r.id, name: r.name, lastSeenAt: num(r.last_seen_at) })).sort((a, b) => a.lastSeenAt - b.lastSeenAt || (a.id < b.id ? -1 : 1));
    const events = await deleteAgentRows(tx, agents.map((a) => a.id));
    return { agents, events };
  });
}
