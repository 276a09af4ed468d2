/**
 * Who may do what, against a real server with real agents:
 *
 * - THE route × role test: every route in /api/v1/openapi.json, every SSE
 *   stream and artifact downloads, for no token, a viewer, an operator, an
 *   admin, and an operator scoped to env=staging acting inside and outside
 *   its scope; each answer must be refused (401/403) or not exactly as
 *   ACCESS_RULES says, and no answer shows a secret value or secret file.
 *   A route without a rule fails it.
 * - The attacks: an operator on admin routes, a scoped operator deploying or
 *   configuring beyond its scope (nothing changes), a viewer writing, revoked,
 *   expired and disabled users' tokens, relabelling an agent into or out of
 *   a scope; and the CLI flow (user create, token create, login, whoami).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { runCorral } from '../../src/testkit/processes.js';
import { ACCESS_RULES, ARTIFACT_ROUTE, PUBLIC_ROUTES, STREAM_ROUTES, type AccessRule } from '../../src/server/api/access-rules.js';

interface Answer {
  status: number;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
}

const RANK = { viewer: 0, operator: 1, admin: 2 } as const;
/** On the fixtures' deployments and configs: no answer may show them. */
const SECRET_VALUE = 'secret-value-7d1e-never-shown';
const SECRET_FILE = 'secret-file-4b2a-never-shown';

describe('access control: roles scoped by selector on every route', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';
  let sha256 = '';
  const ids = { staging: '', prod: '' };
  const jobs = { staging: '', prod: '' };
  const tokens: Record<string, string> = {};
  let noTokenRequests = 0;

  /** One request; `from` picks the loopback source address (no-token requests spread over several, so their 401s stay under the failed-auth penalty). */
  function call(method: string, path: string, opts: { token?: string; body?: unknown; from?: string; stream?: boolean } = {}): Promise<Answer> {
    const url = new URL(fleet.url + path);
    const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    return new Promise((resolve, reject) => {
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method,
          localAddress: opts.from ?? '127.0.0.1',
          headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}) },
          timeout: 60_000,
        },
        (res) => {
          const status = res.statusCode ?? 0;
          // A stream that was let in: its status is the answer (the events are other tests' business).
          if (opts.stream && status === 200) {
            res.destroy();
            resolve({ status, body: {} });
            return;
          }
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            let body: Answer['body'] = {};
            try {
              body = text ? (JSON.parse(text) as Answer['body']) : {};
            } catch {
              body = { raw: text };
            }
            resolve({ status, body });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  const admin = (method: string, path: string, body?: unknown) => call(method, path, { token: fleet.adminToken, body });

  async function mustOk(method: string, path: string, body?: unknown): Promise<Answer> {
    const res = await admin(method, path, body);
    assert.ok(res.status >= 200 && res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
    return res;
  }

  async function userWithToken(name: string, roles: { role: string; selector: string }[]): Promise<string> {
    await mustOk('POST', '/api/v1/users', { name, roles });
    return (await mustOk('POST', `/api/v1/users/${name}/tokens`, { name: 'test' })).body.token as string;
  }

  /** The staging objects exist as the scoped operator's inside requests expect (they may have deleted or stopped them). */
  async function ensureFixtures(): Promise<void> {
    for (const [name, env] of [['stg', 'staging'], ['prd', 'prod']] as const) {
      await mustOk('POST', '/api/v1/deployments', { name, package: 'app', version: '1.0.0', selector: `env=${env}`, secretValues: { password: SECRET_VALUE } });
      await mustOk('PUT', `/api/v1/configs/${name}-cfg`, {
        selector: `env=${env}`,
        files: { 'app.yaml': { contentType: 'text/yaml', body: `env: ${env}\n` }, 'db.key': { contentType: 'text/plain', body: SECRET_FILE, secret: true } },
      });
    }
  }

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-access-'));
    const staging = await fleet.startAgent({ name: 'staging-1', labels: { env: 'staging', role: 'app' } });
    const prod = await fleet.startAgent({ name: 'prod-1', labels: { env: 'prod', role: 'app' } });
    ids.staging = (await fleet.awaitAgent(staging, (a) => a.status === 'online')).id;
    ids.prod = (await fleet.awaitAgent(prod, (a) => a.status === 'online')).id;
    const dir = join(work, 'app');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: app\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
    const out = join(work, 'app.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
    sha256 = ((await mustOk('GET', '/api/v1/packages?name=app')).body.packages as { sha256: string }[])[0]!.sha256;
    await ensureFixtures();
    for (const env of ['staging', 'prod'] as const) {
      jobs[env] = ((await mustOk('POST', '/api/v1/jobs', { selector: `env=${env}`, command: ['true'] })).body as { id: string }).id;
    }
    tokens.viewer = await userWithToken('vera', [{ role: 'viewer', selector: '' }]);
    tokens.operator = await userWithToken('otto', [{ role: 'operator', selector: '' }]);
    tokens.admin = await userWithToken('ada', [{ role: 'admin', selector: '' }]);
    tokens.scoped = await userWithToken('sam', [{ role: 'operator', selector: 'env=staging' }]);
  });

  after(async () => {
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  type Place = 'harmless' | 'inside' | 'outside';

  /** A concrete request for a route: harmless (objects that do not exist, so nothing real changes), or staging/prod objects. */
  function concrete(key: string, place: Place): { method: string; path: string; body?: unknown } {
    const [method, template] = key.split(' ') as [string, string];
    const env = place === 'outside' ? 'prod' : 'staging';
    const short = place === 'outside' ? 'prd' : 'stg';
    const fill = (param: string): string => {
      if (template.startsWith('/api/v1/agents/')) return param === 'service' ? 'app' : place === 'harmless' ? 'no-such-agent' : ids[env];
      if (template.startsWith('/api/v1/deployments/')) return place === 'harmless' ? 'no-such-deployment' : short;
      if (template.startsWith('/api/v1/configs/')) return place === 'harmless' ? 'no-such-config' : `${short}-cfg`;
      if (template.startsWith('/api/v1/rollouts/')) return place === 'harmless' ? 'no-such-deployment' : short;
      if (template.startsWith('/api/v1/jobs/')) return place === 'harmless' ? randomUUID() : jobs[env];
      if (template.startsWith('/api/v1/artifacts/')) return sha256;
      if (template.startsWith('/api/v1/users/')) return param === 'id' ? 'no-such-token' : 'no-such-user';
      if (template.startsWith('/api/v1/enrollment-tokens/')) return 'no-such-token';
      if (template.startsWith('/api/v1/whoami/tokens/')) return 'no-such-token';
      throw new Error(`no fixture for {${param}} in ${key}: add one to concrete()`);
    };
    const path = template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, p: string) => encodeURIComponent(fill(p)));
    const selector = place === 'harmless' ? 'env=nowhere' : `env=${env}`;
    const bodies: Record<string, unknown> = {
      'POST /api/v1/deployments': { name: place === 'harmless' ? 'harmless' : short, package: 'app', version: '1.0.0', selector },
      'PUT /api/v1/configs/{name}': { selector: place === 'outside' ? 'env=staging' : selector, files: {} },
      'PATCH /api/v1/agents/{id}': { labels: { team: 'a' } },
      'POST /api/v1/jobs': { selector, command: ['true'] },
      'POST /api/v1/agents/rotate-credentials': { selector },
      'POST /api/v1/users': { name: `u-${randomUUID().slice(0, 8)}`, roles: [] },
      'PATCH /api/v1/users/{name}': { disabled: false },
      'POST /api/v1/users/{name}/tokens': { name: 'x' },
      'POST /api/v1/whoami/tokens': { name: 'x', expiresIn: '1h' },
      'POST /api/v1/enrollment-tokens': { name: 'x' },
    };
    return { method, path, body: bodies[key] };
  }

  /** What ACCESS_RULES says a principal gets: true = let in. */
  function expected(rule: AccessRule, who: 'viewer' | 'operator' | 'admin' | 'scoped', place: Place): boolean {
    if (rule.role === 'authenticated') return true;
    if (who !== 'scoped') return RANK[who] >= RANK[rule.role];
    if (RANK.operator < RANK[rule.role] || rule.target === 'fleet') return false;
    if (rule.target === 'anywhere' || rule.target.startsWith('list-')) return true;
    return place === 'inside';
  }

  it('answers every route × role as ACCESS_RULES says, and every route has a rule', async () => {
    const doc = (await call('GET', '/api/v1/openapi.json')).body as unknown as { paths: Record<string, Record<string, unknown>> };
    const routes = Object.entries(doc.paths).flatMap(([p, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`));
    const documented = new Set(routes);
    const all = [...routes.filter((r) => !PUBLIC_ROUTES.has(r)), ...STREAM_ROUTES, ARTIFACT_ROUTE];
    const missing = all.filter((r) => !ACCESS_RULES[r]);
    assert.deepEqual(missing, [], 'routes without an access rule (deny by default refuses them to everyone): add them to src/server/api/access-rules.ts');
    // No stale rules either: each names a route that exists.
    const stale = Object.keys(ACCESS_RULES).filter((k) => !documented.has(k) && !STREAM_ROUTES.includes(k) && k !== ARTIFACT_ROUTE);
    assert.deepEqual(stale, [], 'rules for routes that do not exist');

    const wrong: string[] = [];
    for (const [index, key] of all.entries()) {
      const rule = ACCESS_RULES[key]!;
      const stream = STREAM_ROUTES.includes(key) || key === ARTIFACT_ROUTE;
      const harmless = concrete(key, 'harmless');
      const from = `127.0.0.${2 + Math.floor(noTokenRequests++ / 10)}`;
      const anonymous = await call(harmless.method, harmless.path, { body: harmless.body, from, stream });
      if (anonymous.status !== 401) wrong.push(`${key} without a token: ${anonymous.status}, want 401`);
      const cases: ['viewer' | 'operator' | 'admin' | 'scoped', Place][] = [['viewer', 'harmless'], ['operator', 'harmless'], ['admin', 'harmless'], ['scoped', 'inside'], ['scoped', 'outside']];
      for (const [who, place] of cases) {
        if (place === 'inside') await ensureFixtures();
        const req = concrete(key, place);
        // The matrix sends five requests a route, faster than one address may sustain (REST_REQUESTS_PER_ADDRESS):
        // 50 routes an address keeps each under its burst, and 127.0.0.1 full for the tests after this one.
        const res = await call(req.method, req.path, { token: tokens[who], body: req.body, stream, from: `127.0.1.${2 + Math.floor(index / 50)}` });
        const allowed = res.status !== 401 && res.status !== 403;
        // Secrets are write-only: no answer to anyone carries one (viewers above all).
        const text = JSON.stringify(res.body);
        if (text.includes(SECRET_VALUE) || text.includes(SECRET_FILE)) wrong.push(`${key} as ${who}: the answer shows a secret`);
        const want = expected(rule, who, place);
        if (allowed !== want) wrong.push(`${key} as ${who}${who === 'scoped' ? ` (${place})` : ''}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}; want ${want ? 'let in' : '403'}`);
        if (!allowed && res.status === 403) {
          assert.equal(res.body.error?.code, 'FORBIDDEN', `${key} as ${who}`);
          if (!want && RANK[who === 'scoped' ? 'operator' : who] < RANK[rule.role as 'viewer']) {
            assert.match(res.body.error!.message, new RegExp(`needs role ${rule.role}`), `${key} as ${who} names the role needed`);
          }
        }
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('refuses an operator every admin route, naming the role needed and the one held', async () => {
    const res = await call('POST', '/api/v1/jobs', { token: tokens.operator, body: { selector: '', command: ['id'] } });
    assert.equal(res.status, 403);
    assert.equal(res.body.error?.message, 'POST /api/v1/jobs needs role admin; user otto has operator');
    assert.equal((await call('POST', '/api/v1/users', { token: tokens.operator, body: { name: 'mallory', roles: [{ role: 'admin', selector: '' }] } })).status, 403);
    assert.equal((await admin('GET', '/api/v1/users/mallory')).status, 404, 'no user was made');
    assert.equal((await call('POST', '/api/v1/enrollment-tokens', { token: tokens.operator, body: { name: 'sneaky' } })).status, 403);
    assert.equal((await call('DELETE', `/api/v1/agents/${ids.staging}`, { token: tokens.operator })).status, 403);
    assert.equal(((await admin('GET', `/api/v1/agents/${ids.staging}`)).body as { status: string }).status, 'online');
  });

  it('refuses a staging operator a deployment whose selector reaches prod, naming the agent outside, and changes nothing', async () => {
    const before = (await mustOk('GET', '/api/v1/deployments')).body;
    const res = await call('POST', '/api/v1/deployments', { token: tokens.scoped, body: { name: 'sneaky', package: 'app', version: '1.0.0', selector: 'role=app' } });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.match(res.body.error!.message, /reaches agents outside your scope \(operator on env=staging\): prod-1/);
    assert.doesNotMatch(res.body.error!.message, /staging-1/);
    // Replacing the prod deployment by name with a staging selector would pull it off prod: refused too.
    const steal = await call('POST', '/api/v1/deployments', { token: tokens.scoped, body: { name: 'prd', package: 'app', version: '1.0.0', selector: 'env=staging' } });
    assert.equal(steal.status, 403);
    assert.match(steal.body.error!.message, /existing deployment prd/);
    // A selector matching no agent outside today, but not provably inside, is refused saying so.
    const vague = await call('POST', '/api/v1/deployments', { token: tokens.scoped, body: { name: 'vague', package: 'app', version: '1.0.0', selector: 'role=nothing' } });
    assert.equal(vague.status, 403);
    assert.match(vague.body.error!.message, /does not restrict itself to your scope.*add env=staging/);
    assert.deepEqual((await mustOk('GET', '/api/v1/deployments')).body, before, 'the store is unchanged');
    assert.equal((await admin('GET', '/api/v1/deployments/sneaky')).status, 404);
    // Inside the scope it works.
    const ok = await call('POST', '/api/v1/deployments', { token: tokens.scoped, body: { name: 'stg-web', package: 'app', version: '1.0.0', selector: 'env=staging,role=app' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const rollouts = (await mustOk('GET', '/api/v1/rollouts?deployment=stg-web')).body.rollouts as { createdBy: string }[];
    assert.equal(rollouts[0]?.createdBy, 'sam', 'the rollout names the user from the token');
    await mustOk('DELETE', '/api/v1/deployments/stg-web');
  });

  it('shows a scoped reader only what its scope covers', async () => {
    const agents = (await call('GET', '/api/v1/agents', { token: tokens.scoped })).body.agents as { id: string }[];
    assert.deepEqual(agents.map((a) => a.id), [ids.staging]);
    const deployments = (await call('GET', '/api/v1/deployments', { token: tokens.scoped })).body.deployments as { name: string }[];
    assert.ok(deployments.some((d) => d.name === 'stg') && !deployments.some((d) => d.name === 'prd'), JSON.stringify(deployments));
    const configs = (await call('GET', '/api/v1/configs', { token: tokens.scoped })).body.configs as { name: string }[];
    assert.deepEqual(configs.map((x) => x.name).filter((n) => n.endsWith('-cfg')), ['stg-cfg']);
    const events = (await call('GET', '/api/v1/events?limit=1000', { token: tokens.scoped })).body.events as { agentId: string | null }[];
    assert.ok(events.length > 0 && events.every((e) => e.agentId === null || e.agentId === ids.staging));
    assert.equal((await call('GET', `/api/v1/agents/${ids.prod}`, { token: tokens.scoped })).status, 403);
  });

  it("cuts a scoped reader's agent pages, their total and the facet counts to its scope", async () => {
    const page = await call('GET', '/api/v1/agents?limit=1&sort=name', { token: tokens.scoped });
    assert.equal(page.status, 200);
    assert.deepEqual((page.body.agents as { id: string }[]).map((a) => a.id), [ids.staging]);
    assert.equal(page.body.total, 1, 'the total counts only agents in scope');
    assert.equal(page.body.nextCursor, null, 'no further page of agents outside the scope');
    const searched = await call('GET', '/api/v1/agents?limit=10&q=prod-1', { token: tokens.scoped });
    assert.deepEqual([searched.body.agents, searched.body.total], [[], 0], 'a search does not reach outside the scope');
    const facets = await call('GET', '/api/v1/agents/facets', { token: tokens.scoped });
    assert.equal(facets.status, 200, JSON.stringify(facets.body));
    assert.equal(facets.body.total, 1);
    assert.deepEqual((facets.body.labels as Record<string, unknown>).env, { staging: 1 });
    // The whole fleet, for one who may see it.
    assert.equal((await call('GET', '/api/v1/agents?limit=1', { token: tokens.viewer })).body.total, 2);
    assert.equal((await call('GET', '/api/v1/agents/facets', { token: tokens.viewer })).body.total, 2);
  });

  it('refuses a viewer every write, and changes nothing', async () => {
    const res = await call('PUT', '/api/v1/configs/stg-cfg', { token: tokens.viewer, body: { selector: 'env=staging', files: {} } });
    assert.equal(res.status, 403);
    assert.equal(res.body.error?.message, 'PUT /api/v1/configs/{name} needs role operator; user vera has viewer');
    const stored = (await mustOk('GET', '/api/v1/configs/stg-cfg')).body as { files: Record<string, unknown> };
    assert.deepEqual(Object.keys(stored.files).sort(), ['app.yaml', 'db.key']);
    assert.equal((await call('POST', '/api/v1/deployments/stg/stop', { token: tokens.viewer })).status, 403);
    assert.equal(((await mustOk('GET', '/api/v1/deployments/stg')).body as { desiredState: string }).desiredState, 'running');
  });

  it('refuses a scoped operator relabelling an agent into or out of its scope', async () => {
    // Out: the staging agent relabelled env=prod (the operator would lose it, and prod would gain it).
    const out = await call('PATCH', `/api/v1/agents/${ids.staging}`, { token: tokens.scoped, body: { labels: { env: 'prod' } } });
    assert.equal(out.status, 403, JSON.stringify(out.body));
    assert.match(out.body.error!.message, /label env decides your scope/);
    const removed = await call('PATCH', `/api/v1/agents/${ids.staging}`, { token: tokens.scoped, body: { labels: { env: null } } });
    assert.equal(removed.status, 403);
    // In: the prod agent relabelled env=staging (it would pull a prod host into staging).
    const into = await call('PATCH', `/api/v1/agents/${ids.prod}`, { token: tokens.scoped, body: { labels: { env: 'staging' } } });
    assert.equal(into.status, 403);
    assert.match(into.body.error!.message, /outside your scope/);
    const labels = async (id: string) => ((await mustOk('GET', `/api/v1/agents/${id}`)).body as { labels: Record<string, string> }).labels;
    assert.equal((await labels(ids.staging)).env, 'staging');
    assert.equal((await labels(ids.prod)).env, 'prod');
    // Labels the scope does not look at are the operator's to set.
    assert.equal((await call('PATCH', `/api/v1/agents/${ids.staging}`, { token: tokens.scoped, body: { labels: { team: 'blue' } } })).status, 200);
    assert.equal((await labels(ids.staging)).team, 'blue');
  });

  it("refuses a revoked token, an expired token and a disabled user's token, saying why", async () => {
    const secret = await userWithToken('rita', [{ role: 'viewer', selector: '' }]);
    assert.equal((await call('GET', '/api/v1/whoami', { token: secret })).status, 200);
    const [listed] = (await mustOk('GET', '/api/v1/users/rita/tokens')).body.tokens as { id: string }[];
    await mustOk('DELETE', `/api/v1/users/rita/tokens/${listed!.id}`);
    const revoked = await call('GET', '/api/v1/agents', { token: secret });
    assert.equal(revoked.status, 401);
    assert.match(revoked.body.error!.message, /API token "test" \(corral_user_.{4}…\) was revoked at/);

    const short = (await mustOk('POST', '/api/v1/users/rita/tokens', { name: 'short', expiresIn: '2s' })).body.token as string;
    const expired = await eventually(
      async () => {
        const res = await call('GET', '/api/v1/agents', { token: short });
        return res.status === 401 ? res : undefined;
      },
      { timeoutMs: 30_000, what: 'the 2s token expires' },
    );
    assert.match(expired.body.error!.message, /API token "short" .* expired at/);

    const fresh = (await mustOk('POST', '/api/v1/users/rita/tokens', { name: 'fresh' })).body.token as string;
    await mustOk('PATCH', '/api/v1/users/rita', { disabled: true });
    const disabled = await call('GET', '/api/v1/agents', { token: fresh });
    assert.equal(disabled.status, 401);
    assert.match(disabled.body.error!.message, /user rita is disabled/);
    await mustOk('PATCH', '/api/v1/users/rita', { disabled: false });
    assert.equal((await call('GET', '/api/v1/agents', { token: fresh })).status, 200);
    await mustOk('DELETE', '/api/v1/users/rita');
    assert.equal((await call('GET', '/api/v1/agents', { token: fresh })).status, 401, "a deleted user's tokens are revoked");
  });

  it('keeps an admin: no disabling yourself, no demoting or deleting the last admin', async () => {
    const self = await call('PATCH', '/api/v1/users/ada', { token: tokens.admin, body: { disabled: true } });
    assert.equal(self.status, 409);
    assert.equal(self.body.error?.code, 'SELF');
    assert.equal((await admin('DELETE', '/api/v1/users/admin')).body.error?.code, 'SELF');
    assert.equal((await call('DELETE', '/api/v1/users/admin', { token: tokens.admin })).body.error?.code, 'BUILTIN_USER');
    // ada demotes the built-in admin; then nobody may demote ada, the last admin left.
    await call('PATCH', '/api/v1/users/admin', { token: tokens.admin, body: { roles: [{ role: 'viewer', selector: '' }] } });
    const last = await call('PATCH', '/api/v1/users/ada', { token: tokens.admin, body: { roles: [{ role: 'operator', selector: '' }] } });
    assert.equal(last.status, 409);
    assert.equal(last.body.error?.code, 'LAST_ADMIN');
    await call('PATCH', '/api/v1/users/admin', { token: tokens.admin, body: { roles: [{ role: 'admin', selector: '' }] } });
    assert.equal((await admin('GET', '/api/v1/users')).status, 200);
  });

  it('creates a user and a token with the CLI; corral login then acts as that user', async () => {
    const created = await fleet.cli('user', 'create', 'alice', '--role', 'operator:env=staging', '--role', 'viewer');
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /created user alice \(operator on env=staging, viewer\)/);
    const minted = await fleet.cli('user', 'token', 'create', 'alice', '--name', 'laptop', '--expires', '30d', '-o', 'json');
    assert.equal(minted.code, 0, minted.stderr);
    const secret = (JSON.parse(minted.stdout) as { token: string }).token;
    assert.match(secret, /^corral_user_/);
    const xdg = join(work, 'alice-xdg');
    const env = { CORRAL_SERVER: undefined, CORRAL_TOKEN: undefined, XDG_CONFIG_HOME: xdg };
    const login = await runCorral(['login', '--server', fleet.url, '--token', secret], env);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /as alice \(operator on env=staging, viewer\)/);
    const who = await runCorral(['whoami'], env);
    assert.equal(who.stdout.trim(), 'alice (operator on env=staging, viewer)');
    const refused = await runCorral(['user', 'list'], env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /needs role admin; user alice has operator on env=staging, viewer/);
    const listed = await fleet.cli('user', 'list');
    assert.match(listed.stdout, /alice\s+operator on env=staging, viewer\s+enabled/);
    const tokensOut = await fleet.cli('user', 'token', 'list', 'alice', '-o', 'json');
    const [laptop] = (JSON.parse(tokensOut.stdout) as { tokens: { id: string }[] }).tokens;
    assert.equal((await fleet.cli('user', 'token', 'revoke', 'alice', laptop!.id)).code, 0);
    assert.equal((await runCorral(['whoami'], env)).code, 4, 'a revoked token: exit 4 (authentication)');
    assert.equal((await fleet.cli('user', 'disable', 'alice')).code, 0);
    assert.equal((await fleet.cli('user', 'delete', 'alice')).code, 0);
  });
});
