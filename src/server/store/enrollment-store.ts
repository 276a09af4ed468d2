/**
 * Enrollment with a scoped token, as one transaction: the cap, the expiry
 * and the revocation are checked and the count taken by a single
 * conditional UPDATE on the token row (which PostgreSQL locks, so replicas
 * enrolling at once queue behind each other), then the agent is created with
 * the token's labels bound to it.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { EnrollmentOutcome } from './store.js';
import { newAgentRow } from './rows.js';

export async function enrollAgentTx(
  db: Kysely<Database>,
  e: { id: string; tokenId: string; at: number; requireApproval: boolean },
): Promise<EnrollmentOutcome> {
  return db.transaction().execute(async (tx) => {
    if (await tx.selectFrom('agents').select('id').where('id', '=', e.id).executeTakeFirst()) return 'exists';
    const counted = await tx
      .updateTable('tokens')
      .set((eb) => ({ enrolled_agents: eb('enrolled_agents', '+', 1) }))
      .where('id', '=', e.tokenId)
      .where('kind', '=', 'enrollment')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', e.at)]))
      .where((eb) => eb.or([eb('max_agents', 'is', null), eb('enrolled_agents', '<', eb.ref('max_agents'))]))
      .executeTakeFirst();
    const token = await tx.selectFrom('tokens').select(['labels', 'revoked_at', 'expires_at', 'require_approval']).where('id', '=', e.tokenId).executeTakeFirst();
    if (Number(counted.numUpdatedRows) === 0 || !token) {
      if (!token || token.revoked_at !== null) return 'token-revoked';
      if (token.expires_at !== null && Number(token.expires_at) <= e.at) return 'token-expired';
      return 'token-exhausted';
    }
    const inserted = await tx
      .insertInto('agents')
      .values(
        newAgentRow(e.id, e.at, {
          bound_labels: token.labels,
          enrollment_token_id: e.tokenId,
          approval: e.requireApproval || Number(token.require_approval) === 1 ? 'pending' : 'approved',
        }),
      )
      // Another replica created it meanwhile: that enrollment counted, this one does not.
      .onConflict((oc) => oc.column('id').doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) {
      await tx.updateTable('tokens').set((eb) => ({ enrolled_agents: eb('enrolled_agents', '-', 1) })).where('id', '=', e.tokenId).execute();
      return 'exists';
    }
    return 'enrolled';
  });
}
