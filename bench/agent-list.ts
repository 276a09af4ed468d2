/**
 * `npm run bench -- agent-list [--agents 10000,100000] [--backends sqlite,postgres] [--database URL] [--runs 5]`
 *
 * The console's fleet list at scale: N agents inserted straight into a
 * fresh store (SQLite in a temp dir; PostgreSQL in its own schema at
 * --database or CORRAL_TEST_POSTGRES_URL, then ANALYZE), then the median latency of what
 * the API does for a request (fleet/agent-list.ts: store query + summaries):
 * the first page, a deep page (a cursor in the middle of the fleet), a
 * filtered and sorted page, a page sorted by agent version, and facet
 * counts, with and without a filter. The
 * old way (read every agent, filter in JavaScript) is timed for comparison.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { openStore, type AgentRecord, type Store } from '../src/server/store/index.js';
import { createTestSchema, POSTGRES_URL } from '../src/testkit/postgres.js';
import { agentFacets, encodeCursor, listAgentPage } from '../src/server/fleet/agent-list.js';
import { matchesSelector, parseSelector } from '../src/server/fleet/selector.js';
import { selectableAttributes } from '../src/server/fleet/agent-labels.js';

const uid = (n: number) => `0190dddd-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;
const name = (n: number) => `host-${String(n).padStart(7, '0')}`;

function agent(n: number, now: number): AgentRecord {
  return {
    id: uid(n),
    kind: 'corral',
    name: name(n),
    status: n % 10 === 0 ? 'offline' : 'online',
    labels: n % 50 === 0 ? { canary: 'true' } : {},
    boundLabels: { env: ['prod', 'staging', 'dev'][n % 3]!, zone: `z${n % 12}`, cluster: `c${n % 200}`, team: `t${n % 40}` },
    enrollmentTokenId: null,
    approval: n % 500 === 0 ? 'pending' : 'approved',
    identifyingAttributes: { 'service.name': 'corral-agent', 'service.instance.id': uid(n) },
    nonIdentifyingAttributes: { 'os.type': n % 20 === 0 ? 'darwin' : 'linux', 'host.arch': n % 4 === 0 ? 'arm64' : 'amd64', 'host.name': `${name(n)}.dc${n % 3}.example`, 'service.version': `0.${n % 7}.0` },
    capabilities: 0,
    health: { healthy: true, startTimeMs: now, lastError: '', status: 'running', statusTimeMs: now, components: {} },
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: now - 86_400_000,
    lastSeenAt: now - (n % 3600) * 1000,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

async function median(runs: number, fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

async function benchOne(store: Store, n: number, runs: number, pgUrl: string | null): Promise<Record<string, number>> {
  const now = Date.now();
  const t0 = performance.now();
  for (let i = 0; i < n; i += 10_000) await store.insertAgents(Array.from({ length: Math.min(10_000, n - i) }, (_, j) => agent(i + j + 1, now)));
  const insertMs = performance.now() - t0;
  if (pgUrl) {
    // What autovacuum does within a minute of a bulk insert: without statistics the planner guesses.
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query('analyze');
    await client.end();
  }
  const all = parseSelector('');
  const filtered = parseSelector('env=prod,zone in (z1,z2,z3),!canary');
  const mid = Math.floor(n / 2);
  const deep = encodeCursor({ s: 'name', k: name(mid), i: uid(mid) });
  const out: Record<string, number> = { insertMs };
  out.firstPage = await median(runs, () => listAgentPage(store, null, { selector: all, limit: 100 }));
  out.deepPage = await median(runs, () => listAgentPage(store, null, { selector: all, limit: 100, cursor: deep }));
  out.filteredSorted = await median(runs, () => listAgentPage(store, null, { selector: filtered, statuses: ['online'], sort: '-lastSeen', limit: 100 }));
  out.versionSorted = await median(runs, () => listAgentPage(store, null, { selector: all, sort: '-version', limit: 100 }));
  out.freeText = await median(runs, () => listAgentPage(store, null, { selector: all, q: 'dc1.exam', sort: 'version', limit: 100 }));
  out.facets = await median(runs, () => agentFacets(store, { selector: all }));
  out.facetsFiltered = await median(runs, () => agentFacets(store, { selector: filtered, statuses: ['online'] }));
  out.oldListAll = await median(Math.min(runs, 3), async () => (await store.listAgents()).filter((a) => matchesSelector(filtered, selectableAttributes(a))));
  return out;
}

export async function agentListBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string', default: '10000,100000' },
      backends: { type: 'string', default: 'sqlite,postgres' },
      database: { type: 'string', default: POSTGRES_URL },
      runs: { type: 'string', default: '5' },
    },
  });
  const runs = Number(values.runs);
  console.log('backend    agents  insert(s)  first  deep  filtered+sorted  by-version  free-text  facets  facets(filtered)  old-list-all   (median ms)');
  for (const backend of values.backends.split(',')) {
    for (const n of values.agents.split(',').map(Number)) {
      const dir = mkdtempSync(join(tmpdir(), 'corral-bench-agent-list-'));
      const schema = backend === 'postgres' ? await createTestSchema(values.database) : null;
      const store = await openStore({ database: schema?.url ?? '', dataDir: dir });
      try {
        const r = await benchOne(store, n, runs, schema?.url ?? null);
        const f = (x: number) => x.toFixed(0).padStart(5);
        console.log(
          `${backend.padEnd(9)} ${String(n).padStart(7)}  ${(r.insertMs! / 1000).toFixed(1).padStart(9)}  ${f(r.firstPage!)} ${f(r.deepPage!)}  ${f(r.filteredSorted!).padStart(15)}  ${f(r.versionSorted!).padStart(10)}  ${f(r.freeText!).padStart(9)}  ${f(r.facets!).padStart(6)}  ${f(r.facetsFiltered!).padStart(16)}  ${f(r.oldListAll!).padStart(12)}`,
        );
      } finally {
        await store.close();
        await schema?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
