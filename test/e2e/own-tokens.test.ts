/**
 * Self-service API tokens (`/api/v1/whoami/tokens`, `corral me token`)
 * against a real server, played by an attacker holding a stolen
 * low-privilege token: it may mint tokens for its own user only, never one
 * that outlives it or goes past a year, never past the per-user bounds; it
 * cannot see, mint for or revoke another user's tokens; a revoked or
 * expired token and a disabled user's token mint nothing; revoking a token
 * revokes what it minted. Every create and revoke is audited without the
 * secret, and the store keeps only the secret's sha256.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { runCorral } from '../../src/testkit/processes.js';

interface Token {
  id: string;
  name: string;
  prefix: string;
  expiresAt: string | null;
  revokedAt: string | null;
  parentId: string | null;
  token?: string;
  alsoRevoked?: string[];
}
interface Answer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T & { error?: { code: string; message: string } };
}

const DAY = 24 * 3600_000;
const MINUTE = 60_000;

describe('self-service API tokens', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';
  /** Every secret minted here: none may show up in the audit log, the server's output or a listing. */
  const secrets: string[] = [];

  async function call<T = Record<string, unknown>>(token: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
    const res = await fetch(fleet.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as Answer<T>['body'] };
  }

  const admin = <T = Record<string, unknown>>(method: string, path: string, body?: unknown) => call<T>(fleet.adminToken, method, path, body);

  /** A user made by the admin, with one admin-made token (optionally expiring). */
  async function user(name: string, roles: { role: string; selector: string }[], tokenBody: Record<string, unknown> = { name: 'given' }): Promise<string> {
    assert.equal((await admin('POST', '/api/v1/users', { name, roles })).status, 201);
    const res = await admin<Token>('POST', `/api/v1/users/${name}/tokens`, tokenBody);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    secrets.push(res.body.token!);
    return res.body.token!;
  }

  async function mint(token: string, body: Record<string, unknown>): Promise<Answer<Token>> {
    const res = await call<Token>(token, 'POST', '/api/v1/whoami/tokens', body);
    if (res.body.token) secrets.push(res.body.token);
    return res;
  }

  const whoami = async (token: string) => (await call<{ name: string; tokenId: string }>(token, 'GET', '/api/v1/whoami')).body;
  const tokensOf = async (name: string) => (await admin<{ tokens: Token[] }>('GET', `/api/v1/users/${name}/tokens`)).body.tokens;

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-own-tokens-'));
  });

  after(async () => {
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lets any user, even one without roles, list, create and revoke their own tokens; the secret is shown once and stored as its sha256', async () => {
    const nora = await user('nora', []);
    const me = await whoami(nora);
    const created = await mint(nora, { name: 'ci', expiresIn: '1h' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret = created.body.token!;
    assert.match(secret, /^corral_user_/);
    assert.equal(created.body.parentId, me.tokenId, 'it names the token that created it');
    const expires = Date.parse(created.body.expiresAt!);
    assert.ok(Math.abs(expires - (Date.now() + 60 * MINUTE)) < 5 * MINUTE, created.body.expiresAt!);
    assert.equal((await whoami(secret)).name, 'nora', 'the new token acts as its user');

    const listed = await call<{ tokens: Token[] }>(nora, 'GET', '/api/v1/whoami/tokens');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.tokens.map((t) => t.name), ['given', 'ci']);
    assert.ok(!JSON.stringify(listed.body).includes(secret), 'a listing never shows a secret');

    const db = new SqliteDatabase(join(fleet.root, 'server', 'corral.db'), { readonly: true });
    try {
      db.pragma('busy_timeout = 5000');
      const row = db.prepare('select * from tokens where id = ?').get(created.body.id) as Record<string, unknown>;
      assert.equal(row.hash, createHash('sha256').update(secret).digest('hex'));
      assert.ok(!JSON.stringify(row).includes(secret.slice(16)), 'the store keeps no part of the secret beyond its prefix');
    } finally {
      db.close();
    }

    const revoked = await call<Token>(nora, 'DELETE', `/api/v1/whoami/tokens/${created.body.id}`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    assert.ok(revoked.body.revokedAt);
    const refused = await call(secret, 'GET', '/api/v1/whoami');
    assert.equal(refused.status, 401);
    assert.match(refused.body.error!.message, /API token "ci" .* was revoked at/);
    assert.equal((await whoami(nora)).name, 'nora', 'the token that revoked it still works');
  });

  it('never lets a stolen token mint one that outlives it, or lives past a year', async () => {
    const short = await user('sid', [{ role: 'viewer', selector: '' }], { name: 'stolen', expiresIn: '2h' });
    const stolenExpiry = Date.parse((await tokensOf('sid'))[0]!.expiresAt!);
    const longer = await mint(short, { name: 'escape', expiresIn: '3h' });
    assert.equal(longer.status, 400, JSON.stringify(longer.body));
    assert.match(longer.body.error!.message, /expiresIn: 3h .* is after .*, when the token you are using expires/);
    const later = await mint(short, { name: 'escape', expiresAt: new Date(stolenExpiry + 1000).toISOString() });
    assert.equal(later.status, 400);
    const defaulted = await mint(short, { name: 'default' });
    assert.equal(defaulted.status, 201, JSON.stringify(defaulted.body));
    assert.equal(Date.parse(defaulted.body.expiresAt!), stolenExpiry, 'no expiry asked: it ends with its creator');
    // Its child is held to it in turn.
    const grandchild = await mint(defaulted.body.token!, { name: 'grandchild', expiresIn: '3h' });
    assert.equal(grandchild.status, 400);

    const forever = await user('fred', [{ role: 'viewer', selector: '' }]);
    const tooLong = await mint(forever, { name: 'long', expiresIn: '366d' });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.body.error!.message, /more than 365 days from now.*OWN_TOKEN_MAX_LIFETIME_DAYS/);
    const byDefault = await mint(forever, { name: 'default' });
    assert.ok(Math.abs(Date.parse(byDefault.body.expiresAt!) - (Date.now() + 90 * DAY)) < 5 * MINUTE, byDefault.body.expiresAt!);
    const year = await mint(forever, { name: 'year', expiresIn: '365d' });
    assert.equal(year.status, 201);
    assert.deepEqual((await tokensOf('sid')).map((t) => t.name), ['stolen', 'default'], 'only the allowed one was created');
  });

  it("cannot mint for, list or revoke another user's tokens", async () => {
    const mallory = await user('mallory', [{ role: 'operator', selector: 'env=staging' }]);
    const victim = await user('victor', [{ role: 'admin', selector: '' }]);
    const victimToken = (await tokensOf('victor'))[0]!;

    assert.equal((await call(mallory, 'POST', '/api/v1/users/victor/tokens', { name: 'mine-now' })).status, 403);
    assert.equal((await call(mallory, 'GET', '/api/v1/users/victor/tokens')).status, 403);
    for (const body of [{ name: 'x', user: 'victor' }, { name: 'x', userId: victimToken.id }, { name: 'x', roles: [{ role: 'admin', selector: '' }] }]) {
      const res = await mint(mallory, body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
    }
    assert.deepEqual((await tokensOf('victor')).map((t) => t.id), [victimToken.id], 'victor got no token');
    const minted = await mint(mallory, { name: 'x' });
    assert.equal((await whoami(minted.body.token!)).name, 'mallory', 'a minted token is always its creator');

    const listed = (await call<{ tokens: Token[] }>(mallory, 'GET', '/api/v1/whoami/tokens')).body.tokens;
    assert.ok(listed.length > 0 && !listed.some((t) => t.id === victimToken.id), 'only its own tokens are listed');
    const steal = await call(mallory, 'DELETE', `/api/v1/whoami/tokens/${victimToken.id}`);
    assert.equal(steal.status, 404, 'another user\'s token is not found, as one that does not exist');
    assert.equal(steal.body.error!.code, 'TOKEN_NOT_FOUND');
    assert.equal((await call(mallory, 'DELETE', '/api/v1/whoami/tokens/no-such-token')).body.error!.message, steal.body.error!.message.replace(victimToken.id, 'no-such-token'), 'the same answer: no existence oracle');
    assert.equal((await whoami(victim)).name, 'victor', "victor's token still works");
    assert.equal((await tokensOf('victor'))[0]!.revokedAt, null);
  });

  it('revokes the tokens a token minted (and theirs) with it, by its user or an admin', async () => {
    const rex = await user('rex', [{ role: 'viewer', selector: '' }]);
    const child = await mint(rex, { name: 'child' });
    const grandchild = await mint(child.body.token!, { name: 'grandchild' });
    const sibling = await mint(rex, { name: 'sibling' });
    assert.equal(grandchild.body.parentId, child.body.id);
    const res = await call<Token>(rex, 'DELETE', `/api/v1/whoami/tokens/${child.body.id}`);
    assert.deepEqual(res.body.alsoRevoked, [grandchild.body.id]);
    assert.equal((await call(grandchild.body.token!, 'GET', '/api/v1/whoami')).status, 401);
    assert.equal((await call(sibling.body.token!, 'GET', '/api/v1/whoami')).status, 200, 'a sibling stays');

    // The admin revokes the (stolen) root: what it minted goes with it, so the thief keeps nothing.
    const kept = await mint(sibling.body.token!, { name: 'kept' });
    const root = (await tokensOf('rex')).find((t) => t.name === 'given')!;
    const byAdmin = await admin<Token>('DELETE', `/api/v1/users/rex/tokens/${root.id}`);
    assert.equal(byAdmin.status, 200);
    assert.deepEqual(new Set(byAdmin.body.alsoRevoked), new Set([sibling.body.id, kept.body.id]));
    for (const t of [rex, sibling.body.token!, kept.body.token!]) assert.equal((await call(t, 'GET', '/api/v1/whoami')).status, 401);
  });

  it("mints nothing with a revoked or expired token, or a disabled user's", async () => {
    const revokedToken = await user('rita', [{ role: 'viewer', selector: '' }]);
    const expiring = (await admin<Token>('POST', '/api/v1/users/rita/tokens', { name: 'expiring', expiresIn: '2s' })).body.token!;
    const fresh = (await admin<Token>('POST', '/api/v1/users/rita/tokens', { name: 'fresh' })).body.token!;
    secrets.push(expiring, fresh);
    const given = (await tokensOf('rita')).find((t) => t.name === 'given')!;
    await admin('DELETE', `/api/v1/users/rita/tokens/${given.id}`);
    const byRevoked = await mint(revokedToken, { name: 'x' });
    assert.equal(byRevoked.status, 401);
    assert.match(byRevoked.body.error!.message, /was revoked/);

    // Waits on a read (a mint before the expiry would succeed), then tries to mint.
    await eventually(async () => (await call(expiring, 'GET', '/api/v1/whoami')).status === 401 || undefined, { timeoutMs: 30_000, what: 'the 2s token expires' });
    const byExpired = await mint(expiring, { name: 'x' });
    assert.equal(byExpired.status, 401);
    assert.match(byExpired.body.error!.message, /expired at/);

    await admin('PATCH', '/api/v1/users/rita', { disabled: true });
    const byDisabled = await mint(fresh, { name: 'x' });
    assert.equal(byDisabled.status, 401);
    assert.match(byDisabled.body.error!.message, /user rita is disabled/);
    assert.equal((await call(fresh, 'DELETE', `/api/v1/whoami/tokens/${given.id}`)).status, 401, 'nor revokes');
    assert.deepEqual((await tokensOf('rita')).map((t) => t.name).sort(), ['expiring', 'fresh', 'given'], 'nothing was minted');
  });

  it('bounds live tokens per user at 20, even when requests race, and creations per day at 100, naming each limit', async () => {
    const dan = await user('dan', [{ role: 'viewer', selector: '' }]);
    const raced = await Promise.all(Array.from({ length: 25 }, (_, i) => mint(dan, { name: `t${i}`, expiresIn: '1h' })));
    assert.equal(raced.filter((r) => r.status === 201).length, 19, 'the admin-made token and 19 more: 20');
    const over = raced.find((r) => r.status !== 201)!;
    assert.equal(over.status, 409);
    assert.equal(over.body.error!.code, 'TOKEN_LIMIT');
    assert.match(over.body.error!.message, /dan has 20 active API tokens, the most allowed \(MAX_ACTIVE_TOKENS_PER_USER = 20\); revoke one first/);
    assert.equal((await tokensOf('dan')).filter((t) => t.revokedAt === null).length, 20);

    // Revoking makes room, but not without end: 100 creations a day, revoked ones included.
    // (The admin revokes, so dan's token stays under the per-token request rate.)
    let created = 19;
    let limited: Answer<Token> | undefined;
    for (const r of raced.filter((x) => x.status === 201)) await admin('DELETE', `/api/v1/users/dan/tokens/${r.body.id}`);
    for (let i = 0; i < 120 && !limited; i++) {
      const res = await mint(dan, { name: `churn${i}`, expiresIn: '1h' });
      if (res.status === 201) {
        created++;
        assert.equal((await admin('DELETE', `/api/v1/users/dan/tokens/${res.body.id}`)).status, 200);
      } else limited = res;
    }
    assert.equal(created, 100);
    assert.equal(limited?.status, 429, JSON.stringify(limited?.body));
    assert.match(limited.body.error!.message, /created 100 tokens in the last 24 hours, the most allowed \(MAX_OWN_TOKENS_PER_DAY = 100\)/);
    const retry = Number(limited.headers.get('retry-after'));
    assert.ok(retry > 23 * 3600 && retry <= 24 * 3600, `Retry-After ${retry}`);
  });

  it('audits every create and revoke with its user and token, and never the secret', async () => {
    const ann = await user('ann', [{ role: 'viewer', selector: '' }]);
    const made = await mint(ann, { name: 'audited', expiresIn: '1h' });
    await call(ann, 'DELETE', `/api/v1/whoami/tokens/${made.body.id}`);
    const refused = await mint(ann, { name: 'too-long', expiresIn: '999d' });
    assert.equal(refused.status, 400);
    const res = await admin<{ records: { action: string; actor: { name: string; tokenId: string }; summary: Record<string, unknown>; target: Record<string, unknown>; outcome: { result: string } }[] }>(
      'GET',
      '/api/v1/audit?limit=1000',
    );
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const mine = res.body.records.filter((r) => r.actor.name === 'ann');
    const annToken = (await whoami(ann)).tokenId;
    const create = mine.find((r) => r.action === 'POST /api/v1/whoami/tokens' && r.outcome.result === 'ok');
    assert.ok(create, JSON.stringify(mine));
    assert.equal(create.actor.tokenId, annToken);
    assert.equal(create.target.id, made.body.id);
    assert.equal(create.summary.name, 'audited');
    assert.equal(create.summary.expires, made.body.expiresAt);
    assert.ok(mine.some((r) => r.action === 'DELETE /api/v1/whoami/tokens/{id}' && r.target.id === made.body.id && r.outcome.result === 'ok'));
    assert.ok(mine.some((r) => r.action === 'POST /api/v1/whoami/tokens' && r.outcome.result === 'error'), 'the refusal is recorded');

    const everything = JSON.stringify(res.body) + fleet.server.stdout + fleet.server.stderr;
    const shown = secrets.filter((s) => everything.includes(s) || everything.includes(s.slice(16)));
    assert.deepEqual(shown, [], 'no secret in the audit log or the server output');
  });

  it('does it all from the CLI: corral me token create | list | revoke', async () => {
    const cleo = await user('cleo', [{ role: 'viewer', selector: '' }]);
    const as = (...args: string[]) => runCorral(args, { CORRAL_SERVER: fleet.url, CORRAL_TOKEN: cleo, XDG_CONFIG_HOME: join(work, 'cleo-xdg') });
    const created = await as('me', 'token', 'create', '--name', 'laptop', '--expires', '7d');
    assert.equal(created.code, 0, created.stderr);
    const secret = /^\s+(corral_user_\S+)$/m.exec(created.stdout)?.[1];
    assert.ok(secret, created.stdout);
    secrets.push(secret);
    assert.match(created.stdout, /shown only once/);
    const id = /created API token (\S+) \(laptop\), expires /.exec(created.stdout)![1]!;

    const listed = await as('me', 'token', 'list');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /laptop/);
    assert.match(listed.stdout, /\(this one\)/);
    assert.ok(!listed.stdout.includes(secret), 'listed without the secret');

    const tooLong = await as('me', 'token', 'create', '--name', 'forever', '--expires', '400d');
    assert.notEqual(tooLong.code, 0);
    assert.match(tooLong.stderr, /365 days/);

    const revoked = await as('me', 'token', 'revoke', id);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.match(revoked.stdout, new RegExp(`revoked API token ${id} \\(laptop\\)`));
    assert.equal((await call(secret, 'GET', '/api/v1/whoami')).status, 401);

    const help = await as('me', 'token', 'create', '--help');
    assert.match(help.stdout, /no later than the token you create it with/);
  });
});
