/**
 * The audit log's store contract, on SQLite and PostgreSQL: appends form one
 * unbroken chain, also when many race in one process and when two stores
 * (two replicas) append to one database at once; pruning keeps the rest
 * verifiable; a row altered or deleted in the database is found.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { openStore, type NewAuditRecord, type Store } from './index.js';
import { postgresForTest, type TestSchema } from '../../testkit/postgres.js';
import { GENESIS_HASH, PRUNE_ACTION } from '../audit/chain.js';
import { verifyAuditChain } from '../audit/verify.js';

const entry = (n: number, over: Partial<NewAuditRecord> = {}): NewAuditRecord => ({
  at: 1_000 + n,
  actor: n % 2 ? 'alice' : 'bob',
  actorUserId: n % 2 ? 'u-alice' : 'u-bob',
  actorTokenId: `t-${n}`,
  source: '127.0.0.1',
  action: 'PUT /api/v1/configs/{name}',
  summary: { files: { 'a.yaml': { size: n } }, selector: 'env=prod' },
  target: { config: `c${n}` },
  status: 200,
  outcome: 'ok',
  message: '',
  ...over,
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit store contract: ${backend}`, { concurrency: false }, () => {
    let store: Store;
    let dir = '';
    let schema: TestSchema | null = null;
    let skip = '';
    let database = '';

    /** Runs SQL straight against the database, as an attacker with write access would. */
    async function tamper(statement: string): Promise<void> {
      if (schema) {
        const c = new pg.Client({ connectionString: schema.url });
        await c.connect();
        try {
          await c.query(statement);
        } finally {
          await c.end();
        }
      } else {
        const db = new SqliteDatabase(join(dir, 'corral.db'));
        try {
          db.pragma('busy_timeout = 5000');
          db.exec(statement);
        } finally {
          db.close();
        }
      }
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'corral-audit-store-'));
      if (backend === 'postgres') {
        const pgt = await postgresForTest();
        if ('skip' in pgt) {
          skip = pgt.skip;
          return;
        }
        schema = pgt.schema;
        database = schema.url;
      }
      store = await openStore({ database, dataDir: dir });
    });

    after(async () => {
      await store?.close();
      await schema?.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('chains appends: ids 1, 2, 3 and each prev_hash the hash before it', async (t) => {
      if (skip) return t.skip(skip);
      assert.equal(await store.audit.head(), null);
      assert.deepEqual(await verifyAuditChain(store.audit), { ok: true, records: 0, firstId: null, head: null, failure: null });
      const a = await store.audit.append(entry(1));
      const b = await store.audit.append(entry(2, { summary: { z: 1, a: [{ y: 2, b: 'x' }] } }));
      const c = await store.audit.append(entry(3, { outcome: 'denied', status: 403, message: 'no' }));
      assert.deepEqual([a.id, b.id, c.id], [1, 2, 3]);
      assert.equal(a.prevHash, GENESIS_HASH);
      assert.equal(b.prevHash, a.hash);
      assert.equal(c.prevHash, b.hash);
      assert.match(c.hash, /^[0-9a-f]{64}$/);
      assert.deepEqual(await store.audit.head(), { id: 3, hash: c.hash });
      const listed = await store.audit.list({ afterId: 0 });
      assert.deepEqual(listed, [a, b, c], 'read back exactly as appended');
      const v = await verifyAuditChain(store.audit);
      assert.equal(v.ok, true, JSON.stringify(v));
      assert.deepEqual(v.head, { id: 3, hash: c.hash });
      assert.equal((await verifyAuditChain(store.audit, { expectHash: b.hash })).ok, true);
      assert.match((await verifyAuditChain(store.audit, { expectHash: 'f'.repeat(64) })).failure?.reason ?? '', /no record has the expected hash/);
    });

    it('filters by actor, time, action and outcome, and pages with afterId', async (t) => {
      if (skip) return t.skip(skip);
      assert.deepEqual((await store.audit.list({ actor: 'alice', afterId: 0 })).map((r) => r.id), [1, 3]);
      assert.deepEqual((await store.audit.list({ since: 1002 })).map((r) => r.id), [2, 3]);
      assert.deepEqual((await store.audit.list({ until: 1002 })).map((r) => r.id), [1]);
      assert.deepEqual((await store.audit.list({ limit: 2 })).map((r) => r.id), [2, 3], 'the newest, oldest first');
      assert.deepEqual((await store.audit.list({ afterId: 1, limit: 1 })).map((r) => r.id), [2]);
      assert.deepEqual((await store.audit.list({ action: 'POST /api/v1/jobs' })).map((r) => r.id), []);
      assert.deepEqual((await store.audit.list({ outcome: 'denied' })).map((r) => r.id), [3]);
      assert.deepEqual((await store.audit.list({ outcome: 'ok', afterId: 0 })).map((r) => r.id), [1, 2]);
    });

    it('keeps one chain when many appends race in one process', async (t) => {
      if (skip) return t.skip(skip);
      const appended = await Promise.all(Array.from({ length: 40 }, (_, i) => store.audit.append(entry(100 + i))));
      assert.equal(new Set(appended.map((r) => r.id)).size, 40);
      const v = await verifyAuditChain(store.audit);
      assert.equal(v.ok, true, JSON.stringify(v.failure));
      assert.equal(v.records, 43);
    });

    it('keeps one chain when two stores on one database (two replicas) append at once', async (t) => {
      if (skip) return t.skip(skip);
      const [r1, r2] = await Promise.all([openStore({ database, dataDir: dir }), openStore({ database, dataDir: dir })]);
      try {
        const run = (s: Store, tag: string) => Promise.all(Array.from({ length: 30 }, (_, i) => s.audit.append(entry(200 + i, { actor: tag }))));
        const [a, b] = await Promise.all([run(r1, 'replica-1'), run(r2, 'replica-2')]);
        const ids = [...a, ...b].map((r) => r.id);
        assert.equal(new Set(ids).size, 60, 'no id handed out twice');
        const v = await verifyAuditChain(store.audit);
        assert.equal(v.ok, true, JSON.stringify(v.failure));
        assert.equal(v.records, 103);
      } finally {
        await Promise.all([r1.close(), r2.close()]);
      }
    });

    it('finds a row altered in the database, naming it', async (t) => {
      if (skip) return t.skip(skip);
      await tamper(`update audit_log set actor = 'mallory' where id = 2`);
      const v = await verifyAuditChain(store.audit);
      assert.equal(v.ok, false);
      assert.equal(v.failure?.id, 2);
      assert.match(v.failure!.reason, /record 2 was altered/);
      await tamper(`update audit_log set actor = 'bob' where id = 2`);
      assert.equal((await verifyAuditChain(store.audit)).ok, true, 'and passes again once restored');
    });

    it('finds a row deleted from the middle, naming the record after the gap', async (t) => {
      if (skip) return t.skip(skip);
      const saved = (await store.audit.list({ afterId: 4, limit: 1 }))[0]!;
      await tamper(`delete from audit_log where id = 5`);
      const v = await verifyAuditChain(store.audit);
      assert.equal(v.ok, false);
      assert.equal(v.failure?.id, 6);
      assert.match(v.failure!.reason, /records 5\.\.5 are missing/);
      // Put it back (as it was) for the cases after this one.
      await store.close();
      store = await openStore({ database, dataDir: dir });
      await tamper(
        `insert into audit_log (id, at, actor, actor_user_id, actor_token_id, source, action, summary, target, status, outcome, message, prev_hash, hash) values (5, ${saved.at}, '${saved.actor}', '${saved.actorUserId}', '${saved.actorTokenId}', '${saved.source}', '${saved.action}', '${JSON.stringify(saved.summary)}', '${JSON.stringify(saved.target)}', ${saved.status}, '${saved.outcome}', '', '${saved.prevHash}', '${saved.hash}')`,
      );
      assert.equal((await verifyAuditChain(store.audit)).ok, true);
    });

    it('prunes old records into a pruning record that keeps the rest verifiable; deleting older rows by hand is still found', async (t) => {
      if (skip) return t.skip(skip);
      const before = await store.audit.head();
      // Records 1..3 have at 1001..1003; the rest later.
      const pruned = await store.audit.prune(1004, 1000, (p) => ({
        ...entry(0),
        at: 10_000,
        actor: 'corral',
        action: PRUNE_ACTION,
        summary: { prunedThroughId: p.throughId, prunedThroughHash: p.throughHash, count: p.count },
        target: {},
      }));
      assert.ok(pruned);
      assert.equal(pruned.id, before!.id + 1);
      assert.deepEqual(pruned.summary, { prunedThroughId: 3, prunedThroughHash: (pruned.summary as { prunedThroughHash: string }).prunedThroughHash, count: 3 });
      assert.equal((await store.audit.list({ afterId: 0, limit: 1 }))[0]!.id, 4);
      const v = await verifyAuditChain(store.audit);
      assert.equal(v.ok, true, JSON.stringify(v.failure));
      assert.equal(v.firstId, 4);
      assert.equal(await store.audit.prune(1004, 1000, () => entry(0)), null, 'nothing that old is left: nothing appended');

      await tamper(`delete from audit_log where id = 4`);
      const cut = await verifyAuditChain(store.audit);
      assert.equal(cut.ok, false);
      assert.equal(cut.failure?.id, 5);
      assert.match(cut.failure!.reason, /records before 5 are missing and no pruning record accounts for them/);
    });
  });
}
