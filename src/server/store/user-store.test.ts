/**
 * The UserStore contract, against SQLite and PostgreSQL alike: users with
 * role bindings, their tokens, and the guard that keeps one admin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Store } from './index.js';
import { LastAdminError, UserExistsError, UserNotFoundError } from '../errors.js';
import { openTestStore, type TestStore } from '../../testkit/test-store.js';
import { newTokenRecord } from '../auth/tokens.js';
import { BUILTIN_ADMIN } from '../auth/actor.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`user store contract: ${backend}`, { concurrency: false }, () => {
    let store: Store;
    let ts: TestStore | undefined;
    let skip = '';

    before(async () => {
      const opened = await openTestStore(backend, 'corral-users-');
      if ('skip' in opened) {
        skip = opened.skip;
        return;
      }
      ts = opened;
      store = opened.store;
    });

    after(async () => {
      await ts?.close();
    });

    it('has the built-in admin, admin on the whole fleet, from the migration', async (t) => {
      if (skip) return t.skip(skip);
      const admin = await store.users.get(BUILTIN_ADMIN);
      assert.equal(admin?.name, BUILTIN_ADMIN);
      assert.deepEqual(admin?.roles, [{ role: 'admin', selector: '' }]);
      assert.equal(admin?.disabledAt, null);
    });

    it('creates users with roles, refuses a taken name, lists and finds them', async (t) => {
      if (skip) return t.skip(skip);
      const bob = await store.users.create({ id: randomUUID(), name: 'bob', createdAt: 1000, disabledAt: null, roles: [{ role: 'operator', selector: 'env=staging' }, { role: 'viewer', selector: '' }, { role: 'viewer', selector: '' }] });
      assert.deepEqual(bob.roles, [{ role: 'operator', selector: 'env=staging' }, { role: 'viewer', selector: '' }]);
      await assert.rejects(store.users.create({ id: randomUUID(), name: 'bob', createdAt: 1001, disabledAt: null, roles: [] }), UserExistsError);
      assert.equal((await store.users.findByName('bob'))?.id, bob.id);
      assert.equal(await store.users.findByName('nobody'), null);
      assert.deepEqual((await store.users.list()).map((u) => u.name).sort(), [BUILTIN_ADMIN, 'bob']);
      assert.deepEqual((await store.users.list()).find((u) => u.name === 'bob')?.roles, bob.roles);
    });

    it('keeps user tokens with the user, finds revoked ones by hash, revokes them when the user goes', async (t) => {
      if (skip) return t.skip(skip);
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

    it('refuses to disable, demote or delete the last enabled admin on the whole fleet, changing nothing', async (t) => {
      if (skip) return t.skip(skip);
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
  });
}
