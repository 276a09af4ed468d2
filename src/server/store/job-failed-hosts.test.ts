/**
 * The job list's "has failed hosts" filter reads a per-job count kept by
 * triggers on job_hosts (migration 0017), on SQLite and PostgreSQL: it
 * follows hosts that fail, time out, are stored again, change their result
 * and are deleted; two replicas storing results of one job at once keep it
 * exact; and upgrading a store counts the jobs it already had.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { openStore, type JobHostRecord, type JobRecord, type Store } from './index.js';
import { migrationProvider } from './migrations.js';
import { SQLITE_FILE } from '../data-dir.js';
import { storePerSuite, type TestStore } from '../../testkit/test-store.js';
import { postgresForTest, type TestSchema } from '../../testkit/postgres.js';

function job(id: string, createdAt: number): JobRecord {
  return { id, spec: { selector: 'env=prod', command: ['true'], service: null, timeoutMs: 1000, maxConcurrency: '10', errorBudget: '0' }, status: 'running', createdBy: 'alice', createdAt, finishedAt: null };
}

function host(jobId: string, agent: number, over: Partial<JobHostRecord> = {}): JobHostRecord {
  return { jobId, agentId: `agent-${agent}`, agentName: `host-${agent}`, status: 'pending', exitCode: null, signal: null, output: '', truncated: false, timedOut: false, error: '', startedAt: null, finishedAt: null, ...over };
}

const failed = (jobId: string, agent: number) => host(jobId, agent, { status: 'failed', exitCode: 1, error: 'exit 1', startedAt: 1, finishedAt: 2 });
const timedOut = (jobId: string, agent: number) => host(jobId, agent, { status: 'failed', timedOut: true, error: 'timed out after 1000 ms', startedAt: 1, finishedAt: 2 });
const succeeded = (jobId: string, agent: number) => host(jobId, agent, { status: 'succeeded', exitCode: 0, startedAt: 1, finishedAt: 3 });

async function withFailedHosts(store: Store): Promise<string[]> {
  const page = await store.queryJobs({ limit: 500, hasFailedHosts: true });
  assert.equal(page.total, page.jobs.length, 'total counts the same jobs as the page');
  return page.jobs.map((j) => j.id);
}

/** Runs one statement on the store's database beside the store (what an operator's psql or sqlite3 would do). */
async function rawSql(ts: TestStore, backend: 'sqlite' | 'postgres', text: string): Promise<void> {
  const db =
    backend === 'sqlite'
      ? new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(ts.dir, SQLITE_FILE)) }) })
      : new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: ts.database, max: 1 }) }) });
  try {
    await sql.raw(text).execute(db);
  } finally {
    await db.destroy();
  }
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`failed-host count follows every write to job_hosts: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-job-failed-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    it('follows hosts that fail, time out, are stored again, change result and are deleted', async (t) => {
      if (s.skip) return t.skip(s.skip);
      await store.createJob(job('a', 10), [host('a', 1), host('a', 2), host('a', 3)]);
      await store.createJob(job('b', 20), [failed('b', 1), host('b', 2)]);
      assert.deepEqual(await withFailedHosts(store), ['b'], 'a host failed when the job was created');

      await store.putJobHost(host('a', 1, { status: 'running', startedAt: 1 }));
      assert.deepEqual(await withFailedHosts(store), ['b'], 'running is not failed');
      await store.putJobHost(failed('a', 1));
      await store.putJobHost(timedOut('a', 2));
      assert.deepEqual(await withFailedHosts(store), ['b', 'a'], 'a failed host and a timed-out one');
      // The same result stored again (putJobHost is an upsert) is not a second failure.
      await store.putJobHost({ ...failed('a', 1), output: 'again' });
      await store.putJobHost(succeeded('a', 1));
      assert.deepEqual(await withFailedHosts(store), ['b', 'a'], 'one host still timed out');
      await store.putJobHost(succeeded('a', 2));
      assert.deepEqual(await withFailedHosts(store), ['b'], 'no failed host left on a');
      await store.putJobHost(failed('a', 3));
      assert.deepEqual(await withFailedHosts(store), ['b', 'a']);

      await rawSql(s.opened, backend, `delete from job_hosts where job_id = 'a' and agent_id = 'agent-3'`);
      await rawSql(s.opened, backend, `delete from job_hosts where job_id = 'b' and agent_id = 'agent-2'`);
      assert.deepEqual(await withFailedHosts(store), ['b'], 'deleting the failed host clears it; deleting another host does not');
      assert.deepEqual(
        (await store.queryJobs({ limit: 10, hasFailedHosts: true, state: 'running' })).jobs.map((j) => j.id),
        ['b'],
        'combined with the state filter',
      );
    });

    it('stays exact when two replicas store results of one job at the same time', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const other = await openStore({ database: s.opened.database, dataDir: s.opened.dir });
      try {
        const hosts = Array.from({ length: 40 }, (_, i) => host('c', i));
        await store.createJob(job('c', 30), hosts);
        const each = (fn: (i: number) => JobHostRecord) => Promise.all(hosts.map((_, i) => (i % 2 ? other : store).putJobHost(fn(i))));
        await each((i) => (i % 3 ? failed('c', i) : timedOut('c', i)));
        // 39 of the 40 succeed on a second run: lost or doubled counts would show as 'c' gone or kept wrongly.
        await Promise.all(hosts.slice(1).map((_, i) => (i % 2 ? store : other).putJobHost(succeeded('c', i + 1))));
        assert.ok((await withFailedHosts(store)).includes('c'), 'one host of c is still failed');
        await other.putJobHost(succeeded('c', 0));
        assert.ok(!(await withFailedHosts(store)).includes('c'), 'no host of c is failed');
      } finally {
        await other.close();
      }
    });
  });
}

describe('migration 0017_list_indexes', () => {
  let schema: TestSchema | null = null;
  const dirs: string[] = [];
  after(async () => {
    await schema?.drop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  /** A store as 0016 left it, with jobs: j1 one failed host, j2 none, j3 a failed and a timed-out one (still running). */
  async function oldStoreWithJobs(db: Kysely<unknown>, dialect: 'sqlite' | 'postgres', schemaName?: string): Promise<void> {
    const migrator = new Migrator({ db, provider: migrationProvider(dialect), ...(schemaName ? { migrationTableSchema: schemaName } : {}) });
    assert.equal((await migrator.migrateTo('0016_agent_labels_facts')).error, undefined);
    const spec = JSON.stringify(job('x', 0).spec);
    await sql`insert into jobs (id, spec, status, created_at, finished_at, selector) values
              ('j1', ${spec}, 'failed', 10, 20, 'env=prod'), ('j2', ${spec}, 'succeeded', 30, 40, 'env=prod'), ('j3', ${spec}, 'running', 50, null, 'env=prod')`.execute(db);
    for (const [j, a, status, timedOut] of [
      ['j1', 'agent-1', 'failed', 0],
      ['j1', 'agent-2', 'succeeded', 0],
      ['j2', 'agent-1', 'succeeded', 0],
      ['j3', 'agent-1', 'failed', 0],
      ['j3', 'agent-2', 'failed', 1],
      ['j3', 'agent-3', 'running', 0],
    ] as const) {
      await sql`insert into job_hosts (job_id, agent_id, agent_name, status, exit_code, signal, output, truncated, timed_out, error, started_at, finished_at)
                values (${j}, ${a}, ${a}, ${status}, null, null, '', 0, ${timedOut}, '', 1, 2)`.execute(db);
    }
  }

  async function assertCounted(store: Store): Promise<void> {
    assert.deepEqual(await withFailedHosts(store), ['j3', 'j1']);
    assert.deepEqual((await store.queryJobs({ limit: 10, state: 'running' })).jobs.map((j) => j.id), ['j3']);
    // Counted, not just flagged: j1 had one failed host, j3 two.
    await store.putJobHost(succeeded('j1', 1));
    await store.putJobHost(succeeded('j3', 1));
    assert.deepEqual(await withFailedHosts(store), ['j3']);
  }

  it('counts the failed hosts of the jobs already stored, on SQLite', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'corral-0017-'));
    dirs.push(dir);
    const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new SqliteDatabase(join(dir, SQLITE_FILE)) }) });
    try {
      await oldStoreWithJobs(db, 'sqlite');
    } finally {
      await db.destroy();
    }
    const store = await openStore({ database: '', dataDir: dir });
    try {
      await assertCounted(store);
    } finally {
      await store.close();
    }
  });

  it('counts the failed hosts of the jobs already stored, on PostgreSQL', async (t) => {
    const pgTest = await postgresForTest();
    if ('skip' in pgTest) return t.skip(pgTest.skip);
    schema = pgTest.schema;
    const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: schema.url, max: 2 }) }) });
    try {
      await oldStoreWithJobs(db, 'postgres', schema.name);
    } finally {
      await db.destroy();
    }
    const dir = await mkdtemp(join(tmpdir(), 'corral-0017-pg-'));
    dirs.push(dir);
    const store = await openStore({ database: schema.url, dataDir: dir });
    try {
      await assertCounted(store);
    } finally {
      await store.close();
    }
  });
});
