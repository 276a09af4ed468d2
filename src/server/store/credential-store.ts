/** The CredentialStore over Kysely (see store.ts for the contract). */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { CredentialRotationRecord, CredentialStore } from './store.js';

type Run = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

const CHUNK = 500;
const numOrNull = (v: number | string | bigint | null): number | null => (v === null ? null : Number(v));

export class KyselyCredentialStore implements CredentialStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly run: Run,
  ) {}

  requestRotation(agentIds: string[], at: number): Promise<number> {
    return this.run('request credential rotation', async () => {
      let marked = 0;
      for (let i = 0; i < agentIds.length; i += CHUNK) {
        const ids = agentIds.slice(i, i + CHUNK);
        const live = await this.db.selectFrom('agents').select('id').where('id', 'in', ids).where('status', '!=', 'revoked').where('credential_hash', 'is not', null).execute();
        for (const { id } of live) {
          await this.db
            .insertInto('agent_credential_rotations')
            .values({ agent_id: id, requested_at: at, previous_hash: null, previous_expires_at: null })
            .onConflict((oc) => oc.column('agent_id').doUpdateSet({ requested_at: at }))
            .execute();
        }
        marked += live.length;
      }
      return marked;
    });
  }

  listRequestedRotations(): Promise<string[]> {
    return this.run('list requested rotations', async () => {
      const rows = await this.db.selectFrom('agent_credential_rotations').select('agent_id').where('requested_at', 'is not', null).execute();
      return rows.map((r) => r.agent_id);
    });
  }

  getRotation(agentId: string): Promise<CredentialRotationRecord | null> {
    return this.run('get credential rotation', async () => {
      const r = await this.db.selectFrom('agent_credential_rotations').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
      return r ? { agentId: r.agent_id, requestedAt: numOrNull(r.requested_at), previousHash: r.previous_hash, previousExpiresAt: numOrNull(r.previous_expires_at) } : null;
    });
  }

  rotateCredential(agentId: string, newHash: string, opts: { keepPrevious: boolean; previousUntil: number; onlyIfRequested?: boolean }): Promise<boolean> {
    return this.run('rotate credential', () =>
      this.db.transaction().execute(async (tx) => {
        if (opts.onlyIfRequested) {
          // Takes the request: of two replicas racing for it, one gets a row here.
          const taken = await tx
            .updateTable('agent_credential_rotations')
            .set({ requested_at: null })
            .where('agent_id', '=', agentId)
            .where('requested_at', 'is not', null)
            .executeTakeFirst();
          if (Number(taken.numUpdatedRows) === 0) return false;
        }
        const agent = await tx.selectFrom('agents').select('credential_hash').where('id', '=', agentId).executeTakeFirst();
        const row = await tx.selectFrom('agent_credential_rotations').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
        const keep = opts.keepPrevious && row?.previous_hash;
        const previous = keep ? { previous_hash: row.previous_hash, previous_expires_at: row.previous_expires_at } : { previous_hash: agent?.credential_hash ?? null, previous_expires_at: opts.previousUntil };
        await tx
          .insertInto('agent_credential_rotations')
          .values({ agent_id: agentId, requested_at: null, ...previous })
          .onConflict((oc) => oc.column('agent_id').doUpdateSet({ requested_at: null, ...previous }))
          .execute();
        await tx.updateTable('agents').set({ credential_hash: newHash }).where('id', '=', agentId).execute();
        return true;
      }),
    );
  }

  confirmCredential(agentId: string): Promise<void> {
    return this.run('confirm credential', async () => {
      await this.db.deleteFrom('agent_credential_rotations').where('agent_id', '=', agentId).where('requested_at', 'is', null).execute();
      await this.db.updateTable('agent_credential_rotations').set({ previous_hash: null, previous_expires_at: null }).where('agent_id', '=', agentId).execute();
    });
  }

  findAgentByPreviousCredentialHash(hash: string, now: number): Promise<string | null> {
    return this.run('find agent by previous credential', async () => {
      const r = await this.db
        .selectFrom('agent_credential_rotations')
        .innerJoin('agents', 'agents.id', 'agent_credential_rotations.agent_id')
        .select('agents.id')
        .where('agent_credential_rotations.previous_hash', '=', hash)
        .where('agent_credential_rotations.previous_expires_at', '>', now)
        .where('agents.status', '!=', 'revoked')
        .where('agents.credential_hash', 'is not', null)
        .executeTakeFirst();
      return r?.id ?? null;
    });
  }
}
