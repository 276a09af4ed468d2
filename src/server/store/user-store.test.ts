/**
 * The UserStore contract, against SQLite and PostgreSQL alike: users with
 * role bindings, their tokens, and the guard that keeps one admin.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Store } from './index.js';
import { CorralError, LastAdminError, RateLimitedError, TokenLimitError, TokenNotFoundError, UserExistsError, UserNotFoundError } from '../errors.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { newTokenRecord } from '../auth/tokens.js';
import { BUILTIN_ADMIN } from '../auth/actor.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`user store contract: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-users-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    it('has the built-in admin, admin on the whole fleet, from the migration', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const admin = await store.users.get(BUILTIN_ADMIN);
      assert.equal(admin?.name, BUILTIN_ADMIN);
      assert.deepEqual(admin?.roles, [{ role: 'admin', selector: '' }]);
      assert.equal(admin?.disabledAt, null);
    });

    it('creates users with roles, refuses a taken name, lists and finds them', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const bob = await store.users.create({ id: randomUUID(), name: 'bob', createdAt: 1000, disabledAt: null, roles: [{ role: 'operator', selector: 'env=staging' }, { role: 'viewer', selector: '' }, { role: 'viewer', selector: '' }] });
      assert.deepEqual(bob.roles, [{ role: 'operator', selector: 'env=staging' }, { role: 'viewer', selector: '' }]);
      await assert.rejects(store.users.create({ id: randomUUID(), name: 'bob', createdAt: 1001, disabledAt: null, roles: [] }), UserExistsError);
      assert.equal((await store.users.findByName('bob'))?.id, bob.id);
      assert.equal(await store.users.findByName('nobody'), null);
      assert.deepEqual((await store.users.list()).map((u) => u.name).sort(), [BUILTIN_ADMIN, 'bob']);
      assert.deepEqual((await store.users.list()).find((u) => u.name === 'bob')?.roles, bob.roles);
    });

    it('keeps user tokens with the user, finds revoked ones by hash, revokes them when the user goes', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const carol = await store.users.create({ id: randomUUID(), name: 'carol', createdAt: 2000, disabledAt: null, roles: [{ role: 'viewer', selector: '' }] });
      const a = newTokenRecord('user', 'laptop', 2001);
      const b = newTokenRecord('user', 'ci', 2002);
      await store.createToken({ ...a.record, userId: carol.id, expiresAt: 9999 });
      await store.createToken({ ...b.record, userId: carol.id });
      const listed = await store.users.listTokens(carol.id);
      assert.deepEqual(listed.map((x) => [x.name, x.kind, x.userId, x.expiresAt]), [['laptop', 'user', carol.id, 9999], ['ci', 'user', carol.id, null]]);
      assert.ok(a.secret.startsWith('corral_user_'));
      await store.revokeToken(a.record.id, 3000);
      assert.equal(await store.findActiveTokenByHash(a.record.hash), null);
      assert.equal((await store.users.findTokenByHash(a.record.hash))?.revokedAt, 3000);
      await store.users.delete(carol.id, 4000, { keepAdmin: true });
      assert.equal(await store.users.get(carol.id), null);
      assert.equal(await store.findActiveTokenByHash(b.record.hash), null, 'a deleted user\'s tokens are revoked');
      await assert.rejects(store.users.delete(carol.id, 4001, { keepAdmin: true }), UserNotFoundError);
    });

    it("keeps a token's own roles as created, and null for a token acting with all of its user's roles", async (t) => {
      if (s.skip) return t.skip(s.skip);
      const una = await store.users.create({ id: randomUUID(), name: 'una', createdAt: 2500, disabledAt: null, roles: [{ role: 'operator', selector: '' }] });
      const roles = [{ role: 'operator' as const, selector: 'env=staging,role in (web, "db")' }, { role: 'viewer' as const, selector: '' }];
      const narrowed = await store.users.createToken({ ...newTokenRecord('user', 'narrowed', 2501).record, userId: una.id, roles }, { maxActive: 5 });
      const plain = await store.users.createToken({ ...newTokenRecord('user', 'plain', 2502).record, userId: una.id }, { maxActive: 5 });
      assert.deepEqual(narrowed.roles, roles);
      assert.equal(plain.roles, null);
      assert.deepEqual((await store.users.listTokens(una.id)).map((x) => [x.name, x.roles]), [['narrowed', roles], ['plain', null]]);
      assert.deepEqual((await store.users.findTokenByHash(narrowed.hash))?.roles, roles);
      const enrollment = newTokenRecord('enrollment', 'e', 2503).record;
      await store.createToken(enrollment);
      assert.equal((await store.users.findTokenByHash(enrollment.hash))?.roles, null, 'enrollment tokens have none');
    });

    it('refuses to disable, demote or delete the last enabled admin on the whole fleet, changing nothing', async (t) => {
      if (s.skip) return t.skip(s.skip);
      await assert.rejects(store.users.setDisabled(BUILTIN_ADMIN, 5000, { keepAdmin: true }), LastAdminError);
      await assert.rejects(store.users.setRoles(BUILTIN_ADMIN, [{ role: 'admin', selector: 'env=dev' }], { keepAdmin: true }), LastAdminError);
      await assert.rejects(store.users.delete(BUILTIN_ADMIN, 5000, { keepAdmin: true }), LastAdminError);
      assert.deepEqual((await store.users.get(BUILTIN_ADMIN))?.roles, [{ role: 'admin', selector: '' }]);
      assert.equal((await store.users.get(BUILTIN_ADMIN))?.disabledAt, null);
      const dora = await store.users.create({ id: randomUUID(), name: 'dora', createdAt: 6000, disabledAt: null, roles: [{ role: 'admin', selector: '' }] });
      // With another admin, either may go, but not both.
      const [x, y] = await Promise.allSettled([store.users.setDisabled(BUILTIN_ADMIN, 6001, { keepAdmin: true }), store.users.setDisabled(dora.id, 6001, { keepAdmin: true })]);
      assert.equal([x, y].filter((r) => r.status === 'fulfilled').length, 1, JSON.stringify([x, y]));
      await store.users.setDisabled(BUILTIN_ADMIN, null, { keepAdmin: false });
      await store.users.setDisabled(dora.id, null, { keepAdmin: false });
      assert.equal((await store.users.setDisabled(dora.id, 7000, { keepAdmin: true })).disabledAt, 7000);
      assert.equal((await store.users.setDisabled(dora.id, null, { keepAdmin: true })).disabledAt, null);
    });

    it('creates user tokens within the bounds, atomically: racing creates never pass the active-token bound', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const erin = await store.users.create({ id: randomUUID(), name: 'erin', createdAt: 8000, disabledAt: null, roles: [] });
      const mint = (at: number, extra: { parentId?: string; expiresAt?: number } = {}) => store.users.createToken({ ...newTokenRecord('user', 'x', at).record, userId: erin.id, ...extra }, { maxActive: 3, maxWithParentPerDay: 4 });
      const raced = await Promise.allSettled(Array.from({ length: 8 }, () => mint(8001)));
      assert.equal(raced.filter((r) => r.status === 'fulfilled').length, 3, 'exactly the bound is created');
      for (const r of raced) if (r.status === 'rejected') assert.ok(r.reason instanceof TokenLimitError, String(r.reason));
      await assert.rejects(mint(8002), /erin has 3 active API tokens, the most allowed \(MAX_ACTIVE_TOKENS_PER_USER = 3\)/);
      assert.equal((await store.users.listTokens(erin.id)).length, 3, 'nothing half-created');
      // Expired and revoked tokens do not count.
      const [a] = await store.users.listTokens(erin.id);
      await store.users.revokeToken(erin.id, a!.id, 8003);
      const parent = await mint(8004, { expiresAt: 9000 });
      assert.equal(parent.userId, erin.id);
      assert.equal(parent.parentId, null);
      await assert.rejects(mint(8005), TokenLimitError);
      const child = await store.users.revokeToken(erin.id, (await store.users.listTokens(erin.id)).find((x) => x.revokedAt === null && x.id !== parent.id)!.id, 8006).then(() => mint(8007, { parentId: parent.id }));
      assert.equal(child.parentId, parent.id);
      await assert.rejects(mint(8008), TokenLimitError);
      // Expired tokens do not count: once the parent has expired there is room again.
      await mint(9001, { expiresAt: 9500 });
      assert.equal((await mint(9600)).userId, erin.id);
    });

    it("refuses a token whose parent is revoked, expired, another user's, or whose user is disabled", async (t) => {
      if (s.skip) return t.skip(s.skip);
      const fay = await store.users.create({ id: randomUUID(), name: 'fay', createdAt: 10_000, disabledAt: null, roles: [] });
      const gus = await store.users.create({ id: randomUUID(), name: 'gus', createdAt: 10_000, disabledAt: null, roles: [] });
      const limits = { maxActive: 20, maxWithParentPerDay: 100 };
      const mint = (userId: string, at: number, extra: { parentId?: string; expiresAt?: number } = {}) => store.users.createToken({ ...newTokenRecord('user', 'x', at).record, userId, ...extra }, limits);
      const root = await mint(fay.id, 10_001, { expiresAt: 20_000 });
      const refused = async (p: Promise<unknown>, why: RegExp) => {
        const err = await p.then(() => null, (e: unknown) => e);
        assert.ok(err instanceof CorralError && err.code === 'UNAUTHENTICATED', String(err));
        assert.match(err.message, why);
      };
      await refused(mint(gus.id, 10_002, { parentId: root.id }), /does not belong/);
      await refused(mint(fay.id, 20_000, { parentId: root.id }), /expired/);
      await store.users.setDisabled(fay.id, 10_003, { keepAdmin: false });
      await refused(mint(fay.id, 10_004, { parentId: root.id }), /fay is disabled/);
      await store.users.setDisabled(fay.id, null, { keepAdmin: false });
      await store.users.revokeToken(fay.id, root.id, 10_005);
      await refused(mint(fay.id, 10_006, { parentId: root.id }), /revoked/);
      assert.deepEqual((await store.users.listTokens(fay.id)).map((x) => x.id), [root.id], 'none was created');
      assert.deepEqual(await store.users.listTokens(gus.id), []);
      await assert.rejects(store.users.createToken({ ...newTokenRecord('user', 'x', 1).record, userId: 'no-such-user' }, limits), UserNotFoundError);
    });

    it('bounds the tokens created with a parent per 24 hours, saying when to retry', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const hal = await store.users.create({ id: randomUUID(), name: 'hal', createdAt: 0, disabledAt: null, roles: [] });
      const day = 24 * 3600_000;
      const limits = { maxActive: 20, maxWithParentPerDay: 2 };
      const root = await store.users.createToken({ ...newTokenRecord('user', 'root', 1000).record, userId: hal.id }, limits);
      const mint = (at: number) => store.users.createToken({ ...newTokenRecord('user', 'x', at).record, userId: hal.id, parentId: root.id }, limits);
      const first = await mint(2000);
      await store.users.revokeToken(hal.id, first.id, 2500);
      await mint(3000);
      const err = await mint(4000).then(() => null, (e: unknown) => e);
      assert.ok(err instanceof RateLimitedError, String(err));
      assert.match(err.message, /MAX_OWN_TOKENS_PER_DAY = 2/);
      assert.equal(err.retryAfterSeconds, Math.ceil((2000 + day - 4000) / 1000), 'when the oldest in the window leaves it');
      await mint(2000 + day + 1);
    });

    it('revokes a token with the tokens created with it, down the tree, and only the caller user\'s', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const ivy = await store.users.create({ id: randomUUID(), name: 'ivy', createdAt: 0, disabledAt: null, roles: [] });
      const jon = await store.users.create({ id: randomUUID(), name: 'jon', createdAt: 0, disabledAt: null, roles: [] });
      const limits = { maxActive: 20 };
      const mint = (userId: string, at: number, parentId?: string) => store.users.createToken({ ...newTokenRecord('user', 'x', at).record, userId, ...(parentId ? { parentId } : {}) }, limits);
      const root = await mint(ivy.id, 1);
      const child = await mint(ivy.id, 2, root.id);
      const grandchild = await mint(ivy.id, 3, child.id);
      const sibling = await mint(ivy.id, 4);
      const other = await mint(jon.id, 5);
      await assert.rejects(store.users.revokeToken(ivy.id, other.id, 6), TokenNotFoundError);
      assert.equal((await store.users.listTokens(jon.id))[0]!.revokedAt, null, "another user's token is untouched");
      const revoked = await store.users.revokeToken(ivy.id, child.id, 7);
      assert.equal(revoked.token.revokedAt, 7);
      assert.deepEqual(revoked.alsoRevoked.map((x) => x.id), [grandchild.id]);
      const all = await store.users.revokeToken(ivy.id, root.id, 8);
      assert.deepEqual(all.alsoRevoked, [], 'already revoked ones are not revoked again');
      const after = new Map((await store.users.listTokens(ivy.id)).map((x) => [x.id, x.revokedAt]));
      assert.deepEqual([after.get(root.id), after.get(child.id), after.get(grandchild.id), after.get(sibling.id)], [8, 7, 7, null]);
    });
  });
}
