/**
 * `npm run bench -- forget-offline [--agents 10000,100000] [--forgotten-percent 10] [--events 3] [--backends sqlite,postgres] [--database URL]`
 *
 * What `--forget-offline-after` costs the store: N agents inserted straight
 * into a fresh store (SQLite in a temp dir; PostgreSQL in its own schema,
 * then ANALYZE), of which a share is offline and long unseen, and every
 * agent has `--events` events. Prints the time of a check that finds nothing
 * due (what every replica pays every interval), and of forgetting the due
 * agents in batches of FORGET_BATCH (median and slowest batch, and all).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openStore, type AgentRecord, type NewEvent, type Store } from '../src/server/store/index.js';
import { createTestSchema, POSTGRES_URL } from '../src/testkit/postgres.js';
import { FORGET_BATCH } from '../src/server/fleet/offline-forgetter.js';

const DAY = 86_400_000;
const uid = (n: number) => `0190cccc-0000-7000-8000-${n.toString(16).padStart(12, '0')}`;

function agent(n: number, due: boolean, now: number): AgentRecord {
  return {
    id: uid(n),
    kind: 'corral',
    name: `host-${n}`,
    status: due || n % 10 === 1 ? 'offline' : 'online',
    labels: {},
    boundLabels: { env: ['prod', 'staging'][n % 2]!, zone: `z${n % 12}` },
    enrollmentTokenId: null,
    approval: 'approved',
    identifyingAttributes: { 'service.instance.id': uid(n) },
    nonIdentifyingAttributes: { 'os.type': 'linux', 'host.name': `host-${n}.example` },
    capabilities: 0,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: `hash-${n}`,
    firstSeenAt: now - 90 * DAY,
    lastSeenAt: due ? now - 40 * DAY - n : now - (n % 3600) * 1000,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

async function benchOne(store: Store, n: number, percent: number, eventsPer: number, pgUrl: string | null) {
  const now = Date.now();
  const dueEvery = Math.round(100 / percent);
  for (let i = 0; i < n; i += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, n - i) }, (_, j) => agent(i + j + 1, (i + j + 1) % dueEvery === 0, now));
    await store.insertAgents(chunk);
    const events: NewEvent[] = chunk.flatMap((a) => Array.from({ length: eventsPer }, (_, k) => ({ at: a.lastSeenAt - k, type: 'agent.online', agentId: a.id, data: {} })));
    await store.appendEvents(events);
  }
  if (pgUrl) {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query('analyze');
    await client.end();
  }
  const cutoff = now - 30 * DAY;
  // Nothing due before 90 days: the check every replica makes every interval when there is nothing to do.
  const idle: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await store.forgetOfflineAgents(now - 90 * DAY, FORGET_BATCH);
    idle.push(performance.now() - t);
  }
  const batches: number[] = [];
  let forgotten = 0;
  const t0 = performance.now();
  for (let i = 0; i < 10_000; i++) {
    const t = performance.now();
    const r = await store.forgetOfflineAgents(cutoff, FORGET_BATCH);
    if (r.agents.length === 0) break;
    batches.push(performance.now() - t);
    forgotten += r.agents.length;
  }
  const totalMs = performance.now() - t0;
  const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
  return { idleMs: sorted(idle)[2]!, forgotten, batches: batches.length, medianBatchMs: sorted(batches)[Math.floor(batches.length / 2)] ?? 0, maxBatchMs: Math.max(0, ...batches), totalMs };
}

export async function forgetOfflineBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string', default: '10000,100000' },
      'forgotten-percent': { type: 'string', default: '10' },
      events: { type: 'string', default: '3' },
      backends: { type: 'string', default: 'sqlite,postgres' },
      database: { type: 'string', default: POSTGRES_URL },
    },
  });
  const percent = Number(values['forgotten-percent']);
  const eventsPer = Number(values.events);
  console.log(`events per agent: ${eventsPer}; batch: ${FORGET_BATCH}`);
  console.log('backend    agents  forgotten  idle-check(ms)  batches  median-batch(ms)  slowest-batch(ms)  all(ms)');
  for (const backend of values.backends.split(',')) {
    for (const n of values.agents.split(',').map(Number)) {
      const dir = mkdtempSync(join(tmpdir(), 'corral-bench-forget-'));
      const schema = backend === 'postgres' ? await createTestSchema(values.database) : null;
      const store = await openStore({ database: schema?.url ?? '', dataDir: dir });
      try {
        const r = await benchOne(store, n, percent, eventsPer, schema?.url ?? null);
        console.log(
          `${backend.padEnd(9)} ${String(n).padStart(7)}  ${String(r.forgotten).padStart(9)}  ${r.idleMs.toFixed(1).padStart(14)}  ${String(r.batches).padStart(7)}  ${r.medianBatchMs.toFixed(0).padStart(16)}  ${r.maxBatchMs.toFixed(0).padStart(17)}  ${r.totalMs.toFixed(0).padStart(7)}`,
        );
      } finally {
        await store.close();
        await schema?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
