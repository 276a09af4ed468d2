/**
 * A fresh store for a store test suite, on SQLite (in a temporary data dir)
 * or PostgreSQL (in its own schema, see postgres.ts), closed and removed by
 * `close()`. Outside CI an unreachable PostgreSQL gives `{ skip }` instead.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from '../server/store/index.js';
import { postgresForTest } from './postgres.js';

export interface TestStore {
  store: Store;
  /** What `openStore` was given, to open a second store on the same data. */
  database: string;
  dir: string;
  close(): Promise<void>;
}

export async function openTestStore(backend: 'sqlite' | 'postgres', prefix: string): Promise<TestStore | { skip: string }> {
  let database = '';
  let dropSchema = async () => {};
  if (backend === 'postgres') {
    const pg = await postgresForTest();
    if ('skip' in pg) return { skip: pg.skip };
    database = pg.schema.url;
    dropSchema = () => pg.schema.drop();
  }
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const store = await openStore({ database, dataDir: dir });
  return {
    store,
    database,
    dir,
    async close() {
      await store.close();
      await dropSchema();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
