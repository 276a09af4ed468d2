/**
 * Forgetting long-offline agents (Store.forgetOfflineAgents), on SQLite and
 * PostgreSQL: only offline agents last seen before the cutoff go, with every
 * row keyed by them; batches are bounded and oldest first; two replicas
 * forgetting at once never both take an agent; and (PostgreSQL, where
 * replicas share the store) an agent that comes back online while the
 * delete waits for its row is kept.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { openStore, type Store } from './index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { snapshotPostgres, snapshotSqlite } from '../../testkit/store-snapshot.js';
import { eventually } from '../../testkit/eventually.js';

const uid = (n: number) => `0190f0f0-0000-7000-8000-${String(n).padStart(12, '0')}`;

/** An agent first seen at `seenAt`, then marked offline (the hub does so after missed heartbeats). */
async function offlineAgent(store: Store, n: number, seenAt: number): Promise<string> {
  await store.upsertAgentReport(uid(n), { name: `old-${n}` }, seenAt);
  await store.setAgentStatus(uid(n), 'offline', seenAt);
  return uid(n);
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`forgetting long-offline agents: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-agent-forget-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    it('forgets offline agents last seen before the cutoff with every row keyed by them; keeps online, revoked and recently seen ones', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const gone = await offlineAgent(store, 1, 100);
      await store.setAgentLabels(gone, { env: 'prod' });
      assert.equal(await store.claimAgentCredential(gone, 'hash-of-gone'), true);
      assert.equal(await store.credentials.requestRotation([gone], 150), 1);
      await store.rollouts.setAgentRevisions('web', [gone], 1);
      await store.appendEvents([
        { at: 100, type: 'agent.online', agentId: gone, data: {} },
        { at: 110, type: 'agent.offline', agentId: gone, data: {} },
      ]);
      const recent = await offlineAgent(store, 2, 900);
      const online = uid(3);
      await store.upsertAgentReport(online, { name: 'online-3' }, 100); // online, though not heard of since 100
      const revoked = await offlineAgent(store, 4, 100);
      await store.revokeAgent(revoked, 120);
      await store.appendEvents([{ at: 100, type: 'agent.online', agentId: online, data: {} }]);

      const r = await store.forgetOfflineAgents(500, 500);
      assert.deepEqual(r, { agents: [{ id: gone, name: 'old-1', lastSeenAt: 100 }], events: 2 });
      assert.equal(await store.getAgent(gone), null);
      assert.deepEqual((await Promise.all([recent, online, revoked].map((id) => store.getAgent(id)))).map((a) => a?.status), ['offline', 'online', 'revoked']);
      assert.equal(await store.findAgentByCredentialHash('hash-of-gone'), null);
      assert.equal(await store.credentials.getRotation(gone), null, 'its credential rotation went with it');
      assert.equal((await store.listEvents({ agentId: online })).length, 1, "another agent's events stay");
      // No table keeps a row naming it: derived labels and facts, revisions, rotations, events.
      const snap = s.opened.database ? await snapshotPostgres(s.opened.database, new URL(s.opened.database).searchParams.get('options')!.split('=')[1]!) : snapshotSqlite(s.opened.dir);
      const naming = Object.entries(snap.rows).filter(([, rows]) => rows.some((row) => row.includes(gone))).map(([table]) => table);
      assert.deepEqual(naming, []);
      assert.deepEqual(await store.forgetOfflineAgents(500, 500), { agents: [], events: 0 }, 'nothing left to forget');
      // Its uid is free: the host may enroll anew.
      assert.equal((await store.upsertAgentReport(gone, { name: 'back' }, 1000)).status, 'online');
    });

    it('forgets at most the limit per call, oldest first, and the next calls take the rest', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const ids = [];
      for (let n = 0; n < 5; n++) ids.push(await offlineAgent(store, 100 + n, 50 - n * 10));
      const order = [...ids].reverse();
      const taken = [];
      for (let i = 0; i < 4; i++) taken.push((await store.forgetOfflineAgents(60, 2)).agents.map((a) => a.id));
      assert.deepEqual(taken, [order.slice(0, 2), order.slice(2, 4), order.slice(4), []]);
    });

    it('two replicas (on SQLite: two overlapping sweeps of the one server) forgetting at once take each agent once', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const ids = new Set<string>();
      for (let n = 0; n < 40; n++) ids.add(await offlineAgent(store, 200 + n, 10 + n));
      // SQLite has one server process (replicas need PostgreSQL): its overlapping calls share its one connection.
      const other = backend === 'postgres' ? await openStore({ database: s.opened.database, dataDir: s.opened.dir }) : store;
      try {
        const seen: string[] = [];
        // Bounded: at most 40 rounds each; both stop when a round finds nothing.
        await Promise.all(
          [store, other].map(async (s) => {
            for (let round = 0; round < 40; round++) {
              const r = await s.forgetOfflineAgents(60, 7);
              if (r.agents.length === 0) return;
              seen.push(...r.agents.map((a) => a.id));
            }
          }),
        );
        assert.equal(seen.length, ids.size, 'no agent was returned twice');
        assert.deepEqual(new Set(seen), ids);
      } finally {
        if (other !== store) await other.close();
      }
    });

    it('keeps an agent that comes back online while the delete waits for its row (replicas on PostgreSQL)', async (t) => {
      if (s.skip) return t.skip(s.skip);
      if (backend !== 'postgres') return t.skip('one SQLite server owns its store: a report and a forget cannot interleave inside one statement');
      const back = await offlineAgent(store, 300, 10);
      const gone = await offlineAgent(store, 301, 20);
      // Another replica's connection sets it online (a report), holding the row until it commits.
      const replica = new pg.Client({ connectionString: s.opened.database });
      await replica.connect();
      try {
        await replica.query('begin');
        await replica.query("update agents set status = 'online', last_seen_at = 5000 where id = $1", [back]);
        const forgetting = store.forgetOfflineAgents(60, 500);
        await eventually(
          async () => {
            // Inside its transaction the replica would see one snapshot of pg_stat_activity for good: take a fresh one.
            await replica.query('select pg_stat_clear_snapshot()');
            const r = await replica.query("select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'delete from \"agents\"%'");
            return (r.rows[0] as { n: number }).n > 0 || undefined;
          },
          { what: 'the forget waiting for the row lock', timeoutMs: 10_000 },
        );
        await replica.query('commit');
        const r = await forgetting;
        assert.deepEqual(r.agents.map((a) => a.id), [gone], 'the agent back online was re-checked and kept');
        assert.equal((await store.getAgent(back))?.status, 'online');
      } finally {
        await replica.end();
      }
    });
  });
}
