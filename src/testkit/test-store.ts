/**
 * A fresh store for a store test suite, on SQLite (in a temporary data dir)
 * or PostgreSQL (in its own schema, see postgres.ts), closed and removed by
 * `close()`. Outside CI an unreachable PostgreSQL gives `{ skip }` instead.
 * `storePerSuite` does it for a `describe`.
 */
import { after, before } from 'node:test';
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

/** What `storePerSuite` gives the tests of a suite. */
export interface SuiteStore {
  /** The open store, from the suite's first `before` on. */
  store: Store;
  /** What it was opened with: its database URL and dir, to open a second store on the same data. */
  opened: TestStore;
  /** Why the suite's tests skip ('' when they run): `if (s.skip) return t.skip(s.skip)`. */
  skip: string;
}

/**
 * A fresh store for the enclosing `describe`: opened (openTestStore) before
 * its tests, closed and removed after them. Call it first in the suite, so
 * its `before` runs ahead of the suite's own.
 */
export function storePerSuite(backend: 'sqlite' | 'postgres', prefix: string): SuiteStore {
  const s = { skip: '' } as SuiteStore;
  before(async () => {
    const opened = await openTestStore(backend, prefix);
    if ('skip' in opened) {
      s.skip = opened.skip;
      return;
    }
    s.opened = opened;
    s.store = opened.store;
  });
  after(async () => {
    await s.opened?.close();
  });
  return s;
}
