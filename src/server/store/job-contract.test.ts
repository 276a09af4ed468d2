/**
 * The job list's store contract, on SQLite and PostgreSQL: newest-first
 * keyset pages that neither repeat nor skip a job (also with equal start
 * times and jobs started between pages), filters by state, starter, failed
 * hosts and selectors, and host counts by outcome.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type JobHostRecord, type JobListQuery, type JobRecord, type Store } from './index.js';
import { storePerSuite } from '../../testkit/test-store.js';

const jobId = (n: number) => `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`;

function job(n: number, over: Partial<JobRecord> & { selector?: string } = {}): JobRecord {
  const { selector = 'env=prod', ...rest } = over;
  return {
    id: jobId(n),
    spec: { selector, command: ['echo', String(n)], service: null, timeoutMs: 1000, maxConcurrency: '10', errorBudget: '0' },
    status: 'running',
    createdBy: 'alice',
    // Pairs of jobs share a start time, so the id must break ties.
    createdAt: 1_000 + Math.floor(n / 2),
    finishedAt: null,
    ...rest,
  };
}

function host(jobN: number, agent: number, over: Partial<JobHostRecord> = {}): JobHostRecord {
  return {
    jobId: jobId(jobN),
    agentId: `agent-${agent}`,
    agentName: `host-${agent}`,
    status: 'succeeded',
    exitCode: 0,
    signal: null,
    output: '',
    truncated: false,
    timedOut: false,
    error: '',
    startedAt: 1,
    finishedAt: 2,
    ...over,
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`job list store contract: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-jobs-');
    let store: Store;

    before(async () => {
      if (s.skip) return;
      store = s.store;
      for (let n = 1; n <= 25; n++) {
        const done = n % 3 !== 0;
        const hosts = [host(n, 1), host(n, 2, n % 5 === 0 ? { status: 'failed', exitCode: 1, error: 'exit 1' } : {})];
        await store.createJob(job(n, { createdBy: n % 2 ? 'alice' : 'bob', selector: n % 4 === 0 ? 'env=staging' : 'env=prod', status: done ? 'succeeded' : 'running', finishedAt: done ? 5_000 : null }), hosts);
      }
    });

    /** Every page of a query, following `after` as the API's cursor does (bounded). */
    async function allPages(q: Omit<JobListQuery, 'after'>, between?: (page: number) => Promise<void>): Promise<string[]> {
      const seen: string[] = [];
      let after: JobListQuery['after'];
      for (let page = 0; page < 100; page++) {
        const got = await store.queryJobs({ ...q, after });
        seen.push(...got.jobs.map((j) => j.id));
        if (!got.hasMore) return seen;
        const last = got.jobs[got.jobs.length - 1]!;
        after = { createdAt: last.createdAt, id: last.id };
        await between?.(page);
      }
      throw new Error('more than 100 pages');
    }

    it('pages newest first, ties by id, without repeating or skipping a job, also when jobs start between pages', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const expected = Array.from({ length: 25 }, (_, i) => jobId(25 - i));
      const first = await store.queryJobs({ limit: 4 });
      assert.equal(first.total, 25);
      assert.deepEqual(first.jobs.map((j) => j.id), expected.slice(0, 4));
      assert.deepEqual(await allPages({ limit: 4 }), expected);
      // A job started after the first page sorts before the cursor: the rest of the walk is unchanged.
      const seen = await allPages({ limit: 4 }, async (page) => {
        if (page === 0) await store.createJob(job(99, { createdAt: 9_999 }), []);
      });
      assert.deepEqual(seen, expected);
      assert.equal((await store.queryJobs({ limit: 1 })).jobs[0]!.id, jobId(99));
    });

    it('counts hosts by outcome, telling timed out from failed', async (t) => {
      if (s.skip) return t.skip(s.skip);
      await store.createJob(job(100, { createdAt: 20_000 }), [
        host(100, 1),
        host(100, 2, { status: 'failed', exitCode: 3, error: 'exit 3' }),
        host(100, 3, { status: 'failed', exitCode: null, timedOut: true, error: 'timed out after 1000 ms' }),
        host(100, 4, { status: 'skipped', exitCode: null }),
        host(100, 5, { status: 'running', exitCode: null }),
        host(100, 6, { status: 'pending', exitCode: null }),
        host(100, 7, { status: 'pending', exitCode: null }),
      ]);
      const [top] = (await store.queryJobs({ limit: 1 })).jobs;
      assert.equal(top!.id, jobId(100));
      assert.deepEqual(top!.hosts, { ok: 1, failed: 1, timedOut: 1, skipped: 1, running: 1, pending: 2 });
      assert.equal(top!.createdBy, 'alice');
      assert.equal(top!.spec.selector, 'env=prod');
      // A host's later result moves it between counts.
      await store.putJobHost(host(100, 6, { status: 'running', exitCode: null }));
      assert.deepEqual((await store.queryJobs({ limit: 1 })).jobs[0]!.hosts, { ok: 1, failed: 1, timedOut: 1, skipped: 1, running: 2, pending: 1 });
      const got = await store.getJob(jobId(100));
      assert.equal(got?.hosts.find((h) => h.agentId === 'agent-3')?.timedOut, true, 'timedOut is stored per host');
    });

    it('filters by state, starter, failed hosts and selectors, combined, across pages', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const base = Array.from({ length: 25 }, (_, i) => 25 - i);
      const ids = (ns: number[]) => ns.map(jobId);
      assert.deepEqual(await allPages({ limit: 3, state: 'running' }), ids([100, 99, ...base.filter((n) => n % 3 === 0)]));
      assert.deepEqual(await allPages({ limit: 3, state: 'done' }), ids(base.filter((n) => n % 3 !== 0)));
      assert.deepEqual(await allPages({ limit: 3, createdBy: 'bob' }), ids(base.filter((n) => n % 2 === 0)));
      assert.deepEqual(await allPages({ limit: 2, hasFailedHosts: true }), ids([100, ...base.filter((n) => n % 5 === 0)]));
      assert.deepEqual(await allPages({ limit: 2, selectors: ['env=staging'] }), ids(base.filter((n) => n % 4 === 0)));
      assert.deepEqual(await allPages({ limit: 2, selectors: [] }), [], 'no selector: no job');
      const combined = await store.queryJobs({ limit: 50, state: 'done', createdBy: 'alice', hasFailedHosts: true, selectors: ['env=prod', 'env=staging'] });
      assert.deepEqual(combined.jobs.map((j) => j.id), ids(base.filter((n) => n % 3 !== 0 && n % 2 === 1 && n % 5 === 0)));
      assert.equal(combined.total, combined.jobs.length);
      assert.equal((await store.queryJobs({ limit: 1, createdBy: 'nobody' })).total, 0);
      // Values that would break naive SQL are just values.
      assert.equal((await store.queryJobs({ limit: 1, createdBy: "x' or '1'='1", selectors: ["a' or 1=1 --", '"]'] })).total, 0);
    });

    it('lists each selector jobs ran on once', async (t) => {
      if (s.skip) return t.skip(s.skip);
      assert.deepEqual((await store.listJobSelectors()).sort(), ['env=prod', 'env=staging']);
    });
  });
}
