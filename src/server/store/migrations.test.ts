/**
 * Upgrading a store across 0010_enrollment_scope keeps what agents already
 * receive: the labels they reported before trusted labels existed become
 * their token-bound labels, once. On SQLite and PostgreSQL.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { migrateRetrying, migrationProvider } from './migrations.js';
import { postgresForTest, type TestSchema } from '../../testkit/postgres.js';

async function upgradeKeepsReportedLabels(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres', schema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect), ...(schema ? { migrationTableSchema: schema } : {}) });
  const before = await migrateRetrying(() => migrator.migrateTo('0006_artifact_chunks'), schema);
  assert.equal(before.error, undefined);
  const attrs = { 'corral.label.env': 'prod', 'corral.label.claim.x': 'y', 'corral.label.bad key': 'v', 'host.arch': 'arm64' };
  for (const [id, a] of [['a1', attrs], ['a2', { 'os.type': 'linux' }]] as const) {
    await sql`insert into agents (id, kind, name, status, non_identifying_attributes, first_seen_at, last_seen_at)
              values (${id}, 'corral', ${id}, 'online', ${JSON.stringify(a)}, 1, 1)`.execute(db);
  }
  const latest = await migrateRetrying(() => migrator.migrateToLatest(), schema);
  assert.equal(latest.error, undefined);
  const rows = (await sql<{ id: string; bound_labels: string; approval: string }>`select id, bound_labels, approval from agents order by id`.execute(db)).rows;
  assert.deepEqual(
    rows.map((r) => ({ id: r.id, bound: JSON.parse(r.bound_labels) as unknown, approval: r.approval })),
    [
      { id: 'a1', bound: { env: 'prod' }, approval: 'approved' },
      { id: 'a2', bound: {}, approval: 'approved' },
    ],
    'reported labels that are valid label keys (not claim.*) become bound labels; everything else stays a claim',
  );
}

describe('migration 0010_enrollment_scope', () => {
  let schema: TestSchema | null = null;
  after(async () => schema?.drop());

  it('binds the labels agents reported before the upgrade, on SQLite', async () => {
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }) });
    try {
      await upgradeKeepsReportedLabels(db, 'sqlite');
    } finally {
      await db.destroy();
    }
  });

  it('binds the labels agents reported before the upgrade, on PostgreSQL', async (t) => {
    const pgTest = await postgresForTest();
    if ('skip' in pgTest) return t.skip(pgTest.skip);
    schema = pgTest.schema;
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: schema.url, max: 2 }) }) });
    try {
      await upgradeKeepsReportedLabels(db, 'postgres', schema.name);
    } finally {
      await db.destroy();
    }
  });
});

async function upgradeGivesAdminTokensToTheBuiltinAdmin(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres', schema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationProvider(dialect), ...(schema ? { migrationTableSchema: schema } : {}) });
  assert.equal((await migrateRetrying(() => migrator.migrateTo('0010_enrollment_scope'), schema)).error, undefined);
  for (const [id, kind] of [['t-admin', 'admin'], ['t-enroll', 'enrollment']] as const) {
    await sql`insert into tokens (id, kind, name, hash, prefix, created_at) values (${id}, ${kind}, ${id}, ${`hash-${id}`}, 'p', 1)`.execute(db);
  }
  assert.equal((await migrateRetrying(() => migrator.migrateToLatest(), schema)).error, undefined);
  const tokens = (await sql<{ id: string; user_id: string | null }>`select id, user_id from tokens order by id`.execute(db)).rows;
  assert.deepEqual(tokens, [{ id: 't-admin', user_id: 'admin' }, { id: 't-enroll', user_id: null }]);
  const roles = (await sql<{ user_id: string; role: string; selector: string }>`select user_id, role, selector from user_roles`.execute(db)).rows;
  assert.deepEqual(roles, [{ user_id: 'admin', role: 'admin', selector: '' }]);
}

describe('migration 0011_users', () => {
  let schema: TestSchema | null = null;
  after(async () => schema?.drop());

  it('makes existing admin tokens belong to the built-in admin (admin on the whole fleet), on SQLite', async () => {
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }) });
    try {
      await upgradeGivesAdminTokensToTheBuiltinAdmin(db, 'sqlite');
    } finally {
      await db.destroy();
    }
  });

  it('makes existing admin tokens belong to the built-in admin, on PostgreSQL', async (t) => {
    const pgTest = await postgresForTest();
    if ('skip' in pgTest) return t.skip(pgTest.skip);
    schema = pgTest.schema;
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: schema.url, max: 2 }) }) });
    try {
      await upgradeGivesAdminTokensToTheBuiltinAdmin(db, 'postgres', schema.name);
    } finally {
      await db.destroy();
    }
  });
});

describe('migrateRetrying', () => {
  const gone = (schema: string) => Object.assign(new Error(`schema "${schema}" does not exist`), { code: '3F000' });
  const runs = (outcomes: (Error | undefined)[]) => {
    let calls = 0;
    const run = async () => ({ error: outcomes[Math.min(calls++, outcomes.length - 1)], results: [] });
    return { run, calls: () => calls };
  };

  it('runs again when another schema vanished under the catalog listing, and returns the first clean outcome', async () => {
    const r = runs([gone('corral_test_other'), gone('corral_test_another'), undefined]);
    assert.equal((await migrateRetrying(r.run, 'corral_test_mine')).error, undefined);
    assert.equal(r.calls(), 3);
  });

  it('returns at once when its own schema is missing, or on any other error', async () => {
    for (const error of [gone('corral_test_mine'), new Error('index agent_facts_os_id already exists')]) {
      const r = runs([error, undefined]);
      assert.equal((await migrateRetrying(r.run, 'corral_test_mine')).error, error);
      assert.equal(r.calls(), 1);
    }
  });

  it('gives up after five runs', async () => {
    const r = runs([gone('corral_test_other')]);
    assert.match(String((await migrateRetrying(r.run, 'corral_test_mine')).error), /corral_test_other/);
    assert.equal(r.calls(), 5);
  });
});
