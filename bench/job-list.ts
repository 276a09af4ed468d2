/**
 * `npm run bench -- job-list [--jobs 10000,100000] [--hosts 5] [--backends sqlite,postgres] [--database URL] [--runs 5]`
 *
 * The job list (GET /api/v1/jobs) at scale: N jobs of `--hosts` hosts each
 * stored in a fresh store, then the median latency of what the API does for
 * a request (jobs/job-list.ts: store query + counts): the first page of 50,
 * a deep page (a cursor in the middle), each filter, and a scoped reader's
 * page (distinct selectors, then the jobs on the ones in scope).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { openStore, type JobHostRecord, type Store } from '../src/server/store/index.js';
import { createTestSchema, POSTGRES_URL } from '../src/testkit/postgres.js';
import { listJobPage } from '../src/server/jobs/job-list.js';
import { encodeCursor } from '../src/server/fleet/agent-list.js';

const jobId = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
/** 100 selectors, 10 of them within env=staging. */
const selectorOf = (n: number) => (n % 10 === 0 ? `env=staging,team=t${n % 100}` : `env=prod,team=t${n % 100}`);

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function fill(store: Store, n: number, hostsPerJob: number): Promise<void> {
  const write = async (i: number) => {
    const id = jobId(i);
    const hosts: JobHostRecord[] = Array.from({ length: hostsPerJob }, (_, h) => ({
      jobId: id,
      agentId: `agent-${h}`,
      agentName: `host-${h}`,
      status: i % 50 === 0 && h === 0 ? 'failed' : i > n - 5 ? 'running' : 'succeeded',
      exitCode: i % 50 === 0 && h === 0 ? 1 : 0,
      signal: null,
      output: 'ok\n',
      truncated: false,
      timedOut: false,
      error: '',
      startedAt: i,
      finishedAt: i + 1,
    }));
    const spec = { selector: selectorOf(i), command: ['uptime'], service: null, timeoutMs: 60_000, maxConcurrency: '10', errorBudget: '0' };
    await store.createJob({ id, spec, status: i > n - 5 ? 'running' : 'succeeded', createdBy: `user-${i % 20}`, createdAt: 1_000_000 + i, finishedAt: null }, hosts);
  };
  for (let i = 1; i <= n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i + 1) }, (_, j) => write(i + j)));
}

async function benchOne(store: Store, n: number, hostsPerJob: number, runs: number): Promise<Record<string, number>> {
  const t0 = performance.now();
  await fill(store, n, hostsPerJob);
  const out: Record<string, number> = { insertMs: performance.now() - t0 };
  const mid = Math.floor(n / 2);
  const deep = encodeCursor({ s: '-createdAt', k: 1_000_000 + mid, i: jobId(mid) });
  out.firstPage = await median(runs, () => listJobPage(store, { limit: 50 }));
  out.deepPage = await median(runs, () => listJobPage(store, { limit: 50, cursor: deep }));
  out.failed = await median(runs, () => listJobPage(store, { limit: 50, hasFailedHosts: true }));
  out.createdBy = await median(runs, () => listJobPage(store, { limit: 50, createdBy: 'user-7' }));
  out.running = await median(runs, () => listJobPage(store, { limit: 50, state: 'running' }));
  out.scoped = await median(runs, async () => {
    const selectors = (await store.listJobSelectors()).filter((s) => s.startsWith('env=staging'));
    return listJobPage(store, { limit: 50, selectors });
  });
  return out;
}

export async function jobListBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      jobs: { type: 'string', default: '10000,100000' },
      hosts: { type: 'string', default: '5' },
      backends: { type: 'string', default: 'sqlite,postgres' },
      database: { type: 'string', default: POSTGRES_URL },
      runs: { type: 'string', default: '5' },
    },
  });
  const runs = Number(values.runs);
  const hostsPerJob = Number(values.hosts);
  console.log('backend      jobs  insert(s)  first  deep  failed  createdBy  running  scoped   (median ms)');
  for (const backend of values.backends.split(',')) {
    for (const n of values.jobs.split(',').map(Number)) {
      const dir = mkdtempSync(join(tmpdir(), 'corral-bench-job-list-'));
      const schema = backend === 'postgres' ? await createTestSchema(values.database) : null;
      const store = await openStore({ database: schema?.url ?? '', dataDir: dir });
      try {
        const r = await benchOne(store, n, hostsPerJob, runs);
        const f = (x: number, w: number) => x.toFixed(0).padStart(w);
        console.log(`${backend.padEnd(9)} ${String(n).padStart(7)}  ${(r.insertMs! / 1000).toFixed(1).padStart(9)}  ${f(r.firstPage!, 5)} ${f(r.deepPage!, 5)}  ${f(r.failed!, 6)}  ${f(r.createdBy!, 9)}  ${f(r.running!, 7)}  ${f(r.scoped!, 6)}`);
      } finally {
        await store.close();
        await schema?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
