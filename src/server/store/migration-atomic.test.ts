/**
 * A migration that fails part-way leaves the store as it was, on SQLite as
 * on PostgreSQL, so the next start (once the cause is fixed) runs it whole.
 * The failure here is an index in the way of the last of the two that
 * 0021_agent_facts_sort creates: without a transaction around the
 * migration, the first index stays, and every later start fails on it.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql, type MigrationProvider } from 'kysely';
import { migrateRetrying, migrationProvider } from './migrations.js';
import { openStore } from './index.js';
import { SQLITE_FILE } from '../data-dir.js';
import { postgresForTest, type TestSchema } from '../../testkit/postgres.js';

const LAST = '0021_agent_facts_sort';

function withoutLast(dialect: 'sqlite' | 'postgres'): MigrationProvider {
  return {
    getMigrations: async () => {
      const all = await migrationProvider(dialect).getMigrations();
      delete all[LAST];
      return all;
    },
  };
}

/** A store from before LAST, with an index by the name LAST's second index takes. */
async function storeWithIndexInTheWay(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres', schema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: withoutLast(dialect), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error } = await migrateRetrying(() => migrator.migrateToLatest(), schema);
  assert.equal(error, undefined);
  await sql`create index agent_facts_os_id on agent_facts (arch)`.execute(db);
}

async function indexes(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres'): Promise<string[]> {
  const rows =
    dialect === 'sqlite'
      ? (await sql<{ name: string }>`select name from sqlite_master where type = 'index' and name like 'agent_facts_%_id'`.execute(db)).rows
      : (await sql<{ name: string }>`select indexname as name from pg_indexes where schemaname = current_schema() and indexname like 'agent_facts_%_id'`.execute(db)).rows;
  return rows.map((r) => r.name).sort();
}

async function failThenRecover(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres', open: () => ReturnType<typeof openStore>): Promise<void> {
  await assert.rejects(open(), /agent_facts_os_id/, 'the migration fails on the index in the way');
  assert.deepEqual(await indexes(db, dialect), ['agent_facts_os_id'], 'nothing of the failed migration is left');
  // The operator removes what was in the way; the next start runs the migration whole.
  await sql`drop index agent_facts_os_id`.execute(db);
  const store = await open();
  try {
    assert.deepEqual(await indexes(db, dialect), ['agent_facts_os_id', 'agent_facts_version_id']);
    assert.equal((await store.queryAgents({ requirements: [], sort: 'version', descending: false, limit: 1 })).total, 0);
  } finally {
    await store.close();
  }
}

describe('a migration that fails part-way', () => {
  let schema: TestSchema | null = null;
  const dirs: string[] = [];
  after(async () => {
    await schema?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('leaves a SQLite store as it was, and runs whole on the next start', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'corral-migrate-atomic-'));
    dirs.push(dir);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, SQLITE_FILE)) }) });
    try {
      await storeWithIndexInTheWay(db, 'sqlite');
      await failThenRecover(db, 'sqlite', () => openStore({ database: '', dataDir: dir }));
    } finally {
      await db.destroy();
    }
  });

  it('leaves a PostgreSQL store as it was, and runs whole on the next start', async (t) => {
    const pgTest = await postgresForTest();
    if ('skip' in pgTest) return t.skip(pgTest.skip);
    schema = pgTest.schema;
    const dir = await mkdtemp(join(tmpdir(), 'corral-migrate-atomic-pg-'));
    dirs.push(dir);
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: schema.url, max: 2 }) }) });
    try {
      await storeWithIndexInTheWay(db, 'postgres', schema.name);
      await failThenRecover(db, 'postgres', () => openStore({ database: schema!.url, dataDir: dir }));
    } finally {
      await db.destroy();
    }
  });
});
