/**
 * Dead tokens and token pages (Store.tokens), on SQLite and PostgreSQL:
 * the retention DELETE takes only tokens revoked or expired before the
 * cutoff; keeps live and recently dead ones, the newest admin token, an
 * enrollment token an agent names, and a dead parent of a live token (so
 * revoking up the tree still reaches it); batches are bounded, oldest first;
 * two replicas deleting at once never both return a token. Pages go by
 * (created, id) either way, filtered by state, owned by one user or kind.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { openStore, type Store, type TokenRecord } from './index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { newTokenRecord } from '../auth/tokens.js';
import { BUILTIN_ADMIN } from '../auth/actor.js';

const LIMITS = { maxActive: 1000, maxWithParentPerDay: 1000 };

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`dead tokens and token pages: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-token-retention-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    async function userOf(name: string): Promise<string> {
      return (await store.users.create({ id: randomUUID(), name, createdAt: 0, disabledAt: null, roles: [] })).id;
    }
    async function apiToken(userId: string, createdAt: number, extra: { expiresAt?: number; parentId?: string; name?: string } = {}): Promise<TokenRecord> {
      return store.users.createToken({ ...newTokenRecord('user', extra.name ?? `t${createdAt}`, createdAt).record, userId, ...extra }, LIMITS);
    }

    it('deletes API tokens revoked or expired before the cutoff, and only those', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const ann = await userOf('ann');
      const revokedLongAgo = await apiToken(ann, 100);
      await store.users.revokeToken(ann, revokedLongAgo.id, 200);
      const revokedRecently = await apiToken(ann, 110);
      await store.users.revokeToken(ann, revokedRecently.id, 5000);
      const expiredLongAgo = await apiToken(ann, 120, { expiresAt: 300 });
      const expiredRecently = await apiToken(ann, 130, { expiresAt: 4000 });
      const live = await apiToken(ann, 140, { expiresAt: 1_000_000 });
      const forever = await apiToken(ann, 150);

      const deleted = await store.tokens.deleteDead(1000, 6000, 100, { enrollment: true });
      assert.deepEqual(deleted.map((d) => d.id), [revokedLongAgo.id, expiredLongAgo.id], 'oldest first');
      assert.deepEqual(deleted[0], { id: revokedLongAgo.id, kind: 'user', name: 't100', userId: ann, revokedAt: 200, expiresAt: null });
      assert.deepEqual((await store.users.listTokens(ann)).map((x) => x.id), [revokedRecently.id, expiredRecently.id, live.id, forever.id]);
      assert.equal(await store.users.findTokenByHash(revokedLongAgo.hash), null, 'gone: its holder is told "invalid API token"');
      assert.deepEqual(await store.tokens.deleteDead(1000, 6000, 100, { enrollment: true }), [], 'nothing left before the cutoff');
    });

    it('keeps the newest admin token (it marks the store as set up) and deletes older dead ones', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const first = newTokenRecord('admin', 'initial admin', 10).record;
      const second = newTokenRecord('admin', 'rotated admin', 20).record;
      await store.createToken({ ...first, userId: BUILTIN_ADMIN });
      await store.createToken({ ...second, userId: BUILTIN_ADMIN });
      await store.users.revokeToken(BUILTIN_ADMIN, first.id, 30);
      await store.users.revokeToken(BUILTIN_ADMIN, second.id, 40);
      const deleted = await store.tokens.deleteDead(1000, 6000, 100, { enrollment: true });
      assert.deepEqual(deleted.map((d) => d.id), [first.id]);
      assert.deepEqual((await store.listTokens('admin')).map((x) => x.id), [second.id], 'the store still looks set up');
    });

    it('deletes dead enrollment tokens only when asked and only when no agent names them', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const used = newTokenRecord('enrollment', 'used', 10).record;
      const unused = newTokenRecord('enrollment', 'unused', 11).record;
      const expired = { ...newTokenRecord('enrollment', 'expired', 12).record, expiresAt: 50 };
      for (const r of [used, unused, expired]) await store.createToken(r);
      assert.equal(await store.enrollAgent({ id: '0190cccc-0000-7000-8000-000000000001', tokenId: used.id, at: 20, requireApproval: false }), 'enrolled');
      for (const r of [used, unused]) await store.revokeToken(r.id, 30);
      assert.deepEqual(await store.tokens.deleteDead(1000, 6000, 100, { enrollment: false }), [], 'enrollment tokens left alone');
      const deleted = await store.tokens.deleteDead(1000, 6000, 100, { enrollment: true });
      assert.deepEqual(deleted.map((d) => d.id), [unused.id, expired.id]);
      assert.deepEqual((await store.listTokens('enrollment')).map((x) => x.id), [used.id], 'the one an agent enrolled with stays');
    });

    it('keeps a dead parent of a live token, so revoking the grandparent still revokes the live grandchild', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const bea = await userOf('bea');
      const root = await apiToken(bea, 100);
      const parent = await apiToken(bea, 110, { parentId: root.id });
      const child = await apiToken(bea, 120, { parentId: parent.id });
      // Not through UserStore.revokeToken (which revokes down the tree): a live child under a dead parent.
      await store.revokeToken(parent.id, 200);
      assert.deepEqual(await store.tokens.deleteDead(1000, 6000, 100, { enrollment: true }), [], 'the parent of a live token stays');
      const r = await store.users.revokeToken(bea, root.id, 7000);
      assert.deepEqual(r.alsoRevoked.map((x) => x.id), [child.id], 'reached through the dead parent');
      const gone = (await store.tokens.deleteDead(8000, 9000, 100, { enrollment: true })).filter((d) => d.userId === bea);
      assert.deepEqual(gone.map((d) => d.id), [root.id, parent.id, child.id]);
    });

    it('keeps a recently dead child whose parent was deleted, and revokes and lists it as before', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const cal = await userOf('cal');
      const parent = await apiToken(cal, 100, { expiresAt: 2000 });
      const child = await apiToken(cal, 110, { parentId: parent.id, expiresAt: 2000 });
      await store.users.revokeToken(cal, parent.id, 300);
      // The child was revoked with its parent (at 300) and expires at 2000: a cutoff of 1000 takes both.
      assert.deepEqual((await store.tokens.deleteDead(1000, 6000, 100, { enrollment: true })).map((d) => d.id), [parent.id, child.id]);
      const again = await apiToken(cal, 400, { expiresAt: 20_000 });
      const grandchild = await apiToken(cal, 410, { parentId: again.id, expiresAt: 20_000 });
      await store.users.revokeToken(cal, grandchild.id, 500);
      await store.users.revokeToken(cal, again.id, 100);
      // again revoked at 100 (before the cutoff), grandchild at 500 (after it): only again goes; grandchild keeps its dangling parent id.
      assert.deepEqual((await store.tokens.deleteDead(450, 6000, 100, { enrollment: true })).map((d) => d.id), [again.id]);
      assert.equal((await store.users.revokeToken(cal, grandchild.id, 600)).token.parentId, again.id);
      assert.notEqual(await store.users.getToken(cal, grandchild.id), null);
    });

    it('deletes at most the limit per call, oldest first; two replicas deleting at once return each token once', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const dee = await userOf('dee');
      const ids = new Set<string>();
      for (let n = 0; n < 45; n++) {
        const tok = await apiToken(dee, 1000 + n, { expiresAt: 1500 });
        ids.add(tok.id);
      }
      const firstTwo = await store.tokens.deleteDead(2000, 6000, 2, { enrollment: true });
      assert.equal(firstTwo.length, 2);
      for (const d of firstTwo) ids.delete(d.id);
      const other = backend === 'postgres' ? await openStore({ database: s.opened.database, dataDir: s.opened.dir }) : store;
      try {
        const seen: string[] = [];
        // Bounded: at most 45 rounds each; both stop when a round finds nothing.
        await Promise.all(
          [store, other].map(async (st) => {
            for (let round = 0; round < 45; round++) {
              const r = await st.tokens.deleteDead(2000, 6000, 4, { enrollment: true });
              if (r.length === 0) return;
              seen.push(...r.map((d) => d.id));
            }
          }),
        );
        assert.equal(seen.length, ids.size, 'no token was returned twice');
        assert.deepEqual(new Set(seen), ids);
      } finally {
        if (other !== store) await other.close();
      }
    });

    it("pages a user's tokens by (created, id) both ways, filtered by state, and never another user's", async (t) => {
      if (s.skip) return t.skip(s.skip);
      const eve = await userOf('eve');
      const fox = await userOf('fox');
      const mine: TokenRecord[] = [];
      for (let n = 0; n < 7; n++) mine.push(await apiToken(eve, 100 + Math.floor(n / 2), { expiresAt: n === 6 ? 500 : 10_000 }));
      await store.users.revokeToken(eve, mine[0]!.id, 300);
      await apiToken(fox, 100);
      const byId = (a: TokenRecord, b: TokenRecord) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1);
      const ascending = [...mine].sort(byId).map((x) => x.id);
      const walk = async (descending: boolean, state: 'all' | 'active' | 'revoked' | 'expired', limit: number) => {
        const got: string[] = [];
        let after: { createdAt: number; id: string } | undefined;
        for (let i = 0; i < 20; i++) {
          const p = await store.tokens.query({ owner: { userId: eve }, state, now: 1000, descending, limit, after });
          got.push(...p.tokens.map((x) => x.id));
          const last = p.tokens.at(-1);
          if (!p.hasMore || !last) return { got, total: p.total };
          after = { createdAt: last.createdAt, id: last.id };
        }
        throw new Error('did not end');
      };
      assert.deepEqual(await walk(false, 'all', 3), { got: ascending, total: 7 });
      assert.deepEqual(await walk(true, 'all', 2), { got: [...ascending].reverse(), total: 7 });
      assert.deepEqual((await walk(false, 'revoked', 3)).got, [mine[0]!.id]);
      assert.deepEqual((await walk(false, 'expired', 3)).got, [mine[6]!.id]);
      assert.deepEqual((await walk(false, 'active', 2)).got, ascending.filter((id) => id !== mine[0]!.id && id !== mine[6]!.id));
      const enrollment = await store.tokens.query({ owner: { kind: 'enrollment' }, state: 'all', now: 1000, descending: false, limit: 1000 });
      assert.ok(enrollment.tokens.every((x) => x.kind === 'enrollment'));
    });
  });
}
