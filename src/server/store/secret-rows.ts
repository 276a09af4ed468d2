/**
 * Key rotation in the store: every sealed secret (deployments, their
 * revisions, config files) re-sealed in one transaction, with the meta row
 * naming the key. The store never sees plaintext: the caller's `reseal`
 * opens with the old key and seals with the new one.
 */
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import type { ConfigFile, SecretResealer } from './store.js';

type Run = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

export function resealSecretsIn(db: Kysely<Database>, run: Run, reseal: SecretResealer, meta: { key: string; value: string }): Promise<{ values: number; files: number }> {
  return run('reseal secrets', () =>
    db.transaction().execute(async (tx) => {
      // A deployment and its revisions share sealed text for an unchanged secret: they keep sharing it.
      const memo = new Map<string, string>();
      const value = (deployment: string, key: string, sealed: string): string => {
        let out = memo.get(sealed);
        if (out === undefined) memo.set(sealed, (out = reseal.deploymentValue(deployment, key, sealed)));
        return out;
      };
      let values = 0;
      let files = 0;
      const resealValues = (deployment: string, json: string): string | null => {
        const sealed = JSON.parse(json) as Record<string, string>;
        if (Object.keys(sealed).length === 0) return null;
        values += Object.keys(sealed).length;
        return JSON.stringify(Object.fromEntries(Object.entries(sealed).map(([k, v]) => [k, value(deployment, k, v)])));
      };
      for (const r of await tx.selectFrom('deployments').select(['name', 'secret_values']).execute()) {
        const next = resealValues(r.name, r.secret_values);
        if (next !== null) await tx.updateTable('deployments').set({ secret_values: next }).where('name', '=', r.name).execute();
      }
      for (const r of await tx.selectFrom('deployment_revisions').select(['deployment', 'revision', 'secret_values']).execute()) {
        const next = resealValues(r.deployment, r.secret_values);
        if (next !== null) await tx.updateTable('deployment_revisions').set({ secret_values: next }).where('deployment', '=', r.deployment).where('revision', '=', r.revision).execute();
      }
      for (const r of await tx.selectFrom('configs').select(['name', 'files']).execute()) {
        const stored = JSON.parse(r.files) as Record<string, ConfigFile>;
        if (!Object.values(stored).some((f) => f.secret)) continue;
        for (const [name, f] of Object.entries(stored)) {
          if (!f.secret) continue;
          stored[name] = { ...f, body: reseal.configFile(r.name, name, f.body) };
          files++;
        }
        await tx.updateTable('configs').set({ files: JSON.stringify(stored) }).where('name', '=', r.name).execute();
      }
      await tx.insertInto('meta').values(meta).onConflict((oc) => oc.column('key').doUpdateSet({ value: meta.value })).execute();
      return { values, files };
    }),
  );
}
