/**
 * `npm run bench -- events [--events 100000,1000000] [--backends sqlite,postgres] [--database URL] [--runs 5] [--explain]`
 *
 * The event log (GET /api/v1/events, `corral events`) at scale: N events
 * over 30 days (one every 30 days / N, from 1,000 agents, 10 types of which
 * agent.heartbeat-like ones are common and config.failed is rare) stored
 * through the Store in a fresh store, then the median latency of the
 * store's page query for: the newest 100, `--since 5m` (fewer than a page
 * there), `--since 1h`, a day a week ago (`--since` + `--until`),
 * everything older than 20 days (`--until`), a rare type and an agent over
 * the last day, a common type over the last hour, and the follow-up
 * request of `corral events -f --since 1h` (after the newest id).
 * `--explain` prints each query's plan (EXPLAIN QUERY PLAN / EXPLAIN).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { openStore, type EventQuery, type NewEvent, type Store } from '../src/server/store/index.js';
import { SQLITE_FILE } from '../src/server/data-dir.js';
import { createTestSchema, POSTGRES_URL } from '../src/testkit/postgres.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 1);
const SPAN = 30 * DAY;
/** Event types by weight: most events are agents coming and going, few are failures. */
const TYPES: [string, number][] = [
  ['agent.online', 30],
  ['agent.offline', 30],
  ['config.applied', 15],
  ['service.started', 8],
  ['service.stopped', 8],
  ['job.started', 3],
  ['job.finished', 3],
  ['rollout.stage', 2],
  ['agent.enrolled', 0.9],
  ['config.failed', 0.1],
];
const TYPE_WHEEL = TYPES.flatMap(([t, w]) => Array.from({ length: Math.round(w * 10) }, () => t));

function event(i: number, n: number): NewEvent {
  // Spread evenly over the span, with a little disorder as several replicas' clocks give.
  const at = NOW - SPAN + Math.floor((i * SPAN) / n) + ((i * 7919) % 50);
  const type = TYPE_WHEEL[(i * 2654435761) % TYPE_WHEEL.length]!;
  return { at, type, agentId: `agent-${(i * 31) % 1000}`, data: { n: i } };
}

async function fill(store: Store, n: number): Promise<void> {
  const batch = 1000;
  for (let i = 0; i < n; i += batch) await store.appendEvents(Array.from({ length: Math.min(batch, n - i) }, (_, j) => event(i + j, n)));
}

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

function queries(newestId: number): [string, EventQuery][] {
  return [
    ['newest', { limit: 100 }],
    ['since5m', { since: NOW - 5 * 60_000, limit: 100 }],
    ['since1h', { since: NOW - 3_600_000, limit: 100 }],
    ['dayAgo7', { since: NOW - 8 * DAY, until: NOW - 7 * DAY, limit: 100 }],
    ['until20d', { until: NOW - 20 * DAY, limit: 100 }],
    ['rare1d', { type: 'config.failed', since: NOW - DAY, limit: 100 }],
    ['agent1d', { agentId: 'agent-7', since: NOW - DAY, limit: 100 }],
    ['common1h', { type: 'agent.online', since: NOW - 3_600_000, limit: 100 }],
    ['follow', { afterId: newestId, since: NOW - 3_600_000, limit: 1000 }],
  ];
}

/** The SQL listEvents sends for `q` (kysely-store.ts), for EXPLAIN. */
function sqlOf(q: EventQuery, p: (i: number) => string): { text: string; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (cond: string, v: unknown) => {
    params.push(v);
    where.push(`${cond} ${p(params.length)}`);
  };
  if (q.afterId !== undefined) add('id >', q.afterId);
  if (q.agentId !== undefined) add('agent_id =', q.agentId);
  if (q.type !== undefined) add('type =', q.type);
  if (q.since !== undefined) add('at >=', q.since);
  if (q.until !== undefined) add('at <', q.until);
  const order = q.afterId !== undefined ? 'id asc' : q.since !== undefined || q.until !== undefined ? 'at desc, id desc' : 'id desc';
  return { text: `select * from events${where.length ? ` where ${where.join(' and ')}` : ''} order by ${order} limit ${q.limit ?? 100}`, params };
}

async function explain(backend: string, url: string, dir: string, qs: [string, EventQuery][]): Promise<void> {
  if (backend === 'sqlite') {
    const db = new SqliteDatabase(join(dir, SQLITE_FILE), { readonly: true });
    try {
      for (const [name, q] of qs) {
        const { text, params } = sqlOf(q, () => '?');
        const plan = db.prepare(`explain query plan ${text}`).all(...params) as { detail: string }[];
        console.log(`  ${name.padEnd(9)} ${plan.map((r) => r.detail).join('; ')}`);
      }
    } finally {
      db.close();
    }
    return;
  }
  await withPg(url, async (client) => {
    for (const [name, q] of qs) {
      const { text, params } = sqlOf(q, (i) => `$${i}`);
      const plan = await client.query<{ 'QUERY PLAN': string }>(`explain ${text}`, params);
      console.log(`  ${name.padEnd(9)} ${plan.rows.map((r) => r['QUERY PLAN'].trim()).join(' / ')}`);
    }
  });
}

async function withPg<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function eventsBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      events: { type: 'string', default: '100000' },
      backends: { type: 'string', default: 'sqlite,postgres' },
      database: { type: 'string', default: POSTGRES_URL },
      runs: { type: 'string', default: '5' },
      explain: { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  const names = queries(0).map(([name]) => name);
  console.log(`backend     events  insert(s)  ${names.map((n) => n.padStart(8)).join(' ')}   (median ms)`);
  for (const backend of values.backends.split(',')) {
    for (const n of values.events.split(',').map(Number)) {
      const dir = mkdtempSync(join(tmpdir(), 'corral-bench-events-'));
      const schema = backend === 'postgres' ? await createTestSchema(values.database) : null;
      const store = await openStore({ database: schema?.url ?? '', dataDir: dir });
      try {
        const t0 = performance.now();
        await fill(store, n);
        const insertMs = performance.now() - t0;
        // Statistics as autovacuum would have gathered them on a database this size (SQLite's store keeps none).
        if (schema) await withPg(schema.url, (c) => c.query('analyze events'));
        const newest = (await store.listEvents({ limit: 1 }))[0]!.id;
        const qs = queries(newest);
        const ms: number[] = [];
        for (const [, q] of qs) ms.push(await median(runs, () => store.listEvents(q)));
        console.log(`${backend.padEnd(9)} ${String(n).padStart(8)}  ${(insertMs / 1000).toFixed(1).padStart(9)}  ${ms.map((x) => x.toFixed(1).padStart(8)).join(' ')}`);
        if (values.explain) await explain(backend, schema?.url ?? '', dir, qs);
      } finally {
        await store.close();
        await schema?.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
}
