/**
 * The console's API on two server replicas sharing one PostgreSQL: the
 * fleet list pages server-side (each agent exactly once across pages, with
 * pages read alternately from either replica while agents are added), facets
 * count, bad input is refused naming the parameter, and the event stream on
 * one replica carries the events recorded by both, resumable on either.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';
import { openEventStream, type OpenStream } from '../../src/testkit/event-stream.js';
import { openStore, type AgentRecord, type Store } from '../../src/server/store/index.js';

const uid = (n: number) => `0190cccc-0000-7000-8000-${String(n).padStart(12, '0')}`;
function agent(n: number): AgentRecord {
  return {
    id: uid(n),
    kind: 'corral',
    name: `node-${String(n).padStart(4, '0')}`,
    status: n % 4 === 0 ? 'offline' : 'online',
    labels: n % 3 === 0 ? { env: 'prod' } : {},
    boundLabels: { zone: `z${n % 5}` },
    enrollmentTokenId: null,
    approval: 'approved',
    identifyingAttributes: {},
    nonIdentifyingAttributes: { 'os.type': 'linux', 'service.version': `1.${n % 3}.0`, 'host.name': `h${n}` },
    capabilities: 0,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_000_000 + n,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

interface Page {
  agents: { id: string; name: string }[];
  total: number;
  nextCursor: string | null;
  warnings: string[];
}
interface ErrorAnswer {
  error: { code: string; message: string; position?: number };
}

describe('console API on replicas over PostgreSQL', { concurrency: false }, () => {
  let fleet: Fleet;
  let schema: TestSchema | null = null;
  let skipped = '';
  let store: Store;
  let dir = '';
  let replica: { url: string };
  const streams: OpenStream[] = [];

  const get = async <T>(base: string, path: string) => {
    const res = await fetch(base + path, { headers: { authorization: `Bearer ${fleet.adminToken}` } });
    return { status: res.status, body: (await res.json()) as T };
  };

  before(async () => {
    const pg = await postgresForTest();
    if ('skip' in pg) {
      skipped = pg.skip;
      return;
    }
    schema = pg.schema;
    dir = await mkdtemp(join(tmpdir(), 'corral-console-api-'));
    fleet = await Fleet.start({ database: schema.url });
    replica = await fleet.startReplica('replica-2');
    store = await openStore({ database: schema.url, dataDir: dir });
    await store.insertAgents(Array.from({ length: 150 }, (_, i) => agent(i + 1)));
  });

  after(async () => {
    await Promise.all(streams.map((s) => s.close()));
    await store?.close();
    await fleet?.close();
    await schema?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('pages the fleet across replicas, each agent once, while agents are added', async (t) => {
    if (skipped) return t.skip(skipped);
    const seen: string[] = [];
    let cursor: string | null = null;
    let first: Page | null = null;
    let added = 1000;
    for (let i = 0; i < 50; i++) {
      const base = i % 2 === 0 ? fleet.url : replica.url;
      const res: { status: number; body: Page } = await get<Page>(base, `/api/v1/agents?limit=40&sort=-name${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      first ??= res.body;
      seen.push(...res.body.agents.map((a) => a.id));
      cursor = res.body.nextCursor;
      if (!cursor) break;
      await store.insertAgents([agent(added++), agent(added++)]);
    }
    assert.equal(first!.total, 150);
    assert.equal(new Set(seen).size, seen.length, 'no agent twice');
    for (let n = 1; n <= 150; n++) assert.ok(seen.includes(uid(n)), `agent ${n} listed`);

    const all = await get<Page>(fleet.url, '/api/v1/agents');
    assert.equal(all.status, 200);
    assert.equal(all.body.agents.length, all.body.total, 'without paging parameters: every agent, as before');
    assert.equal(all.body.nextCursor, null);
  });

  it('filters, sorts and counts facets on the server', async (t) => {
    if (skipped) return t.skip(skipped);
    const prod = await get<Page>(replica.url, '/api/v1/agents?limit=5&selector=env%3Dprod&status=online,offline&sort=lastSeen&q=node-01');
    assert.equal(prod.status, 200);
    assert.deepEqual(prod.body.agents.map((a) => a.name), ['node-0102', 'node-0105', 'node-0108', 'node-0111', 'node-0114']);
    const facets = await get<{ total: number; byStatus: Record<string, number>; labels: Record<string, Record<string, number>>; version: Record<string, number> }>(
      fleet.url,
      `/api/v1/agents/facets?selector=${encodeURIComponent('zone in (z1,z2)')}&status=online&status=offline`,
    );
    assert.equal(facets.status, 200);
    assert.equal(facets.body.total, Object.values(facets.body.byStatus).reduce((a, b) => a + b, 0));
    assert.deepEqual(Object.keys(facets.body.labels.zone!).sort(), ['z1', 'z2']);
    const none = await get<Page>(fleet.url, '/api/v1/agents?limit=10&selector=evn%3Dprod');
    assert.equal(none.body.total, 0);
    assert.deepEqual(none.body.warnings, ['no agent has the label "evn"']);
  });

  it('refuses bad parameters naming them', async (t) => {
    if (skipped) return t.skip(skipped);
    const bad = async (query: string, code = 'INVALID_ARGUMENT') => {
      const res = await get<ErrorAnswer>(fleet.url, `/api/v1/agents?${query}`);
      assert.equal(res.status, 400, query);
      assert.equal(res.body.error.code, code, query);
      return res.body.error;
    };
    const sel = await bad('limit=10&selector=env%20in', 'INVALID_SELECTOR');
    assert.equal(sel.position, 6);
    assert.equal((await get<ErrorAnswer>(fleet.url, '/api/v1/agents/facets?selector=%3D')).body.error.code, 'INVALID_SELECTOR');
    await bad('limit=1001');
    await bad('limit=0');
    assert.match((await bad('limit=5&sort=bogus')).message, /sort must be one of/);
    assert.match((await bad('limit=5&status=gone')).message, /status must be/);
    assert.match((await bad('limit=5&cursor=!!')).message, /cursor/);
    // U+001F separates the fields of the search text: a search holding it could match across them.
    assert.match((await bad('limit=5&q=a%1Fb')).message, /q: must not contain the control character U\+001F/);
    const page = await get<Page>(fleet.url, '/api/v1/agents?limit=5&sort=name');
    assert.match((await bad(`limit=5&sort=-name&cursor=${page.body.nextCursor}`)).message, /continues the sort "name"/);
  });

  it('streams the events of both replicas from either, resumable on the other', async (t) => {
    if (skipped) return t.skip(skipped);
    const [newest] = (await get<{ events: { id: number }[] }>(fleet.url, '/api/v1/events?limit=1')).body.events;
    const start = newest?.id ?? 0;
    const s = await openEventStream(replica.url, fleet.adminToken, { query: 'type=token.' });
    streams.push(s);
    assert.equal(s.status, 200);
    // Both replicas record at once, so ids interleave and commit out of order.
    await Promise.all(
      [fleet.url, replica.url].map(async (base, r) => {
        for (let i = 0; i < 15; i++) {
          const res = await fetch(`${base}/api/v1/enrollment-tokens`, { method: 'POST', headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ name: `r${r}-${i}` }) });
          assert.equal(res.status, 201);
        }
      }),
    );
    await eventually(() => s.received.length >= 30, { timeoutMs: 30_000, what: '30 events from both replicas' });
    const stored = (await get<{ events: { id: number; type: string }[] }>(fleet.url, `/api/v1/events?after=${start}&limit=1000`)).body.events.filter((e) => e.type.startsWith('token.'));
    assert.deepEqual(s.received.map((e) => e.id), stored.map((e) => e.id), 'every event, once, in id order');
    const names = new Set(s.received.map((e) => String(e.data.name)));
    for (let i = 0; i < 15; i++) assert.ok(names.has(`r0-${i}`) && names.has(`r1-${i}`), `both replicas' event ${i}`);

    const mid = s.received[9]!.id;
    const other = await openEventStream(fleet.url, fleet.adminToken, { query: 'type=token.', lastEventId: mid });
    streams.push(other);
    await eventually(() => other.received.length >= 20, { timeoutMs: 30_000, what: 'resumed on the other replica' });
    assert.deepEqual(other.received.map((e) => e.id), s.received.slice(10).map((e) => e.id));
  });
});
