/**
 * Server-side agent paging and facets, on SQLite and PostgreSQL: every
 * agent exactly once across pages in every sort, also while agents are
 * inserted between pages; SQL selectors agree with matchesSelector; facet
 * counts agree with counting in JavaScript; bounds hold.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type AgentRecord, type AgentSortKey, type Store } from './index.js';
import { postgresForTest, type TestSchema } from '../../testkit/postgres.js';
import { matchesSelector, parseSelector } from '../fleet/selector.js';
import { selectableAttributes, trustedLabels } from '../fleet/agent-labels.js';

const uid = (n: number) => `0190bbbb-0000-7000-8000-${String(n).padStart(12, '0')}`;
const ENVS = ['prod', 'staging', 'dev'];
const OSES = ['linux', 'darwin', 'windows'];

/** A varied agent: labels from operator and token, claims, statuses, attributes some agents lack. */
function agent(n: number): AgentRecord {
  const ident: Record<string, string> = { 'service.name': 'corral-agent' };
  const nonIdent: Record<string, string> = { 'host.name': `host-${n}.example` };
  if (n % 5 !== 0) nonIdent['os.type'] = OSES[n % 3]!;
  if (n % 4 !== 0) nonIdent['service.version'] = `1.${n % 4}.0`;
  else if (n % 8 === 0) ident['service.version'] = '0.9.0';
  if (n % 2 === 0) nonIdent['host.arch'] = n % 4 === 0 ? 'arm64' : 'amd64';
  if (n % 6 === 0) nonIdent['corral.label.team'] = 'claimed';
  const labels: Record<string, string> = {};
  const bound: Record<string, string> = {};
  if (n % 3 === 0) bound.env = ENVS[n % 3]!;
  if (n % 2 === 1) labels.env = ENVS[n % 3]!; // operator wins over bound
  if (n % 7 === 0) labels.canary = 'true';
  if (n % 4 === 1) bound.zone = `z${n % 5}`;
  if (n % 9 === 0) labels.team = 'core';
  return {
    id: uid(n),
    kind: n % 10 === 0 ? 'opamp' : 'corral',
    name: n % 11 === 0 ? '' : `agent-${String((n * 37) % 97).padStart(2, '0')}`,
    status: n % 13 === 0 ? 'revoked' : n % 3 === 0 ? 'offline' : 'online',
    labels,
    boundLabels: bound,
    enrollmentTokenId: null,
    approval: n % 17 === 0 ? 'pending' : 'approved',
    identifyingAttributes: ident,
    nonIdentifyingAttributes: nonIdent,
    capabilities: 0,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: 1_700_000_000_000,
    lastSeenAt: 1_700_000_000_000 + ((n * 7919) % 50) * 1000,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

const listStatus = (a: AgentRecord) => (a.status === 'revoked' ? 'revoked' : a.approval === 'pending' ? 'pending' : a.status);
const attr = (a: AgentRecord, k: string) => a.nonIdentifyingAttributes[k] ?? a.identifyingAttributes[k] ?? '';
const sortKey = (a: AgentRecord, s: AgentSortKey): string | number =>
  s === 'name' ? a.name : s === 'status' ? listStatus(a) : s === 'lastSeen' ? a.lastSeenAt : s === 'version' ? attr(a, 'service.version') : attr(a, 'os.type');
const cmp = (x: string | number, y: string | number) => (x < y ? -1 : x > y ? 1 : 0);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`agent paging and facets: ${backend}`, { concurrency: false }, () => {
    let store: Store;
    let dir = '';
    let schema: TestSchema | null = null;
    let skip = '';
    const seeded = Array.from({ length: 60 }, (_, i) => agent(i + 1));

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'corral-agent-query-'));
      let database = '';
      if (backend === 'postgres') {
        const pg = await postgresForTest();
        if ('skip' in pg) {
          skip = pg.skip;
          return;
        }
        schema = pg.schema;
        database = schema.url;
      }
      store = await openStore({ database, dataDir: dir });
      await store.insertAgents(seeded);
    });

    after(async () => {
      await store?.close();
      await schema?.drop();
      await rm(dir, { recursive: true, force: true });
    });

    /** Every page of a query, following the cursor; bounded. */
    async function allPages(sort: AgentSortKey, descending: boolean, limit: number, between?: (page: number) => Promise<void>) {
      const ids: string[] = [];
      let after: { key: string | number; id: string } | undefined;
      for (let page = 0; page < 200; page++) {
        const res = await store.queryAgents({ requirements: [], sort, descending, limit, after });
        ids.push(...res.agents.map((a) => a.id));
        assert.ok(res.agents.length <= limit);
        if (!res.hasMore) return ids;
        after = { key: res.keys.at(-1)!, id: res.agents.at(-1)!.id };
        await between?.(page);
      }
      throw new Error('more than 200 pages');
    }

    it('pages through every agent exactly once, in order, for every sort and direction', async (t) => {
      if (skip) return t.skip(skip);
      for (const sort of ['name', 'status', 'lastSeen', 'version', 'os'] as const) {
        for (const descending of [false, true]) {
          const ids = await allPages(sort, descending, 7);
          const expected = [...seeded].sort((a, b) => cmp(sortKey(a, sort), sortKey(b, sort)) || cmp(a.id, b.id)).map((a) => a.id);
          if (descending) expected.reverse();
          assert.deepEqual(ids, expected, `sort ${descending ? '-' : ''}${sort}`);
        }
      }
    });

    it('stays exact while agents are inserted between pages', async (t) => {
      if (skip) return t.skip(skip);
      let next = 1000;
      const inserted: string[] = [];
      const ids = await allPages('name', false, 9, async () => {
        // One sorting before everything (already paged past), one after everything, one in the middle.
        const batch = [agent(next), agent(next + 1), agent(next + 2)];
        batch[0]!.name = '';
        batch[1]!.name = 'zzz';
        batch[2]!.name = 'agent-50';
        next += 3;
        inserted.push(...batch.map((a) => a.id));
        await store.insertAgents(batch);
      });
      assert.equal(new Set(ids).size, ids.length, 'no agent twice');
      for (const a of seeded) assert.ok(ids.includes(a.id), `${a.id} (${a.name}) listed`);
      // Clean up for the next cases: the store has no bulk delete, so revoke and delete.
      for (const id of inserted) {
        await store.revokeAgent(id, 1);
        await store.deleteAgent(id);
      }
    });

    it('filters by selector exactly as matchesSelector does', async (t) => {
      if (skip) return t.skip(skip);
      const selectors = [
        'env=prod',
        'env!=prod',
        'env in (prod,dev)',
        'env notin (prod,dev)',
        'canary',
        '!canary',
        'env=staging,!canary,zone',
        'claim.team=claimed',
        'claim.host.arch=arm64',
        'claim.service.version in (0.9.0,1.1.0)',
        'claim.os.type',
        '!claim.os.type',
        'team',
        'nosuchkey',
        'zone=z1,env',
        `corral.io/id=${uid(7)}`,
        `corral.io/id in (${uid(7)},${uid(8)},nosuch)`,
        `corral.io/id notin (${uid(7)}),env=prod`,
        `corral.io/id!=${uid(9)}`,
        'corral.io/id',
        '!corral.io/id',
        'corral.io/other',
        '!corral.io/other',
      ];
      for (const text of selectors) {
        const sel = parseSelector(text);
        const res = await store.queryAgents({ requirements: sel.requirements, sort: 'name', descending: false, limit: 1000 });
        const expected = seeded.filter((a) => matchesSelector(sel, selectableAttributes(a))).map((a) => a.id).sort();
        assert.deepEqual(res.agents.map((a) => a.id).sort(), expected, text);
        assert.equal(res.total, expected.length, `${text}: total`);
      }
    });

    it('filters by free text and status', async (t) => {
      if (skip) return t.skip(skip);
      const ids = async (q: string | undefined, statuses?: ('online' | 'offline' | 'pending' | 'revoked')[]) =>
        (await store.queryAgents({ requirements: [], q, statuses, sort: 'name', descending: false, limit: 1000 })).agents.map((a) => a.id).sort();
      assert.deepEqual(await ids('HOST-7.'), [uid(7)], 'host name, any case');
      assert.deepEqual(await ids(uid(42)), [uid(42)], 'id prefix');
      assert.deepEqual(await ids('z4'), seeded.filter((a) => trustedLabels(a).zone === 'z4').map((a) => a.id).sort(), 'trusted label value');
      assert.deepEqual(await ids('claimed'), [], 'claims are not label values');
      assert.deepEqual(await ids('agent-0'), seeded.filter((a) => a.name.includes('agent-0')).map((a) => a.id).sort(), 'name part');
      assert.deepEqual(await ids('%'), [], 'LIKE wildcards are literal');
      for (const s of ['online', 'offline', 'pending', 'revoked'] as const) {
        assert.deepEqual(await ids(undefined, [s]), seeded.filter((a) => listStatus(a) === s).map((a) => a.id).sort(), s);
      }
      assert.deepEqual(await ids(undefined, ['pending', 'revoked']), seeded.filter((a) => ['pending', 'revoked'].includes(listStatus(a))).map((a) => a.id).sort());
    });

    it('counts facets as JavaScript does, within the bounds', async (t) => {
      if (skip) return t.skip(skip);
      const sel = parseSelector('!canary');
      const facets = await store.agentFacets({ requirements: sel.requirements, statuses: ['online', 'offline', 'pending'] }, { maxKeys: 50, maxValues: 20 });
      const matched = seeded.filter((a) => matchesSelector(sel, selectableAttributes(a)) && listStatus(a) !== 'revoked');
      const count = (values: string[]) => values.reduce<Record<string, number>>((m, v) => ((m[v] = (m[v] ?? 0) + 1), m), {});
      assert.equal(facets.total, matched.length);
      assert.deepEqual(facets.byStatus, count(matched.map(listStatus)));
      assert.deepEqual(facets.os, count(matched.map((a) => attr(a, 'os.type'))));
      assert.deepEqual(facets.arch, count(matched.map((a) => attr(a, 'host.arch'))));
      assert.deepEqual(facets.version, count(matched.map((a) => attr(a, 'service.version'))));
      const labels: Record<string, Record<string, number>> = {};
      for (const a of matched) for (const [k, v] of Object.entries(trustedLabels(a))) (labels[k] ??= {})[v] = (labels[k]![v] ?? 0) + 1;
      assert.deepEqual(facets.labels, labels);

      const bounded = await store.agentFacets({ requirements: [] }, { maxKeys: 2, maxValues: 4 });
      assert.deepEqual(Object.keys(bounded.labels).sort(), ['env', 'zone'], 'the two keys on most agents');
      assert.ok(Object.values(bounded.labels).every((values) => Object.keys(values).length <= 4));
      assert.equal(Object.keys(bounded.labels.zone!).length, 4, 'zone has 5 values: the 4 most frequent');
    });
  });
}
