import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, type CliIo } from './index.js';
import { Fleet } from '../testkit/fleet.js';
import { OpenApiResponses, type OpenApiDocument } from '../testkit/openapi-responses.js';

interface Recorded {
  method: string;
  url: string;
  authorization: string | undefined;
  body: unknown;
}
type Reply = { status: number; body: unknown };
type Route = (req: Recorded) => Reply;

/** A canned /api/v1: routes by "METHOD /path" (query ignored), recording every request and every canned answer. */
class FakeApi {
  readonly requests: Recorded[] = [];
  /** Every canned answer served (and the request it answered), checked at the end against the real server's OpenAPI document. */
  readonly served: { method: string; url: string; body: unknown; reply: Reply }[] = [];
  routes = new Map<string, Route>();
  private server: Server = createServer((req, res) => void this.handle(req).then((r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body))));
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  on(key: string, reply: Reply | Route): void {
    this.routes.set(key, typeof reply === 'function' ? reply : () => reply);
  }

  private async handle(req: IncomingMessage): Promise<Reply> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const rec: Recorded = { method: req.method ?? '', url: req.url ?? '', authorization: req.headers.authorization, body: text ? JSON.parse(text) : undefined };
    this.requests.push(rec);
    const route = this.routes.get(`${rec.method} ${rec.url.split('?')[0]}`);
    if (!route) return { status: 404, body: { error: { code: 'NOT_FOUND', message: `no route ${rec.method} ${rec.url}` } } };
    const reply = route(rec);
    this.served.push({ method: rec.method, url: rec.url, body: rec.body, reply });
    return reply;
  }
}

const apiError = (status: number, code: string, message: string): Reply => ({ status, body: { error: { code, message } } });

function agent(id: string, name: string) {
  return {
    id,
    name,
    kind: 'corral',
    status: 'online',
    labels: { env: 'prod' },
    operatorLabels: {},
    boundLabels: { env: 'prod' },
    claimedLabels: { rack: 'r4' },
    approval: 'approved',
    enrollmentTokenId: 'tok-1',
    identifyingAttributes: { 'service.instance.id': id },
    nonIdentifyingAttributes: { 'host.name': name },
    os: 'linux',
    arch: 'amd64',
    agentVersion: '0.1.0',
    firstSeenAt: new Date(Date.now() - 60_000).toISOString(),
    lastSeenAt: new Date(Date.now() - 3_000).toISOString(),
    health: { healthy: true, status: 'running', lastError: '' },
    config: { desiredHash: null, reportedHash: null, status: 'NONE', errorMessage: '' },
    agentPackage: null,
  };
}
const detail = (a: ReturnType<typeof agent>) => ({
  ...a,
  capabilities: 0,
  healthTree: { healthy: true, startTimeMs: 0, lastError: '', status: 'running', statusTimeMs: 0, components: { web: { healthy: false, startTimeMs: 0, lastError: 'port closed', status: 'backoff', statusTimeMs: 0, components: {} } } },
  effectiveConfig: { files: { 'logging.json': { contentType: 'application/json', body: '{}' } } },
  packageStatuses: null,
});

// Two agents enrolled in the same second share their UUIDv7 prefix.
const WEB1 = agent('0190f3a2-7c41-7d2e-9a55-82c407ff8cb7', 'web-1');
const WEB2 = agent('0190f3a2-7c41-7f00-8b11-5d6e7f809102', 'web-2');

let api: FakeApi;
let dir: string;
let out: string;
let err: string;
let io: CliIo;

const run = async (...argv: string[]) => runCli(argv, io);
const saveLogin = async (content: object) => {
  await mkdir(io.configDir, { recursive: true });
  await writeFile(join(io.configDir, 'credentials.json'), JSON.stringify(content));
};
const lastRequest = () => api.requests.at(-1)!;

before(async () => {
  api = new FakeApi();
  await api.start();
});
after(() => api.stop());

beforeEach(async () => {
  api.routes.clear();
  api.requests.length = 0;
  api.on('GET /api/v1/agents', { status: 200, body: { agents: [WEB1, WEB2], total: 2, nextCursor: null, warnings: [] } });
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = await mkdtemp(join(tmpdir(), 'corral-cli-'));
  out = '';
  err = '';
  io = {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    env: { CORRAL_SERVER: api.url, CORRAL_TOKEN: 'admin-secret' },
    configDir: join(dir, 'config'),
  };
});
after(() => rm(dir, { recursive: true, force: true }));

describe('API errors become exit codes', () => {
  for (const [status, code] of [
    [400, 'INVALID_ARGUMENT'],
    [404, 'AGENT_NOT_FOUND'],
    [409, 'CONFLICT'],
    [500, 'INTERNAL'],
  ] as const) {
    it(`prints "error: <message> (<code>)" and exits 1 on ${status}`, async () => {
      api.on('DELETE /api/v1/agents/0190f3a2-7c41-7d2e-9a55-82c407ff8cb7', apiError(status, code, 'it went wrong'));
      assert.equal(await run('revoke', WEB1.id), 1);
      assert.equal(err, `error: it went wrong (${code})\n`);
    });
  }

  it('exits 4 on 401 and says how to give a token', async () => {
    api.on('GET /api/v1/agents', apiError(401, 'UNAUTHENTICATED', 'invalid or revoked admin token'));
    assert.equal(await run('agents'), 4);
    assert.match(err, /^error: invalid or revoked admin token: the token was refused; .*CORRAL_TOKEN.*corral login \(UNAUTHENTICATED\)\n$/);
    assert.equal(lastRequest().authorization, 'Bearer admin-secret');
  });

  it('exits 3 when the server is unreachable, naming the URL and CORRAL_SERVER', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((resolve) => closed.close(resolve));
    assert.equal(await run('agents', '--server', url), 3);
    assert.ok(err.includes(url), err);
    assert.match(err, /CORRAL_SERVER/);
  });

  it('exits 1 on a server URL that is not http(s), without a request', async () => {
    assert.equal(await run('agents', '--server', 'ftp://example.com'), 1);
    assert.match(err, /must be an http/);
    assert.equal(api.requests.length, 0);
  });

  it('exits 1 on a usage error from commander', async () => {
    assert.equal(await run('agents', '-o', 'yaml'), 1);
    assert.match(err, /yaml/);
  });

  it('writes errors as JSON on stderr with -o json, API, connection and usage errors alike', async () => {
    api.on('GET /api/v1/rollouts/nope', apiError(404, 'ROLLOUT_NOT_FOUND', 'rollout nope not found'));
    assert.equal(await run('rollout', 'status', 'nope', '-o', 'json'), 1);
    assert.deepEqual(JSON.parse(err), { error: { code: 'ROLLOUT_NOT_FOUND', message: 'rollout nope not found' } });
    assert.equal(out, '');

    err = '';
    assert.equal(await run('agents', '--output=json', '--server', 'http://127.0.0.1:9'), 3);
    assert.equal((JSON.parse(err) as { error: { code: string } }).error.code, 'UNREACHABLE');

    err = '';
    assert.equal(await run('agents', '-o', 'json', '--no-such-flag'), 1);
    assert.deepEqual(JSON.parse(err), { error: { code: 'INVALID_ARGUMENT', message: "unknown option '--no-such-flag'" } });

    err = '';
    assert.equal(await run('rollout', 'status', 'nope'), 1);
    assert.equal(err, 'error: rollout nope not found (ROLLOUT_NOT_FOUND)\n', 'text without -o json');
  });

  it('exits 0 on --help and lists the exit codes', async () => {
    assert.equal(await run('--help'), 0);
    assert.match(out, /Exit codes[\s\S]*3 +server unreachable/);
    assert.match(out, /5 +a followed rollout paused/);
  });
});

describe('agent ids', () => {
  beforeEach(() => {
    for (const a of [WEB1, WEB2]) api.on(`GET /api/v1/agents/${a.id}`, { status: 200, body: detail(a) });
  });

  it('resolves a unique prefix through the agent list', async () => {
    assert.equal(await run('agent', 'show', '0190f3a2-7c41-7d'), 0, err);
    assert.equal(lastRequest().url, `/api/v1/agents/${WEB1.id}`);
    assert.match(out, /name: +web-1/);
    assert.match(out, /^ {4}web: UNHEALTHY backoff \(port closed\)$/m);
    assert.match(out, /logging\.json \(application\/json\)/);
    // Trusted labels, where they came from, and claims, each on its own line.
    assert.match(out, /^labels: +env=prod +\(trusted: what selectors match\)$/m);
    assert.match(out, /^ {2}token: +env=prod +\(enrollment token tok-1\)$/m);
    assert.match(out, /^claimed: +rack=r4 +\(reported by the agent: match with claim\.<key>\)$/m);
  });

  it('resolves the short id the table shows (the end of the id)', async () => {
    assert.equal(await run('agent', 'show', '82c407ff8cb7', '-o', 'json'), 0, err);
    assert.equal((JSON.parse(out) as { id: string }).id, WEB1.id);
  });

  it('refuses an ambiguous prefix, listing the candidates', async () => {
    assert.equal(await run('agent', 'show', '0190f3a2'), 1);
    assert.match(err, /matches 2 agents: .*web-1.*web-2.*\(AMBIGUOUS\)/);
    assert.equal(api.requests.length, 1, 'only the list was fetched');
  });

  it('refuses a prefix nothing matches', async () => {
    assert.equal(await run('agent', 'show', 'abcdef'), 1);
    assert.match(err, /no agent is named "abcdef" or has an id that starts or ends with it.*\(AGENT_NOT_FOUND\)/);
  });

  it('resolves an agent by its name wherever an agent is named', async () => {
    api.on(`GET /api/v1/agents/${WEB2.id}/services`, { status: 200, body: { services: [] } });
    api.on(`PATCH /api/v1/agents/${WEB2.id}`, { status: 200, body: detail(WEB2) });
    api.on(`DELETE /api/v1/agents/${WEB2.id}`, { status: 200, body: detail(WEB2) });
    for (const argv of [['services', 'web-2'], ['agent', 'show', 'web-2'], ['label', 'web-2', 'tier=db'], ['revoke', 'web-2']]) {
      api.requests.length = 0;
      assert.equal(await run(...argv), 0, `${argv.join(' ')}: ${err}`);
      assert.ok(lastRequest().url.startsWith(`/api/v1/agents/${WEB2.id}`), `${argv.join(' ')} asked for ${lastRequest().url}`);
    }
  });

  it('agent delete removes a revoked agent by name, and passes on the refusal for one that is not revoked', async () => {
    api.on(`DELETE /api/v1/agents/${WEB2.id}/records`, { status: 200, body: { id: WEB2.id, name: 'web-2', events: 7 } });
    assert.equal(await run('agent', 'delete', 'web-2'), 0, err);
    assert.equal(lastRequest().method, 'DELETE');
    assert.equal(lastRequest().url, `/api/v1/agents/${WEB2.id}/records`);
    assert.equal(out, `deleted web-2 (${WEB2.id}) and 7 event(s)\n`);
    const message = `agent web-1 (${WEB1.id}) is online; only a revoked agent can be deleted: revoke it first (corral revoke ${WEB1.id})`;
    api.on(`DELETE /api/v1/agents/${WEB1.id}/records`, apiError(409, 'AGENT_NOT_REVOKED', message));
    assert.equal(await run('agent', 'delete', WEB1.id), 1);
    assert.match(err, /is online; only a revoked agent can be deleted: revoke it first \(corral revoke .*\(AGENT_NOT_REVOKED\)/);
  });

  it('refuses a name two agents share, listing them with their ids', async () => {
    api.on('GET /api/v1/agents', { status: 200, body: { agents: [WEB1, { ...WEB2, name: 'web-1' }], total: 2, nextCursor: null, warnings: [] } });
    assert.equal(await run('services', 'web-1'), 1);
    assert.match(err, /"web-1" is the name of 2 agents: 0190f3a2-7c41-7d2e-9a55-82c407ff8cb7 \(web-1\), 0190f3a2-7c41-7f00-8b11-5d6e7f809102 \(web-1\); give the id instead \(AMBIGUOUS\)/);
    assert.equal(api.requests.length, 1, 'only the list was fetched');
  });

  it('uses a full id as is', async () => {
    assert.equal(await run('agent', 'show', WEB2.id), 0, err);
    assert.deepEqual(api.requests.map((r) => r.url), [`/api/v1/agents/${WEB2.id}`]);
  });

  it('lists agents with short ids in the table and full ids in wide, trusted labels apart from claimed ones', async () => {
    assert.equal(await run('agents', '-s', 'env=prod'), 0, err);
    assert.equal(lastRequest().url, '/api/v1/agents?selector=env%3Dprod');
    const [header, row] = out.split('\n');
    assert.match(header!, /^ID +NAME +KIND +STATUS +LABELS +CLAIMED +OS\/ARCH +VERSION +LAST SEEN +HEALTH +CONFIG$/);
    assert.match(row!, /^82c407ff8cb7 +web-1 +corral +online +env=prod +rack=r4 +linux\/amd64 +0\.1\.0 +\d+s ago +healthy +NONE$/);
    out = '';
    assert.equal(await run('agents', '-o', 'wide'), 0, err);
    assert.ok(out.includes(WEB1.id));
  });

  it('prints the raw API JSON with -o json', async () => {
    assert.equal(await run('agents', '-o', 'json'), 0, err);
    assert.deepEqual(JSON.parse(out), { agents: [WEB1, WEB2], total: 2, nextCursor: null, warnings: [] });
  });
});

describe('corral label', () => {
  beforeEach(() => {
    api.on(`PATCH /api/v1/agents/${WEB1.id}`, () => ({ status: 200, body: { ...detail(WEB1), labels: { env: 'prod', canary: 'true' } } }));
  });

  it('sends k=v as a value and k- as null, and prints the resulting labels', async () => {
    assert.equal(await run('label', '82c407ff8cb7', 'canary=true', 'tier-', 'empty='), 0, err);
    assert.deepEqual(lastRequest().body, { labels: { canary: 'true', tier: null, empty: '' } });
    assert.equal(out, `web-1 (${WEB1.id}) labels: env=prod,canary=true\n`);
  });

  for (const bad of ['tier', '=v', 'a b=c', 'k=v=w']) {
    it(`refuses "${bad}" as a usage error before any request`, async () => {
      assert.equal(await run('label', WEB1.id, 'ok=1', bad), 1);
      assert.ok(err.includes(`"${bad}"`), err);
      assert.match(err, /\(INVALID_ARGUMENT\)/);
      assert.equal(api.requests.length, 0);
    });
  }
});

describe('corral config set', () => {
  beforeEach(() => {
    api.on('PUT /api/v1/configs/logging', (req) => ({ status: 200, body: { name: 'logging', selector: 'env=prod', files: {}, hash: 'abcdef0123456789', createdAt: '', updatedAt: '', ...(req.body as object) } }));
  });

  it('builds the body from the files, inferring content types', async () => {
    const files = { 'a.json': '{"a":1}', 'b.yml': 'b: 1\n', 'c.YAML': 'c: 1', 'd.toml': 'd = 1', 'e.conf': 'e', 'f.yaml': 'f: 1', 'g.txt': 'ü' };
    for (const [name, body] of Object.entries(files)) await writeFile(join(dir, name), body);
    const args = ['a.json', 'b.yml', 'c.YAML', 'd.toml', 'e.conf'].flatMap((n) => ['--file', `${n}=${join(dir, n)}`]);
    args.push('--file', `collector=${join(dir, 'f.yaml')}`, '--file', join(dir, 'g.txt'), '--content-type', 'e.conf=application/x-custom');
    assert.equal(await run('config', 'set', 'logging', '-s', 'env=prod', ...args), 0, err);
    assert.equal(lastRequest().method, 'PUT');
    assert.deepEqual(lastRequest().body, {
      selector: 'env=prod',
      files: {
        'a.json': { contentType: 'application/json', body: '{"a":1}' },
        'b.yml': { contentType: 'application/yaml', body: 'b: 1\n' },
        'c.YAML': { contentType: 'application/yaml', body: 'c: 1' },
        'd.toml': { contentType: 'application/toml', body: 'd = 1' },
        'e.conf': { contentType: 'application/x-custom', body: 'e' },
        collector: { contentType: 'application/yaml', body: 'f: 1' },
        'g.txt': { contentType: 'text/plain', body: 'ü' },
      },
    });
    assert.match(out, /config logging set for 'env=prod'/);
  });

  it('names a file it cannot read, without a request', async () => {
    const missing = join(dir, 'missing.json');
    assert.equal(await run('config', 'set', 'logging', '-s', '', '--file', `logging.json=${missing}`), 1);
    assert.ok(err.includes(missing), err);
    assert.match(err, /--file logging\.json/);
    assert.equal(api.requests.length, 0);
  });

  it('refuses a --content-type for a file it was not given', async () => {
    await writeFile(join(dir, 'a.json'), '{}');
    assert.equal(await run('config', 'set', 'logging', '-s', '', '--file', `a.json=${join(dir, 'a.json')}`, '--content-type', 'b.json=text/plain'), 1);
    assert.match(err, /no --file named b\.json/);
  });
});

describe('corral config status --wait', () => {
  const status = (counts: Record<string, number>, agentStatus: string, errorMessage = '') => ({
    status: 200,
    body: { name: 'logging', hash: 'abcdef0123456789', counts, agents: [{ id: WEB1.id, name: 'web-1', agentStatus: 'online', desiredHash: 'abcdef', status: agentStatus, errorMessage }] },
  });

  it('exits 0 when every agent APPLIED, with a table and a summary', async () => {
    api.on('GET /api/v1/configs/logging/status', status({ APPLIED: 1 }, 'APPLIED'));
    assert.equal(await run('config', 'status', 'logging', '--wait'), 0, err);
    assert.match(out, /^AGENT +NAME +AGENT STATUS +CONFIG STATUS +ERROR\n82c407ff8cb7 +web-1 +online +APPLIED\n/);
    assert.match(out, /logging \(hash abcdef012345\): 1 agent: 1 APPLIED\n$/);
  });

  it('exits 1 when an agent FAILED', async () => {
    api.on('GET /api/v1/configs/logging/status', status({ FAILED: 1 }, 'FAILED', 'bad yaml'));
    assert.equal(await run('config', 'status', 'logging', '-w'), 1);
    assert.match(out, /FAILED +bad yaml/);
    assert.match(err, /\(CONFIG_FAILED\)/);
  });

  it('exits 2 when the timeout passes with agents PENDING', async () => {
    api.on('GET /api/v1/configs/logging/status', status({ PENDING: 1 }, 'PENDING'));
    assert.equal(await run('config', 'status', 'logging', '--wait', '--timeout', '0'), 2);
    assert.match(err, /timed out.*\(TIMEOUT\)/);
  });

  it('polls until nothing is pending', async () => {
    let calls = 0;
    api.on('GET /api/v1/configs/logging/status', () => (++calls < 2 ? status({ APPLYING: 1 }, 'APPLYING') : status({ APPLIED: 1 }, 'APPLIED')));
    assert.equal(await run('config', 'status', 'logging', '--wait', '-o', 'json'), 0, err);
    assert.equal(calls, 2);
    assert.equal((JSON.parse(out) as { counts: Record<string, number> }).counts.APPLIED, 1);
  });

  it('exits 0 without --wait whatever the statuses', async () => {
    api.on('GET /api/v1/configs/logging/status', status({ FAILED: 1 }, 'FAILED', 'bad yaml'));
    assert.equal(await run('config', 'status', 'logging'), 0, err);
  });
});

describe('credentials', () => {
  it('login checks the token, saves it with mode 0600, and later commands use it', async () => {
    io.env = {};
    api.on('GET /api/v1/agents', (req) => (req.authorization === 'Bearer good' ? { status: 200, body: { agents: [], total: 0, nextCursor: null, warnings: [] } } : apiError(401, 'UNAUTHENTICATED', 'invalid API token')));
    api.on('GET /api/v1/whoami', (req) =>
      req.authorization === 'Bearer good' ? { status: 200, body: { id: 'u1', name: 'alice', roles: [{ role: 'operator', selector: 'env=staging' }], tokenRoles: null, tokenId: 't1' } } : apiError(401, 'UNAUTHENTICATED', 'invalid API token'),
    );
    assert.equal(await run('login', '--server', `${api.url}/`, '--token', 'bad'), 4);
    assert.match(err, /refused the token/);
    assert.equal(await run('login', '--server', api.url, '--token', 'good'), 0, err);
    assert.match(out, /as alice \(operator on env=staging\)/);
    const file = join(io.configDir, 'credentials.json');
    assert.deepEqual(JSON.parse(await readFile(file, 'utf8')), { version: 1, server: api.url, token: 'good' });
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal(await run('agents'), 0, err);
    assert.equal(lastRequest().authorization, 'Bearer good');
    assert.equal(await run('logout'), 0);
    assert.equal(await run('logout'), 0);
    assert.equal(out.split('\n').at(-2), 'not logged in');
    assert.equal(await run('agents', '--server', api.url), 4, 'no token any more');
    assert.match(err, /no token given/);
  });

  it('never sends the saved token to another server', async () => {
    io.env = {};
    api.on('GET /api/v1/agents', { status: 200, body: { agents: [], total: 0, nextCursor: null, warnings: [] } });
    await saveLogin({ version: 1, server: 'http://elsewhere.example:4320', token: 'secret' });
    assert.equal(await run('agents', '--server', api.url), 0, err);
    assert.equal(lastRequest().authorization, undefined);
  });

  it('prefers CORRAL_TOKEN over the saved login', async () => {
    await saveLogin({ version: 1, server: api.url, token: 'saved' });
    assert.equal(await run('agents'), 0, err);
    assert.equal(lastRequest().authorization, 'Bearer admin-secret');
  });

  it('reports an invalid credentials file by name', async () => {
    io.env = { CORRAL_SERVER: api.url };
    await saveLogin({ version: 7 });
    assert.equal(await run('agents'), 1);
    assert.match(err, /credentials\.json is not a valid credentials file.*corral login/);
  });
});

describe('corral events', () => {
  it('prints the raw API JSON with -o json and resolves --agent prefixes', async () => {
    const events = [{ id: 7, at: '2026-01-01T00:00:00.000Z', type: 'agent.online', agentId: WEB1.id, data: {} }];
    api.on('GET /api/v1/events', { status: 200, body: { events } });
    assert.equal(await run('events', '--agent', '82c407ff8cb7', '--limit', '5', '-o', 'json'), 0, err);
    assert.deepEqual(JSON.parse(out), { events });
    assert.equal(lastRequest().url, `/api/v1/events?limit=5&agent=${WEB1.id}`);
  });

  it('passes a time range, and refuses one it cannot read', async () => {
    api.on('GET /api/v1/events', { status: 200, body: { events: [] } });
    assert.equal(await run('events', '--since', '2026-01-01T00:00:00Z', '--until', '2026-01-02T00:00:00Z'), 0, err);
    assert.equal(lastRequest().url, '/api/v1/events?limit=50&since=2026-01-01T00%3A00%3A00.000Z&until=2026-01-02T00%3A00%3A00.000Z');
    assert.equal(await run('events', '--since', 'yesterday'), 1);
    assert.match(err, /--since must be a duration ago/);
  });

  it('refuses a --limit out of range', async () => {
    assert.equal(await run('events', '--limit', '0'), 1);
    assert.match(err, /--limit must be a whole number from 1 to 1000/);
  });
});

describe('rollout references', () => {
  const summary = (id: string, deployment: string) => ({
    id,
    deployment,
    kind: 'rollout',
    state: 'running',
    reason: '',
    fromRevision: 1,
    toRevision: 2,
    stage: 0,
    createdBy: 'admin',
    createdAt: new Date(0).toISOString(),
    finishedAt: null,
  });
  const A = summary('3f2a9c10-0000-4000-8000-000000000001', 'web');
  const B = summary('3f2b0000-0000-4000-8000-000000000002', 'api');
  const C = summary('cafe0000-0000-4000-8000-000000000003', 'cafe');

  beforeEach(() => {
    api.on('GET /api/v1/rollouts', { status: 200, body: { rollouts: [A, B, C] } });
    for (const r of [A, B, C]) api.on(`POST /api/v1/rollouts/${r.id}/pause`, { status: 200, body: { ...r, state: 'paused' } });
    api.on('POST /api/v1/rollouts/cafe/pause', { status: 200, body: { ...C, state: 'paused' } });
  });

  it('takes a unique prefix of a rollout id', async () => {
    assert.equal(await run('rollout', 'pause', '3f2a'), 0, err);
    assert.equal(lastRequest().url, `/api/v1/rollouts/${A.id}/pause`);
    assert.match(out, /rollout 3f2a9c10-.* of web: paused/);
  });

  it('refuses a prefix two rollouts share, listing them', async () => {
    assert.equal(await run('rollout', 'pause', '3f2'), 1);
    assert.match(err, /"3f2" starts 2 rollout ids: 3f2a9c10-\S+ \(rollout of web, running\), 3f2b0000-\S+ \(rollout of api, running\); give more of the id \(AMBIGUOUS\)/);
  });

  it('takes a deployment name as one, also when it looks like an id prefix', async () => {
    assert.equal(await run('rollout', 'pause', 'cafe'), 0, err);
    assert.equal(lastRequest().url, '/api/v1/rollouts/cafe/pause');
  });
});

describe('corral deployment list and status', () => {
  const d = { name: 'web', package: 'hello', version: '1.0.0', selector: 'env=prod', values: {}, secretValues: {}, desiredState: 'running', revision: 2, stableRevision: 1, policy: {}, createdAt: new Date(0).toISOString(), updatedAt: new Date(0).toISOString() };

  it('lists deployments like corral deployments', async () => {
    api.on('GET /api/v1/deployments', { status: 200, body: { deployments: [d] } });
    assert.equal(await run('deployment', 'list'), 0, err);
    const listed = out;
    assert.match(listed, /^web +hello@1\.0\.0 +r2 \(stable r1\) +env=prod +running/m);
    out = '';
    assert.equal(await run('deployments'), 0, err);
    assert.equal(out, listed);
  });

  it('says so on stderr when the selector matches no agent', async () => {
    api.on('GET /api/v1/deployments/web/status', { status: 200, body: { deployment: { ...d, selector: 'evn=prod' }, rollout: null, agents: [] } });
    assert.equal(await run('deployment', 'status', 'web'), 0, err);
    assert.equal(err, "no Corral agent matches 'evn=prod'; see why with: corral agents -s 'evn=prod'\n");
  });
});

// Last, over everything the tests above served: the canned answers are what the real server sends.
describe("the fake API's answers", () => {
  let fleet: Fleet;
  let doc: OpenApiResponses;
  before(async () => {
    fleet = await Fleet.start();
    doc = new OpenApiResponses((await (await fetch(`${fleet.url}/api/v1/openapi.json`)).json()) as OpenApiDocument);
  });
  after(() => fleet?.close());

  it("fit the response schemas of the server's published OpenAPI document", () => {
    assert.ok(api.served.length > 20, `the tests above served ${api.served.length} canned answers`);
    const seen = new Set<string>();
    const problems: string[] = [];
    for (const { method, url, reply } of api.served) {
      const key = `${method} ${url} ${reply.status} ${JSON.stringify(reply.body)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      problems.push(...doc.problems(method, url, reply.status, reply.body));
    }
    assert.deepEqual([...new Set(problems)], []);
  });

  it("are answers to requests the server's schemas accept", () => {
    const sent = api.served.filter((s) => s.body !== undefined);
    assert.ok(new Set(sent.map((s) => s.method)).size >= 2, `requests with a body: ${sent.map((s) => `${s.method} ${s.url}`).join(', ')}`);
    assert.deepEqual([...new Set(sent.flatMap((s) => doc.requestProblems(s.method, s.url, s.body)))], []);
    assert.match(doc.requestProblems('PATCH', `/api/v1/agents/${WEB1.id}`, { labels: { env: 7 } }).join('\n'), /labels\.env/);
  });

  it('catches an answer the server would not give', () => {
    assert.deepEqual(doc.problems('GET', '/api/v1/agents', 200, { agents: [WEB1], total: 1, nextCursor: null, warnings: [] }), []);
    assert.match(doc.problems('GET', '/api/v1/agents', 200, { agents: [{ ...WEB1, status: 'sleeping' }], total: 1, nextCursor: null, warnings: [] }).join('\n'), /agents\.0\.status/);
    assert.match(doc.problems('GET', '/api/v1/agents', 200, { agents: [{ ...WEB1, nickname: 'x' }], total: 1, nextCursor: null, warnings: [] }).join('\n'), /agents\.0/);
    assert.deepEqual(doc.problems('GET', '/api/v1/agentz', 200, {}), ['the server has no route GET /api/v1/agentz']);
  });
});
