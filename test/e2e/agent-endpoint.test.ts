/**
 * Where agents are told to connect after enrolling, against real processes:
 * the server never offers its bind address and offers an endpoint only from
 * --public-url, in the scheme of the agent's transport; the agent never
 * moves from wss:// to plain text or to another origin, whatever a server
 * (or whoever holds its key) offers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import {
  AgentCapabilities,
  ConnectionSettingsStatuses,
  ServerToAgentSchema,
  create,
  decodeAgentToServer,
  decodeWsFrame,
  encodeServerToAgent,
  encodeWsFrame,
  type AgentToServer,
} from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { TestCa } from '../../src/testkit/test-ca.js';
import { TlsProxy } from '../../src/testkit/tls-proxy.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

const ENROLLING = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings);

function bearerOf(headers: { key: string; value: string }[] | undefined): string | undefined {
  return headers?.find((h) => h.key.toLowerCase() === 'authorization')?.value;
}

/** Enrolls a bare client over both transports and returns what each was offered. */
async function offeredEndpoints(fleet: Fleet): Promise<{ ws: string; http: string; wsAuth?: string; httpAuth?: string }> {
  const client = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
  client.send({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: ENROLLING });
  const wsReply = await client.next(1);
  client.close();
  const http = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: ENROLLING }));
  assert.equal(http.status, 200, http.text);
  const ws = wsReply?.connectionSettings?.opamp;
  const hp = http.reply?.connectionSettings?.opamp;
  assert.ok(ws && hp, 'both enrolling clients are offered connection settings');
  return { ws: ws.destinationEndpoint, http: hp.destinationEndpoint, wsAuth: bearerOf(ws.headers?.headers), httpAuth: bearerOf(hp.headers?.headers) };
}

describe('offered OpAMP endpoints', { concurrency: false }, () => {
  it('never offers the bind address: listening on 0.0.0.0 without --public-url, agents get their credential alone', async () => {
    const fleet = await Fleet.start({ extraServerArgs: ['--listen', '0.0.0.0:0'] });
    try {
      assert.match(fleet.url, /^http:\/\/0\.0\.0\.0:\d+$/);
      const offered = await offeredEndpoints(fleet);
      assert.equal(offered.ws, '');
      assert.equal(offered.http, '');
      assert.match(offered.wsAuth ?? '', /^Bearer corral_agent_/);
      assert.match(offered.httpAuth ?? '', /^Bearer corral_agent_/);
    } finally {
      await fleet.close();
    }
  });

  it('offers --public-url in the scheme of the transport: wss:// to WebSocket agents, https:// to HTTP agents', async () => {
    const fleet = await Fleet.start({ extraServerArgs: ['--public-url', 'https://corral.example:8443/'] });
    try {
      const offered = await offeredEndpoints(fleet);
      assert.equal(offered.ws, 'wss://corral.example:8443/v1/opamp');
      assert.equal(offered.http, 'https://corral.example:8443/v1/opamp');
    } finally {
      await fleet.close();
    }
  });
});

describe('agent endpoint policy over TLS', { concurrency: false }, () => {
  let dir: string;
  let ca: TestCa;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-endpoint-'));
    ca = await TestCa.create(dir);
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('keeps an agent that dialled wss:// through a TLS proxy on wss:// after it enrolls', async () => {
    const fleet = await Fleet.start();
    const cert = await ca.issue('proxy');
    const backend = new URL(fleet.url);
    const proxy = await TlsProxy.start(cert, { host: backend.hostname, port: Number(backend.port) });
    try {
      const agent = await fleet.startAgent({ server: proxy.url, extraArgs: ['--ca-file', ca.caFile] });
      // Online from its first message (on the enrollment token); the credential is stored when the reply arrives.
      await fleet.awaitAgent(agent, (a) => a.status === 'online');
      const credential = await eventually(
        async () => (JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string | null }).credential ?? undefined,
        { what: 'the agent storing its credential' },
      );
      assert.match(credential, /^corral_agent_/);
      // Enrolled, then reconnected with its credential: both through the proxy, never to the server's plain port.
      await eventually(() => proxy.connections >= 2, { what: 'the reconnect through the proxy' });
      const connectedTo = () => [...agent.process.stderr.matchAll(/"url":"([^"]+)","msg":"connected"/g)].map((m) => m[1]);
      const urls = await eventually(() => (connectedTo().length >= 2 ? connectedTo() : undefined), { what: `two connections in the agent's log\n${agent.process.stderr.slice(-2000)}` });
      assert.deepEqual([...new Set(urls)], [`wss://127.0.0.1:${proxy.port}/v1/opamp`]);
      // The planned reconnect after enrolling is routine: info, not a warning.
      assert.match(agent.process.stderr, /"level":30,[^\n]*"msg":"closed to reconnect with new connection settings"/);
      assert.doesNotMatch(agent.process.stderr, /"level":40,[^\n]*"msg":"disconnected"/);
    } finally {
      await proxy.close();
      await fleet.close();
    }
  });

  it('refuses a server that offers a move from wss:// to plain ws://, keeps its URL and reports FAILED', async () => {
    // A hostile (or compromised) OpAMP server over real TLS, and a plain listener it tries to move the agent to.
    const cert = await ca.issue('hostile');
    const plain: NetServer = createNetServer((s) => {
      plainConnections++;
      s.destroy();
    });
    let plainConnections = 0;
    await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
    const plainPort = (plain.address() as AddressInfo).port;
    const https: HttpsServer = createHttpsServer({ cert: cert.certPem, key: cert.keyPem });
    const wss = new WebSocketServer({ server: https });
    const received: { connection: number; msg: AgentToServer }[] = [];
    let connections = 0;
    wss.on('connection', (ws) => {
      const connection = ++connections;
      ws.on('message', (data: Buffer) => {
        const msg = decodeAgentToServer(decodeWsFrame(new Uint8Array(data)));
        received.push({ connection, msg });
        const reply = create(ServerToAgentSchema, { instanceUid: msg.instanceUid });
        if (connection === 1 && received.filter((r) => r.connection === 1).length === 1) {
          reply.connectionSettings = create(ServerToAgentSchema, {
            connectionSettings: {
              hash: new Uint8Array([1, 2, 3]),
              opamp: { destinationEndpoint: `ws://127.0.0.1:${plainPort}/v1/opamp`, headers: { headers: [{ key: 'Authorization', value: 'Bearer corral_agent_hostile' }] } },
            },
          }).connectionSettings;
        }
        ws.send(encodeWsFrame(encodeServerToAgent(reply)));
      });
    });
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    const port = (https.address() as AddressInfo).port;
    const fleet = await Fleet.start();
    try {
      const agent = await fleet.startAgent({ server: `https://127.0.0.1:${port}`, extraArgs: ['--ca-file', ca.caFile] });
      const report = await eventually(() => received.find((r) => r.connection >= 2 && r.msg.connectionSettingsStatus), {
        timeoutMs: 20_000,
        what: `a ConnectionSettingsStatus on the agent's next wss connection\n${agent.process.stderr.slice(-1500)}`,
      });
      assert.equal(report.msg.connectionSettingsStatus!.status, ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED);
      assert.deepEqual([...report.msg.connectionSettingsStatus!.lastConnectionSettingsHash], [1, 2, 3]);
      assert.match(report.msg.connectionSettingsStatus!.errorMessage, /would move the agent from wss:\/\/ to plain-text ws:\/\//);
      assert.equal(plainConnections, 0);
      await eventually(() => /"msg":"refused the OpAMP endpoint the server offered"/.test(agent.process.stderr), { what: 'the refusal in the agent log' });
    } finally {
      await fleet.close();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => https.close(() => resolve()));
      await new Promise<void>((resolve) => plain.close(() => resolve()));
    }
  });
});
