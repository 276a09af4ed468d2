/**
 * The token lists a page at a time, against a real server and the real CLI:
 * `GET /api/v1/whoami/tokens`, `/api/v1/users/{name}/tokens` and
 * `/api/v1/enrollment-tokens` take limit (1 to 1000, more refused), cursor
 * (a bad one is 400 naming it), sort and state, and walk every token once;
 * a cursor is only a position, so one taken from another user's list pages
 * through the caller's own tokens; the CLI follows pages with --all. The
 * enrollment-token route revokes nothing but enrollment tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet } from '../../src/testkit/fleet.js';
import { runCorral } from '../../src/testkit/processes.js';
import { join } from 'node:path';

interface Token {
  id: string;
  name: string;
  createdAt: string;
  revokedAt: string | null;
  token?: string;
}
interface Page {
  tokens: Token[];
  total: number;
  nextCursor: string | null;
  error?: { code: string; message: string };
}

describe('token lists, a page at a time', { concurrency: false }, () => {
  let fleet: Fleet;
  let pia = '';
  let mal = '';
  /** pia's tokens by name, in creation order. */
  const piaTokens: string[] = [];

  before(async () => {
    fleet = await Fleet.start();
    for (const name of ['pia', 'mal']) {
      assert.equal((await fleet.api('POST', '/api/v1/users', { name, roles: [{ role: 'viewer', selector: '' }] })).status, 201);
    }
    const given = await fleet.api<Token>('POST', '/api/v1/users/pia/tokens', { name: 'given' });
    pia = given.body.token!;
    piaTokens.push('given');
    mal = (await fleet.api<Token>('POST', '/api/v1/users/mal/tokens', { name: 'mal given' })).body.token!;
    for (let i = 0; i < 6; i++) {
      const r = await fleet.api<Token>('POST', '/api/v1/whoami/tokens', { name: `own ${i}`, expiresIn: '7d' }, pia);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      piaTokens.push(`own ${i}`);
      if (i % 3 === 0) assert.equal((await fleet.api('DELETE', `/api/v1/whoami/tokens/${r.body.id}`, undefined, pia)).status, 200);
    }
  });

  after(async () => {
    await fleet?.close();
  });

  async function walk(path: string, token: string, query: string): Promise<{ names: string[]; totals: number[]; pages: number }> {
    const names: string[] = [];
    const totals: number[] = [];
    let cursor: string | null = null;
    for (let pages = 1; pages <= 20; pages++) {
      const r: { status: number; body: Page } = await fleet.api<Page>('GET', `${path}?${query}${cursor ? `&cursor=${cursor}` : ''}`, undefined, token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      names.push(...r.body.tokens.map((t) => t.name));
      totals.push(r.body.total);
      cursor = r.body.nextCursor;
      if (!cursor) return { names, totals, pages };
    }
    throw new Error('the pages did not end');
  }

  it('walks your own tokens page by page, oldest first by default or newest first, each once, filtered by state', async () => {
    const all = await walk('/api/v1/whoami/tokens', pia, 'limit=3');
    assert.deepEqual(all, { names: piaTokens, totals: [7, 7, 7], pages: 3 });
    assert.deepEqual((await walk('/api/v1/whoami/tokens', pia, 'limit=2&sort=-createdAt')).names, [...piaTokens].reverse());
    assert.deepEqual((await walk('/api/v1/whoami/tokens', pia, 'limit=1&state=revoked')).names, ['own 0', 'own 3']);
    assert.deepEqual((await walk('/api/v1/whoami/tokens', pia, 'state=active')).names, ['given', 'own 1', 'own 2', 'own 4', 'own 5']);
    assert.deepEqual((await walk('/api/v1/whoami/tokens', pia, 'state=expired')).names, []);
    // Without a limit: one page of up to 100, as before paging.
    const plain = await fleet.api<Page>('GET', '/api/v1/whoami/tokens', undefined, pia);
    assert.deepEqual([plain.body.tokens.length, plain.body.nextCursor], [7, null]);
    assert.deepEqual((await walk('/api/v1/users/pia/tokens', fleet.adminToken, 'limit=4')).names, piaTokens, "an admin pages a user's tokens alike");
  });

  it('refuses an over-limit limit, a bad state or sort, and a cursor that is not one, naming the parameter', async () => {
    const refused = async (query: string, field: RegExp) => {
      const r = await fleet.api<Page>('GET', `/api/v1/whoami/tokens?${query}`, undefined, pia);
      assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error?.code, 'INVALID_ARGUMENT');
      assert.match(r.body.error!.message, field);
    };
    await refused('limit=1001', /^limit: /);
    await refused('limit=0', /^limit: /);
    await refused('limit=ten', /^limit: /);
    await refused('state=dead', /^state: /);
    await refused('sort=name', /^sort: /);
    await refused('cursor=not-a-cursor', /^cursor: not a cursor of this token list/);
    await refused(`cursor=${'A'.repeat(2000)}`, /^cursor: /);
    // A cursor of another list, and one of this list in the other order.
    const jobs = Buffer.from(JSON.stringify({ s: '-createdAt', k: 1, i: 'x' })).toString('base64url');
    await refused(`cursor=${jobs}`, /^cursor: not a cursor of this token list/);
    const first = await fleet.api<Page>('GET', '/api/v1/whoami/tokens?limit=1', undefined, pia);
    await refused(`sort=-createdAt&cursor=${first.body.nextCursor}`, /^cursor: .*with the same sort/);
    const crafted = Buffer.from(JSON.stringify({ s: 'tokens:createdAt', k: 'now', i: 'x' })).toString('base64url');
    await refused(`cursor=${crafted}`, /^cursor: /);
  });

  it("never pages into another user's tokens: a cursor from pia's list walks mal's own", async () => {
    const piaPage = await fleet.api<Page>('GET', '/api/v1/whoami/tokens?limit=1', undefined, pia);
    assert.ok(piaPage.body.nextCursor);
    const malPage = await fleet.api<Page>('GET', `/api/v1/whoami/tokens?cursor=${piaPage.body.nextCursor}`, undefined, mal);
    assert.equal(malPage.status, 200);
    assert.deepEqual([malPage.body.tokens.map((t) => t.name), malPage.body.total], [['mal given'], 1]);
    // A forged cursor positioned before everything: still only mal's.
    const start = Buffer.from(JSON.stringify({ s: 'tokens:createdAt', k: 0, i: '' })).toString('base64url');
    assert.deepEqual((await fleet.api<Page>('GET', `/api/v1/whoami/tokens?cursor=${start}&state=all`, undefined, mal)).body.tokens.map((t) => t.name), ['mal given']);
    const other = await fleet.api<Page>('GET', '/api/v1/users/pia/tokens?limit=1', undefined, mal);
    assert.equal(other.status, 403, "a viewer may not list another user's tokens");
  });

  it('revokes only enrollment tokens through the enrollment-token route: an API token id there is 404 and stays as it is', async () => {
    const given = (await fleet.api<Page>('GET', '/api/v1/whoami/tokens?state=active&limit=1', undefined, pia)).body.tokens[0]!;
    assert.equal(given.name, 'given');
    const r = await fleet.api<Page>('DELETE', `/api/v1/enrollment-tokens/${given.id}`);
    assert.equal(r.status, 404, JSON.stringify(r.body));
    assert.equal(r.body.error?.code, 'TOKEN_NOT_FOUND');
    assert.equal((await fleet.api('GET', '/api/v1/whoami', undefined, pia)).status, 200, 'still accepted');
    // So a live token never hangs under a revoked one that skipped the revocation down the tree.
    assert.deepEqual((await walk('/api/v1/whoami/tokens', pia, 'state=active')).names, ['given', 'own 1', 'own 2', 'own 4', 'own 5']);
  });

  it('pages the enrollment tokens, and the CLI follows pages with --all and says when more exist', async () => {
    for (const name of ['rack-1', 'rack-2', 'rack-3']) assert.equal((await fleet.api('POST', '/api/v1/enrollment-tokens', { name })).status, 201);
    const walked = await walk('/api/v1/enrollment-tokens', fleet.adminToken, 'limit=1');
    assert.deepEqual(walked.names, ['initial enrollment', 'rack-1', 'rack-2', 'rack-3']);
    assert.equal(walked.pages, 4);

    const some = await fleet.cli('token', 'list', '--limit', '2');
    assert.equal(some.code, 0, some.stderr);
    assert.match(some.stdout, /initial enrollment/);
    assert.doesNotMatch(some.stdout, /rack-2/);
    assert.match(some.stderr, /2 of 4 shown; --all or a bigger --limit for more/);
    const every = await fleet.cli('token', 'list', '--all', '-o', 'json');
    assert.equal(every.code, 0, every.stderr);
    const json = JSON.parse(every.stdout) as Page;
    assert.deepEqual([json.tokens.map((t) => t.name), json.total, json.nextCursor], [['initial enrollment', 'rack-1', 'rack-2', 'rack-3'], 4, null]);

    const env = { CORRAL_SERVER: fleet.url, CORRAL_TOKEN: pia, XDG_CONFIG_HOME: join(fleet.root, 'pia-xdg') };
    const newest = await runCorral(['me', 'token', 'list', '--newest', '--limit', '1', '--state', 'active', '-o', 'json'], env);
    assert.equal(newest.code, 0, newest.stderr);
    assert.deepEqual((JSON.parse(newest.stdout) as Page).tokens.map((t) => t.name), ['own 5']);
    const bad = await runCorral(['user', 'token', 'list', 'pia', '--state', 'dead'], { ...env, CORRAL_TOKEN: fleet.adminToken });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /--state must be one of active, revoked, expired, all, got "dead"/);
  });
});
