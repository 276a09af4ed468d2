/**
 * Upgrading a store across 0014_job_list, on SQLite and PostgreSQL: the
 * store had already run 0015 (numbers were handed out ahead), so 0014 runs
 * after it; jobs started before get their selector and their starter (from
 * their job.started event), and hosts killed at the timeout count as timed
 * out in the list.
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

/** Every migration but 0014: a store from before it was written. */
function without0014(dialect: 'sqlite' | 'postgres'): MigrationProvider {
  return {
    getMigrations: async () => {
      const all = await migrationProvider(dialect).getMigrations();
      delete all['0014_job_list'];
      return all;
    },
  };
}

async function oldStoreWithJobs(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres', schema?: string): Promise<void> {
  const migrator = new Migrator({ db, provider: without0014(dialect), ...(schema ? { migrationTableSchema: schema } : {}) });
  const { error, results } = await migrateRetrying(() => migrator.migrateToLatest(), schema);
  assert.equal(error, undefined);
  assert.ok(results?.some((r) => r.migrationName === '0015_agent_list_indexes'), 'the old store ran 0015');
  const spec = (selector: string) => JSON.stringify({ selector, command: ['true'], service: null, timeoutMs: 1000, maxConcurrency: '1', errorBudget: '0' });
  await sql`insert into jobs (id, spec, status, created_at, finished_at) values ('j1', ${spec('env=prod')}, 'failed', 10, 20), ('j2', ${spec('env=dev')}, 'succeeded', 30, 40)`.execute(db);
  const host = (job: string, agent: string, status: string, error: string) =>
    sql`insert into job_hosts (job_id, agent_id, agent_name, status, exit_code, signal, output, truncated, error, started_at, finished_at)
        values (${job}, ${agent}, ${agent}, ${status}, null, null, '', 0, ${error}, 1, 2)`.execute(db);
  await host('j1', 'a', 'failed', 'timed out after 1000 ms');
  await host('j1', 'b', 'failed', 'exit 3');
  await host('j1', 'c', 'succeeded', '');
  await sql`insert into events (at, type, agent_id, data) values (10, 'job.started', null, ${JSON.stringify({ id: 'j1', command: ['true'], targets: 3, actor: 'alice' })})`.execute(db);
}

async function assertUpgraded(store: Awaited<ReturnType<typeof openStore>>): Promise<void> {
  const page = await store.queryJobs({ limit: 10 });
  assert.deepEqual(
    page.jobs.map((j) => ({ id: j.id, by: j.createdBy, selector: j.spec.selector })),
    [
      { id: 'j2', by: '', selector: 'env=dev' },
      { id: 'j1', by: 'alice', selector: 'env=prod' },
    ],
  );
  assert.deepEqual(page.jobs[1]!.hosts, { ok: 1, failed: 1, timedOut: 1, skipped: 0, running: 0, pending: 0 });
  assert.deepEqual((await store.queryJobs({ limit: 10, selectors: ['env=prod'] })).jobs.map((j) => j.id), ['j1'], 'the selector column is filled');
  assert.deepEqual((await store.queryJobs({ limit: 10, createdBy: 'alice' })).jobs.map((j) => j.id), ['j1']);
}

describe('migration 0014_job_list', () => {
  let schema: TestSchema | null = null;
  let dir = '';
  let pgDir = '';
  after(async () => {
    await schema?.drop();
    for (const d of [dir, pgDir]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('runs after 0015 on a store that had it, and fills in the older jobs, on SQLite', async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-0014-'));
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, SQLITE_FILE)) }) });
    try {
      await oldStoreWithJobs(db, 'sqlite');
    } finally {
      await db.destroy();
    }
    const store = await openStore({ database: '', dataDir: dir });
    try {
      await assertUpgraded(store);
    } finally {
      await store.close();
    }
  });

  it('runs after 0015 on a store that had it, and fills in the older jobs, on PostgreSQL', async (t) => {
    const pgTest = await postgresForTest();
    if ('skip' in pgTest) return t.skip(pgTest.skip);
    schema = pgTest.schema;
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: schema.url, max: 2 }) }) });
    try {
      await oldStoreWithJobs(db, 'postgres', schema.name);
    } finally {
      await db.destroy();
    }
    pgDir = await mkdtemp(join(tmpdir(), 'corral-0014-pg-'));
    const store = await openStore({ database: schema.url, dataDir: pgDir });
    try {
      await assertUpgraded(store);
    } finally {
      await store.close();
    }
  });
});
