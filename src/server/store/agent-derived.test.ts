/**
 * What the fleet list selects, searches and counts by (agent_labels and
 * agent_facts, kept by triggers) follows every write to an agent, on SQLite
 * and PostgreSQL: enrollment with bound labels, label edits and removals,
 * reports that rename an agent or change its host name, applied report
 * batches, bulk inserts, and deletion. Also: a filter's scopes cut the page,
 * the total and the facets to the agents one scope matches.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { type AgentRecord, type Store } from './index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { parseSelector } from '../fleet/selector.js';

const uid = (n: number) => `0190eeee-0000-7000-8000-${String(n).padStart(12, '0')}`;

function agent(n: number, labels: Record<string, string>, bound: Record<string, string> = {}): AgentRecord {
  return {
    id: uid(n),
    kind: 'corral',
    name: `box-${n}`,
    status: 'online',
    labels,
    boundLabels: bound,
    enrollmentTokenId: null,
    approval: 'approved',
    identifyingAttributes: {},
    nonIdentifyingAttributes: { 'host.name': `box-${n}.lan` },
    capabilities: 0,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: 1,
    lastSeenAt: 1,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`agent labels and search follow every write: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-agent-derived-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    const select = async (selector: string, q?: string) =>
      (await store.queryAgents({ requirements: parseSelector(selector).requirements, q, sort: 'name', descending: false, limit: 1000 })).agents.map((a) => a.id).sort();
    const labelFacets = async () => (await store.agentFacets({ requirements: [] }, { maxKeys: 50, maxValues: 20 })).labels;

    it('follows enrollment, label edits and removals, reports, and deletion', async (t) => {
      if (s.skip) return t.skip(s.skip);
      await store.createToken({ id: 'tk', kind: 'enrollment', name: 'edge', hash: 'hk', prefix: 'corral_enroll_ed', createdAt: 1, revokedAt: null, labels: { env: 'edge', zone: 'z9' } });
      assert.equal(await store.enrollAgent({ id: uid(1), tokenId: 'tk', at: 5, requireApproval: false }), 'enrolled');
      assert.deepEqual(await select('env=edge'), [uid(1)], 'bound labels on enrollment');
      assert.deepEqual(await select('', 'z9'), [uid(1)], 'bound label values are searchable');

      // An operator label overrides the bound one: the bound value no longer selects or matches a search.
      await store.setAgentLabels(uid(1), { env: 'lab', rack: 'r7' });
      assert.deepEqual(await select('env=edge'), []);
      assert.deepEqual(await select('env=lab,rack=r7,zone=z9'), [uid(1)]);
      assert.deepEqual(await select('', 'edge'), []);
      assert.deepEqual(await labelFacets(), { env: { lab: 1 }, rack: { r7: 1 }, zone: { z9: 1 } });

      // Removing operator labels brings the bound value back; the removed key is gone everywhere.
      await store.setAgentLabels(uid(1), {});
      assert.deepEqual(await select('env=edge,!rack'), [uid(1)]);
      assert.deepEqual(await select('', 'r7'), []);
      assert.deepEqual(await labelFacets(), { env: { edge: 1 }, zone: { z9: 1 } });

      // Reports that rename the agent and change its host name.
      await store.upsertAgentReport(uid(1), { name: 'renamed-one', nonIdentifyingAttributes: { 'host.name': 'new-host.lan', 'os.type': 'plan9' } }, 6);
      assert.deepEqual(await select('', 'RENAMED'), [uid(1)]);
      assert.deepEqual(await select('', 'new-host'), [uid(1)]);
      const counted = await store.agentFacets({ requirements: [] }, { maxKeys: 50, maxValues: 20 });
      assert.deepEqual([counted.os, counted.arch, counted.version], [{ plan9: 1 }, { '': 1 }, { '': 1 }]);
      await store.upsertAgentReport(uid(1), { identifyingAttributes: { 'service.version': '2.0.0' }, nonIdentifyingAttributes: { 'host.name': 'new-host.lan', 'host.arch': 'riscv64' } }, 6);
      const recounted = await store.agentFacets({ requirements: parseSelector('env=edge').requirements }, { maxKeys: 50, maxValues: 20 });
      assert.deepEqual([recounted.os, recounted.arch, recounted.version], [{ '': 1 }, { riscv64: 1 }, { '2.0.0': 1 }]);
      await store.applyAgentReports([{ id: uid(1), patch: { name: 'batched' }, at: 7 }]);
      assert.deepEqual(await select('', 'renamed'), []);
      assert.deepEqual(await select('', 'batched'), [uid(1)]);
      // A new agent seen first by a report: no labels, searchable by name.
      await store.upsertAgentReport(uid(2), { name: 'fresh' }, 8);
      assert.deepEqual(await select('', 'fresh'), [uid(2)]);
      assert.deepEqual(await select('!env'), [uid(2)]);

      // Deleting the agent leaves nothing of it behind.
      await store.revokeAgent(uid(1), 9);
      await store.deleteAgent(uid(1));
      assert.deepEqual(await select('env'), []);
      assert.deepEqual(await select('', 'batched'), []);
      assert.deepEqual(await labelFacets(), {});
    });

    it('cuts pages, totals and facets to the scopes given', async (t) => {
      if (s.skip) return t.skip(s.skip);
      await store.insertAgents([agent(10, { env: 'staging' }), agent(11, { env: 'prod' }), agent(12, {}, { env: 'staging', team: 'a' }), agent(13, { env: 'dev', team: 'a' })]);
      const staging = [parseSelector('env=staging').requirements];
      const page = await store.queryAgents({ requirements: [], scopes: staging, sort: 'name', descending: false, limit: 1 });
      assert.deepEqual(page.agents.map((a) => a.id), [uid(10)]);
      assert.equal(page.total, 2, 'the total counts only agents in scope');
      const facets = await store.agentFacets({ requirements: [], scopes: staging }, { maxKeys: 50, maxValues: 20 });
      assert.equal(facets.total, 2);
      assert.deepEqual(facets.labels, { env: { staging: 2 }, team: { a: 1 } });
      // Two scopes: an agent either matches counts once; a selector narrows within them.
      const two = [...staging, parseSelector('team=a').requirements];
      assert.equal((await store.queryAgents({ requirements: [], scopes: two, sort: 'name', descending: false, limit: 10 })).total, 3);
      assert.deepEqual((await store.agentFacets({ requirements: parseSelector('team').requirements, scopes: two }, { maxKeys: 50, maxValues: 20 })).labels.env, { staging: 1, dev: 1 });
      assert.equal((await store.queryAgents({ requirements: [], scopes: [], sort: 'name', descending: false, limit: 10 })).total, 0, 'no scope: no agent');
    });
  });
}
