/**
 * The authorization middleware in process: a route without an access rule is
 * refused to everyone, even an admin (deny by default); a rule's role is
 * enforced; unknown paths stay 404.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OpenAPIHono } from '@hono/zod-openapi';
import type { ApiEnv } from './api-env.js';
import type { Store } from '../store/index.js';
import type { Role } from '../auth/actor.js';
import { authorize } from './authorize.js';

function app(role: Role) {
  const a = new OpenAPIHono<ApiEnv>();
  a.use('/api/v1/*', async (c, next) => {
    c.set('actor', { userId: 'u', name: 'tester', tokenId: 't', roles: [{ role, selector: '' }] });
    await next();
  });
  a.use('/api/v1/*', authorize({ store: {} as Store }));
  a.get('/api/v1/no-rule-here', (c) => c.json({ ok: true }));
  a.get('/api/v1/packages', (c) => c.json({ packages: [] }));
  a.post('/api/v1/packages', (c) => c.json({ ok: true }));
  return a;
}

describe('authorize', () => {
  it('refuses a route without a rule to everyone, admins too', async () => {
    const res = await app('admin').request('/api/v1/no-rule-here');
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { error: { message: string } }).error.message, /GET \/api\/v1\/no-rule-here has no access rule.*deny by default/);
  });

  it("enforces a rule's role and lets unknown paths reach the 404", async () => {
    assert.equal((await app('viewer').request('/api/v1/packages')).status, 200);
    const refused = await app('operator').request('/api/v1/packages', { method: 'POST' });
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { error: { message: string } }).error.message, 'POST /api/v1/packages needs role admin; user tester has operator');
    assert.equal((await app('admin').request('/api/v1/packages', { method: 'POST' })).status, 200);
    assert.equal((await app('admin').request('/api/v1/nothing')).status, 404);
  });
});
