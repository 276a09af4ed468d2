/**
 * API tokens narrowed to their own roles, against a real server with real
 * agents: a token does only what both it and its user may do now. An
 * admin's viewer token cannot write; an operator's token narrowed to
 * env=staging cannot touch prod; a token cannot be made broader than its
 * user, nor than the token creating it; demoting the user shrinks the token
 * at once (and promoting it never widens the token past its own roles);
 * whoami, listings, the audit log and the CLI show the roles.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { runCorral } from '../../src/testkit/processes.js';

interface Binding {
  role: string;
  selector: string;
}
interface Token {
  id: string;
  name: string;
  parentId: string | null;
  roles: Binding[] | null;
  token?: string;
}
interface Whoami {
  name: string;
  roles: Binding[];
  tokenRoles: Binding[] | null;
  tokenId: string;
}
interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T & { error?: { code: string; message: string } };
}

describe('API tokens narrowed to their own roles', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';
  const ids = { staging: '', prod: '' };

  async function call<T = Record<string, unknown>>(token: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const res = await fetch(fleet.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Answer<T>['body'] };
  }
  const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(fleet.adminToken, method, path, body);
  const whoami = async (token: string) => (await call<Whoami>(token, 'GET', '/api/v1/whoami')).body;

  async function user(name: string, roles: Binding[]): Promise<void> {
    const res = await admin('POST', '/api/v1/users', { name, roles });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
  /** An admin-made token for `name`, narrowed to `roles` when given. */
  async function tokenFor(name: string, roles?: Binding[]): Promise<Answer<Token>> {
    return admin<Token>('POST', `/api/v1/users/${name}/tokens`, { name: 'given', ...(roles ? { roles } : {}) });
  }
  async function secretFor(name: string, roles?: Binding[]): Promise<string> {
    const res = await tokenFor(name, roles);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.token!;
  }
  const mint = (token: string, body: Record<string, unknown>) => call<Token>(token, 'POST', '/api/v1/whoami/tokens', body);
  const relabel = (token: string, id: string) => call(token, 'PATCH', `/api/v1/agents/${id}`, { labels: { team: 'blue' } });

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-token-roles-'));
    const staging = await fleet.startAgent({ name: 'staging-1', labels: { env: 'staging', role: 'app' } });
    const prod = await fleet.startAgent({ name: 'prod-1', labels: { env: 'prod', role: 'app' } });
    ids.staging = (await fleet.awaitAgent(staging, (a) => a.status === 'online')).id;
    ids.prod = (await fleet.awaitAgent(prod, (a) => a.status === 'online')).id;
  });

  after(async () => {
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("refuses an admin's viewer-only token every write, naming the role needed and the one held; it still reads", async () => {
    const made = await mint(fleet.adminToken, { name: 'dashboards', roles: [{ role: 'viewer' }] });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    assert.deepEqual(made.body.roles, [{ role: 'viewer', selector: '' }]);
    const viewer = made.body.token!;
    assert.deepEqual(await whoami(viewer).then((w) => [w.name, w.roles, w.tokenRoles]), ['admin', [{ role: 'viewer', selector: '' }], [{ role: 'viewer', selector: '' }]]);

    const write = await call(viewer, 'POST', '/api/v1/users', { name: 'eve', roles: [{ role: 'admin', selector: '' }] });
    assert.equal(write.status, 403, JSON.stringify(write.body));
    assert.match(write.body.error!.message, /needs role admin; user admin's token \(narrowed to its own roles\) has viewer$/);
    assert.equal((await admin('GET', '/api/v1/users/eve')).status, 404, 'nothing was created');
    assert.equal((await relabel(viewer, ids.staging)).status, 403);
    assert.equal((await call(viewer, 'GET', '/api/v1/agents')).status, 200);
    assert.equal((await call(viewer, 'POST', '/api/v1/whoami/tokens', { name: 'wider', roles: [{ role: 'admin' }] })).status, 400, 'nor mints a broader token');
  });

  it("keeps an operator's token narrowed to env=staging off prod agents and deployments", async () => {
    await user('olga', [{ role: 'operator', selector: '' }]);
    const staging = await secretFor('olga', [{ role: 'operator', selector: 'env=staging' }]);
    assert.equal((await relabel(staging, ids.staging)).status, 200);
    const prod = await relabel(staging, ids.prod);
    assert.equal(prod.status, 403, JSON.stringify(prod.body));
    const deploy = await call(staging, 'POST', '/api/v1/deployments', { name: 'prd', package: 'app', version: '1.0.0', selector: 'env=prod' });
    assert.equal(deploy.status, 403, JSON.stringify(deploy.body));
    assert.match(deploy.body.error!.message, /prod-1/, 'names the agent outside the scope');
    assert.equal((await admin('GET', '/api/v1/deployments/prd')).status, 404, 'nothing was deployed');
    const listed = await call<{ agents: { name: string }[] }>(staging, 'GET', '/api/v1/agents');
    assert.deepEqual(listed.body.agents.map((a) => a.name), ['staging-1'], 'lists only its scope');
    // Olga's own (un-narrowed) token still reaches prod: only the narrowed one is held back.
    assert.equal((await relabel(await secretFor('olga'), ids.prod)).status, 200);
  });

  it("refuses a token with roles beyond its user's, or beyond the token creating it, naming them", async () => {
    await user('sam', [{ role: 'operator', selector: 'env=staging' }]);
    for (const roles of [[{ role: 'operator', selector: '' }], [{ role: 'admin', selector: 'env=staging' }], [{ role: 'viewer', selector: 'env=prod' }], [{ role: 'viewer', selector: 'role=app' }]]) {
      const res = await tokenFor('sam', roles);
      assert.equal(res.status, 400, `${JSON.stringify(roles)}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error!.message, /^roles must be within the roles of user sam: .+ is not within operator on env=staging$/);
    }
    const bad = await tokenFor('sam', [{ role: 'viewer', selector: 'env=' }]);
    assert.equal(bad.status, 400);
    assert.match(bad.body.error!.message, /roles\[0\]\.selector/);
    assert.equal((await admin<{ tokens: Token[] }>('GET', '/api/v1/users/sam/tokens')).body.tokens.length, 0, 'nothing was created');

    // Narrower than the user's: the same scope, or it and more requirements.
    const narrower = await tokenFor('sam', [{ role: 'viewer', selector: 'env=staging,role=app' }]);
    assert.equal(narrower.status, 201, JSON.stringify(narrower.body));
    const sam = await secretFor('sam');
    const prodMint = await mint(sam, { name: 'prod', roles: [{ role: 'operator', selector: 'env=prod' }] });
    assert.equal(prodMint.status, 400);
    assert.match(prodMint.body.error!.message, /^roles must be within yours .*: operator on env=prod is not within operator on env=staging$/);

    const reader = await mint(sam, { name: 'reader', roles: [{ role: 'viewer', selector: 'env=staging' }] });
    assert.equal(reader.status, 201, JSON.stringify(reader.body));
    const up = await mint(reader.body.token!, { name: 'up', roles: [{ role: 'operator', selector: 'env=staging' }] });
    assert.equal(up.status, 400, 'a narrowed token cannot mint a broader one');
    assert.match(up.body.error!.message, /operator on env=staging is not within viewer on env=staging/);
    const child = await mint(reader.body.token!, { name: 'child' });
    assert.equal(child.status, 201, JSON.stringify(child.body));
    assert.deepEqual(child.body.roles, [{ role: 'viewer', selector: 'env=staging' }], 'without roles, narrowed as its parent');
    assert.equal((await relabel(child.body.token!, ids.staging)).status, 403);
  });

  it('shrinks a narrowed token at once when its user is demoted, and never widens it past its own roles', async () => {
    await user('dora', [{ role: 'operator', selector: '' }]);
    const token = await secretFor('dora', [{ role: 'operator', selector: 'env=staging' }]);
    assert.equal((await relabel(token, ids.staging)).status, 200);

    assert.equal((await admin('PATCH', '/api/v1/users/dora', { roles: [{ role: 'viewer', selector: '' }] })).status, 200);
    assert.deepEqual((await whoami(token)).roles, [{ role: 'viewer', selector: 'env=staging' }], 'capped at what the user holds');
    const refused = await relabel(token, ids.staging);
    assert.equal(refused.status, 403);
    assert.match(refused.body.error!.message, /needs role operator; user dora's token \(narrowed to its own roles\) has viewer on env=staging/);

    assert.equal((await admin('PATCH', '/api/v1/users/dora', { roles: [{ role: 'operator', selector: 'env=prod' }] })).status, 200);
    assert.deepEqual((await whoami(token)).roles, [], 'no user binding covers env=staging any more');
    assert.equal((await call(token, 'GET', `/api/v1/agents/${ids.staging}`)).status, 403);

    assert.equal((await admin('PATCH', '/api/v1/users/dora', { roles: [{ role: 'admin', selector: '' }] })).status, 200);
    const w = await whoami(token);
    assert.deepEqual([w.roles, w.tokenRoles], [[{ role: 'operator', selector: 'env=staging' }], [{ role: 'operator', selector: 'env=staging' }]]);
    assert.equal((await relabel(token, ids.prod)).status, 403, 'never more than its own roles');
  });

  it('records the roles in the audit log, and does it all from the CLI', async () => {
    await user('cleo', [{ role: 'operator', selector: '' }]);
    const as = (token: string, ...args: string[]) => runCorral(args, { CORRAL_SERVER: fleet.url, CORRAL_TOKEN: token, XDG_CONFIG_HOME: join(work, 'cleo-xdg') });
    const byAdmin = await as(fleet.adminToken, 'user', 'token', 'create', 'cleo', '--name', 'ci', '--role', 'operator:env=staging', '--role', 'viewer');
    assert.equal(byAdmin.code, 0, byAdmin.stderr);
    assert.match(byAdmin.stdout, /narrowed to operator on env=staging, viewer/);
    const cleo = /^\s+(corral_user_\S+)$/m.exec(byAdmin.stdout)![1]!;

    const created = await as(cleo, 'me', 'token', 'create', '--name', 'stg', '--role', 'viewer:env=staging');
    assert.equal(created.code, 0, created.stderr);
    const stg = /^\s+(corral_user_\S+)$/m.exec(created.stdout)![1]!;
    const who = await as(stg, 'whoami');
    assert.equal(who.code, 0, who.stderr);
    assert.equal(who.stdout, 'cleo (viewer on env=staging)\nthis token is narrowed to viewer on env=staging\n');
    const beyond = await as(cleo, 'me', 'token', 'create', '--name', 'x', '--role', 'admin');
    assert.notEqual(beyond.code, 0);
    assert.match(beyond.stderr, /roles must be within yours .*: admin is not within operator on env=staging, viewer/);

    const listed = await as(fleet.adminToken, 'user', 'token', 'list', 'cleo');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /ROLES/);
    assert.match(listed.stdout, /operator on env=staging, viewer/);
    assert.match(listed.stdout, /viewer on env=staging/);

    const audit = await admin<{ records: { action: string; actor: { name: string }; summary: Record<string, unknown>; outcome: { result: string } }[] }>('GET', '/api/v1/audit?limit=1000');
    const creates = audit.body.records.filter((r) => r.action.endsWith('/tokens') && r.action.startsWith('POST') && JSON.stringify(r).includes('cleo'));
    const own = audit.body.records.find((r) => r.action === 'POST /api/v1/whoami/tokens' && r.actor.name === 'cleo' && r.outcome.result === 'ok');
    assert.deepEqual(own?.summary.roles, [{ role: 'viewer', selector: 'env=staging' }], JSON.stringify(creates));
    const refusedRecord = audit.body.records.find((r) => r.action === 'POST /api/v1/whoami/tokens' && r.actor.name === 'cleo' && r.outcome.result !== 'ok');
    assert.deepEqual(refusedRecord?.summary.roles, [{ role: 'admin', selector: '' }], 'the refused request names what it asked for');
  });
});
