/**
 * The OpAMP endpoint against a real server process: a plain third-party
 * OpAMP agent over HTTP and WebSocket, and every kind of bad input — wrong
 * content type, bad token, malformed protobuf, wrong header byte, oversized
 * messages, random bytes — after which the server is still up and consistent.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { request, type IncomingMessage } from 'node:http';
import {
  AgentCapabilities,
  RemoteConfigStatuses,
  ServerErrorResponseType,
  ServerToAgentFlags,
  encodeWsFrame,
  recordToKeyValues,
  uuidBytesToString,
} from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';
import { fuzzSeed, mulberry32 } from '../../src/testkit/fuzz.js';

const REPORT_FULL_STATE = BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState);
const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) | BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig);

function description(name: string) {
  return {
    identifyingAttributes: recordToKeyValues({ 'service.name': 'otelcol-contrib', 'service.instance.id': name }),
    nonIdentifyingAttributes: recordToKeyValues({ 'host.name': name, 'os.type': 'linux', 'host.arch': 'arm64' }),
  };
}

describe('OpAMP endpoint', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start();
  });
  after(async () => fleet?.close());

  async function assertServerHealthy(): Promise<void> {
    const res = await fetch(`${fleet.url}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(fleet.server.running, true);
  }

  it('manages a plain OpAMP agent over HTTP: full-state request, remote config, APPLIED', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    // A bare heartbeat from an unknown agent: the server asks for full state.
    const first = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, sequenceNum: 5n, capabilities: CAPS }));
    assert.equal(first.status, 200);
    assert.deepEqual(first.reply!.instanceUid, uid);
    assert.ok(first.reply!.capabilities !== 0n, 'first reply carries server capabilities');
    assert.equal(first.reply!.flags & REPORT_FULL_STATE, REPORT_FULL_STATE);

    const put = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/collector', {
      selector: 'service.name=otelcol-contrib,host.arch=arm64',
      files: { 'collector.yaml': { contentType: 'application/yaml', body: 'receivers: {}\n' } },
    });
    assert.equal(put.status, 200);

    const full = await postOpamp(
      fleet.url,
      fleet.enrollmentToken,
      encodeForHttp({ instanceUid: uid, sequenceNum: 6n, capabilities: CAPS, agentDescription: description('col-1') }),
    );
    assert.equal(full.status, 200);
    assert.equal(full.headers.get('content-type'), 'application/x-protobuf');
    const offer = full.reply!.remoteConfig!;
    assert.equal(Buffer.from(offer.configHash).toString('hex'), put.body.hash);
    assert.equal(Buffer.from(offer.config!.configMap['collector.yaml']!.body).toString(), 'receivers: {}\n');

    const applied = await postOpamp(
      fleet.url,
      fleet.enrollmentToken,
      encodeForHttp({
        instanceUid: uid,
        sequenceNum: 7n,
        capabilities: CAPS,
        remoteConfigStatus: { lastRemoteConfigHash: offer.configHash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED },
      }),
    );
    assert.equal(applied.status, 200);
    assert.equal(applied.reply!.remoteConfig, undefined, 'no second offer once applied');
    // Status reports are written in batches within a moment.
    const agent = await eventually(
      async () => {
        const res = await fleet.api<{ kind: string; config: { status: string }; arch: string }>('GET', `/api/v1/agents/${id}`);
        return res.body.config.status === 'APPLIED' ? res : undefined;
      },
      { what: 'config APPLIED in the API' },
    );
    assert.equal(agent.body.kind, 'opamp');
    assert.equal(agent.body.arch, 'arm64');
    assert.equal(agent.body.config.status, 'APPLIED');

    // A gap in sequence numbers: the server asks for full state again.
    const gap = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, sequenceNum: 42n, capabilities: CAPS }));
    assert.equal(gap.reply!.flags & REPORT_FULL_STATE, REPORT_FULL_STATE);

    // Gzip request bodies are accepted.
    const zipped = await postOpamp(
      fleet.url,
      fleet.enrollmentToken,
      gzipSync(encodeForHttp({ instanceUid: uid, sequenceNum: 43n, capabilities: CAPS })),
      { 'content-encoding': 'gzip' },
    );
    assert.equal(zipped.status, 200);
    assert.equal(zipped.reply!.flags & REPORT_FULL_STATE, 0n);

    // AgentDisconnect: offline at once.
    await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, sequenceNum: 44n, capabilities: CAPS, agentDisconnect: {} }));
    const gone = await fleet.api<{ status: string }>('GET', `/api/v1/agents/${id}`);
    assert.equal(gone.body.status, 'offline');
  });

  it('manages a plain OpAMP agent over WebSocket and marks it offline when the socket closes', async () => {
    const uid = newInstanceUid();
    const client = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    client.send({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: description('col-ws') });
    const reply = (await client.next(1))!;
    assert.deepEqual(reply.instanceUid, uid);
    assert.ok(reply.capabilities !== 0n);
    client.send({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS });
    const second = (await client.next(2))!;
    assert.equal(second.capabilities, 0n, 'capabilities only in the first reply');
    const id = uuidBytesToString(uid);
    assert.equal((await fleet.api<{ status: string }>('GET', `/api/v1/agents/${id}`)).body.status, 'online');
    client.close();
    await eventually(async () => (await fleet.api<{ status: string }>('GET', `/api/v1/agents/${id}`)).body.status === 'offline', {
      what: 'offline after close',
    });
  });

  it('answers an instance uid that is not 16 bytes with a BAD_REQUEST error response', async () => {
    const res = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: new Uint8Array(15), capabilities: CAPS }));
    assert.equal(res.status, 200);
    assert.equal(res.reply!.errorResponse!.type, ServerErrorResponseType.ServerErrorResponseType_BadRequest);
    assert.match(res.reply!.errorResponse!.errorMessage, /16 bytes/);
  });

  it('refuses bad tokens with 401 on both transports', async () => {
    const body = encodeForHttp({ instanceUid: newInstanceUid(), capabilities: CAPS });
    assert.equal((await postOpamp(fleet.url, 'corral_enroll_nope', body)).status, 401);
    const noAuth = await fetch(`${fleet.url}/v1/opamp`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
    assert.equal(noAuth.status, 401);
    await assert.rejects(WsOpampClient.connect(fleet.url, 'wrong'), (e: { status?: number }) => e.status === 401);
    // The admin token is not an agent token.
    assert.equal((await postOpamp(fleet.url, fleet.adminToken, body)).status, 401);
  });

  it('rejects wrong content types, malformed protobuf and bad WebSocket frames with clear answers', async () => {
    const json = await fetch(`${fleet.url}/v1/opamp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(json.status, 415);
    assert.match(await json.text(), /application\/x-protobuf/);
    const get = await fetch(`${fleet.url}/v1/opamp`);
    assert.equal(get.status, 426);

    const garbage = await postOpamp(fleet.url, fleet.enrollmentToken, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(garbage.status, 400);
    assert.match(garbage.text, /AgentToServer/);

    const badHeader = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    badHeader.sendRaw(new Uint8Array([0x01, 0x0a, 0x00]));
    assert.equal(await badHeader.closed(), 1002);
    assert.match(badHeader.closeReason, /header/);

    const badProto = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    badProto.sendRaw(encodeWsFrame(new Uint8Array([0x0a, 0xff, 0x01])));
    assert.equal(await badProto.closed(), 1007);

    const text = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    text.ws.send('hello');
    assert.equal(await text.closed(), 1003);
    await assertServerHealthy();
  });

  it('enforces the 64 MiB limit: 413 over HTTP (plain and gzip), close 1009 over WebSocket', async () => {
    const limit = 64 * 1024 * 1024;
    const declared = await postOpamp(fleet.url, fleet.enrollmentToken, new Uint8Array(limit + 1));
    assert.equal(declared.status, 413);
    const bomb = gzipSync(Buffer.alloc(limit + 1024));
    const zipped = await postOpamp(fleet.url, fleet.enrollmentToken, bomb, { 'content-encoding': 'gzip' });
    assert.equal(zipped.status, 413);

    const ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    ws.sendRaw(new Uint8Array(limit + 16));
    assert.equal(await ws.closed(30_000), 1009);
    await assertServerHealthy();
  });

  it('survives random bytes on both transports and stays consistent', async () => {
    const before = (await fleet.listAgents()).length;
    const rounds = 200;
    // Seeded, so a failure can be replayed: CORRAL_FUZZ_SEED=<seed> npm test -- opamp-wire
    const seed = fuzzSeed();
    console.log(`opamp-wire random bytes: seed ${seed} (replay: CORRAL_FUZZ_SEED=${seed})`);
    const random = mulberry32(seed);
    const junkBytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
    for (let i = 0; i < rounds; i++) {
      const junk = junkBytes(1 + Math.floor(random() * 512));
      const res = await postOpamp(fleet.url, fleet.enrollmentToken, junk);
      assert.ok([200, 400].includes(res.status), `HTTP answered ${res.status}`);
    }
    let ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    for (let i = 0; i < rounds; i++) {
      if (ws.closeCode !== null) ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
      const junk = junkBytes(1 + Math.floor(random() * 512));
      // Half the time a valid header byte, so the protobuf decoder gets the junk.
      if (i % 2 === 0) junk[0] = 0;
      ws.sendRaw(junk);
      await Promise.race([ws.next(ws.replies.length + 1, 2000).catch(() => null), ws.closed(2000).catch(() => 0)]);
    }
    ws.close();
    await assertServerHealthy();
    // A real message still works, and every agent the junk may have created has a proper id.
    const uid = newInstanceUid();
    const ok = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, capabilities: CAPS, agentDescription: description('after-fuzz') }));
    assert.equal(ok.status, 200);
    const agents = await fleet.listAgents();
    assert.ok(agents.length >= before + 1);
    for (const a of agents) assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
    for (const direction of ['in', 'out']) {
      for (const transport of ['http', 'ws']) {
        assert.match(metrics, new RegExp(`corral_opamp_messages_total\\{direction="${direction}",transport="${transport}"\\} [1-9]`));
      }
    }
  });
});

describe('REST API input', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start();
  });
  after(async () => fleet?.close());

  it('names what was wrong: bad token, invalid selector, unknown agent, bad body', async () => {
    const noToken = await fleet.api<{ error: { code: string } }>('GET', '/api/v1/agents', undefined, 'bogus');
    assert.equal(noToken.status, 401);
    assert.equal(noToken.body.error.code, 'UNAUTHENTICATED');
    // An enrollment token is not an admin token.
    assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, fleet.enrollmentToken)).status, 401);

    const sel = await fleet.api<{ error: { code: string; message: string } }>('GET', `/api/v1/agents?selector=${encodeURIComponent('role in (web')}`);
    assert.equal(sel.status, 400);
    assert.match(sel.body.error.message, /selector/);

    const unknown = await fleet.api<{ error: { code: string } }>('GET', '/api/v1/agents/0190aaaa-0000-7000-8000-000000000000');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'AGENT_NOT_FOUND');

    const badLabels = await fleet.api<{ error: { code: string; message: string } }>('PATCH', '/api/v1/agents/x', { labels: { 'bad key!': 'v' } });
    assert.equal(badLabels.status, 400);
    assert.match(badLabels.body.error.message, /labels/);

    const extra = await fleet.api<{ error: { message: string } }>('PUT', '/api/v1/configs/c1', { selector: '', files: { 'a.txt': { body: 'x' } }, surprise: 1 });
    assert.equal(extra.status, 400);
    assert.match(extra.body.error.message, /surprise|unrecognized/i);

    const badPath = await fleet.api<{ error: { message: string } }>('PUT', '/api/v1/configs/c1', { selector: '', files: { '../etc/passwd': { body: 'x' } } });
    assert.equal(badPath.status, 400);

    const badSelector = await fleet.api<{ error: { code: string } }>('PUT', '/api/v1/configs/c1', { selector: 'a in', files: { 'a.txt': { body: 'x' } } });
    assert.equal(badSelector.status, 400);

    const raw = await fetch(`${fleet.url}/api/v1/configs/c1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json' },
      body: '{not json',
    });
    assert.equal(raw.status, 400);
    assert.equal(((await raw.json()) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
  });

  it('publishes an OpenAPI document and Prometheus metrics', async () => {
    const doc = (await (await fetch(`${fleet.url}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const p of ['/api/v1/agents', '/api/v1/agents/{id}', '/api/v1/enrollment-tokens', '/api/v1/configs/{name}', '/api/v1/events']) {
      assert.ok(doc.paths[p], `OpenAPI documents ${p}`);
    }
    await fleet.api('GET', '/api/v1/agents');
    const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
    assert.match(metrics, /corral_agents\{status="online"\} \d+/);
    assert.match(metrics, /corral_http_requests_total\{route="GET \/api\/v1\/agents",status="200"\} \d+/);
    assert.match(metrics, /process_resident_memory_bytes \d+/);
    assert.match(metrics, /corral_opamp_connections \d+/);
  });
});

describe('OpAMP overload', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start({ extraServerArgs: ['--max-connections', '2'] });
  });
  after(async () => fleet?.close());

  it('answers 503 with Retry-After when the connection limit is reached, and accepts again when one leaves', async () => {
    const a = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    const b = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    const refused = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = request(`${fleet.url}/v1/opamp`, {
        headers: {
          connection: 'Upgrade',
          upgrade: 'websocket',
          'sec-websocket-version': '13',
          'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
          authorization: `Bearer ${fleet.enrollmentToken}`,
        },
      });
      req.on('response', resolve);
      req.on('upgrade', () => reject(new Error('upgrade accepted over the limit')));
      req.on('error', reject);
      req.end();
    });
    refused.resume();
    assert.equal(refused.statusCode, 503);
    assert.ok(Number(refused.headers['retry-after']) > 0);
    await assert.rejects(WsOpampClient.connect(fleet.url, fleet.enrollmentToken), (e: { status?: number }) => e.status === 503);
    a.close();
    await a.closed();
    const c = await eventually(() => WsOpampClient.connect(fleet.url, fleet.enrollmentToken), { what: 'a free connection slot' });
    c.close();
    b.close();
  });
});
