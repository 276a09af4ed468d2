/**
 * Credential rotation over OpAMP connection settings, against real server
 * processes: `corral agent rotate-credentials` rotates 100 connected agents
 * (a few real agent processes and the agent's own OpAMP client in process)
 * spread over two replicas on PostgreSQL, and loses none; an agent whose new
 * credential is refused goes back to the old one and reports it; the old
 * credential works for the grace window only.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { Fleet, TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';
import { InProcessAgent } from '../../src/testkit/in-process-agent.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

interface IdentityFile {
  credential: string | null;
  pendingCredential?: string | null;
}

const readIdentity = async (dir: string) => JSON.parse(await readFile(join(dir, 'identity.json'), 'utf8')) as IdentityFile;

/** Resolves with the HTTP status the upgrade got: 101 when it opened. */
async function upgradeStatus(url: string, credential: string): Promise<number> {
  try {
    const c = await WsOpampClient.connect(url, credential);
    c.close();
    return 101;
  } catch (e) {
    return (e as { status?: number }).status ?? 0;
  }
}

describe('credential rotation', { concurrency: false }, () => {
  let fleet: Fleet;
  let schema: TestSchema | null = null;
  let skipped = '';
  let work: string;
  let replicaUrl = '';
  const real: TestAgent[] = [];
  const inProcess: InProcessAgent[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-rotation-'));
    const pg = await postgresForTest();
    if ('skip' in pg) {
      skipped = pg.skip;
      return;
    }
    schema = pg.schema;
    fleet = await Fleet.start({ database: schema.url, heartbeatSeconds: 2, offlineAfterMissed: 5 });
    replicaUrl = (await fleet.startReplica('replica-2')).url;
  });

  after(async () => {
    await Promise.all(inProcess.map((a) => a.stop()));
    await fleet?.close();
    await schema?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('rotates 100 connected agents on two replicas and loses none', async (t) => {
    if (skipped) return t.skip(skipped);
    for (let i = 0; i < 3; i++) real.push(await fleet.startAgent({ name: `real-${i}`, server: i === 0 ? fleet.url : replicaUrl }));
    for (let i = 0; i < 97; i++) {
      const dir = join(work, `sim-${i}`);
      await mkdir(dir, { recursive: true });
      inProcess.push(new InProcessAgent(`sim-${i}`, dir, { server: i % 2 === 0 ? fleet.url : replicaUrl, token: fleet.enrollmentToken }));
    }
    const enrolled = async () => {
      const agents = await fleet.listAgents();
      return agents.length === 100 && agents.every((a) => a.status === 'online') ? agents : undefined;
    };
    await eventually(enrolled, { timeoutMs: 60_000, what: '100 agents enrolled and online' });
    await eventually(async () => (await Promise.all(real.map((a) => readIdentity(a.dataDir)))).every((i) => i.credential), { what: 'real agents hold credentials' });
    await eventually(() => inProcess.every((a) => a.identity.credential !== null), { what: 'in-process agents hold credentials' });
    const before = new Map<string, string>();
    for (const a of real) before.set(await a.instanceUid(), (await readIdentity(a.dataDir)).credential!);
    for (const a of inProcess) before.set(a.instanceUid, a.identity.credential!);

    const res = await fleet.cli('agent', 'rotate-credentials', '-s', '', '-o', 'json');
    assert.equal(res.code, 0, res.stderr);
    assert.equal((JSON.parse(res.stdout) as { agents: unknown[] }).agents.length, 100);

    const now = async () => {
      const m = new Map<string, IdentityFile>();
      for (const a of real) m.set(await a.instanceUid(), await readIdentity(a.dataDir));
      for (const a of inProcess) m.set(a.instanceUid, a.identity);
      return m;
    };
    const rotated = await eventually(
      async () => {
        const m = await now();
        return [...m].every(([id, i]) => i.credential && i.credential !== before.get(id) && !i.pendingCredential) ? m : undefined;
      },
      { timeoutMs: 60_000, what: 'every agent holding a new credential' },
    );
    // None lost: all 100 online on their new credential, which works, while the old one is refused once confirmed.
    await eventually(enrolled, { timeoutMs: 30_000, what: '100 agents online after the rotation' });
    const url = fleet.url;
    for (const [id, identity] of rotated) {
      await eventually(async () => (await upgradeStatus(url, before.get(id)!)) === 401, { what: `the old credential of ${id} refused` });
      assert.equal(await upgradeStatus(replicaUrl, identity.credential!), 101);
    }
    const eventsOf = async (type: string) => (await fleet.api<{ events: { agentId: string }[] }>('GET', `/api/v1/events?type=${type}&limit=1000`)).body.events;
    await eventually(async () => new Set((await eventsOf('agent.credential_rotated')).map((e) => e.agentId)).size === 100, { what: '100 agent.credential_rotated events' });
    assert.deepEqual(await eventsOf('agent.connection_settings_failed'), []);
  });

  it('keeps the old credential for the grace window only, for an agent that ignores the offer', async (t) => {
    if (skipped) return t.skip(skipped);
    const grace = await Fleet.start({ extraServerArgs: ['--credential-grace', '15'] });
    try {
      const uid = newInstanceUid();
      const caps = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings);
      const enroll = await WsOpampClient.connect(grace.url, grace.enrollmentToken);
      enroll.send({ instanceUid: uid, sequenceNum: 0n, capabilities: caps });
      const old = (await enroll.next(1))!.connectionSettings!.opamp!.headers!.headers[0]!.value.replace(/^Bearer /, '');
      enroll.close();
      const agent = await WsOpampClient.connect(grace.url, old);
      agent.send({ instanceUid: uid, sequenceNum: 0n, capabilities: caps });
      await agent.next(1);
      assert.equal((await grace.cli('agent', 'rotate-credentials', '-s', '')).code, 0);
      const offer = await eventually(() => agent.replies.find((r) => r.connectionSettings?.opamp), { what: 'the pushed offer' });
      const fresh = offer.connectionSettings!.opamp!.headers!.headers[0]!.value.replace(/^Bearer /, '');
      assert.notEqual(fresh, old);
      // Both work while the agent has not used the new one; after the grace window, only the new one.
      assert.equal(await upgradeStatus(grace.url, old), 101);
      assert.equal(await upgradeStatus(grace.url, fresh), 101);
      await eventually(async () => (await upgradeStatus(grace.url, old)) === 401, { timeoutMs: 40_000, what: 'the old credential refused after the grace window' });
      assert.equal(await upgradeStatus(grace.url, fresh), 101);
      agent.close();
    } finally {
      await grace.close();
    }
  });

  it('rotates a plain-HTTP OpAMP agent in its next reply, and drops the old credential once the new one is used', async () => {
    const fleet2 = await Fleet.start();
    try {
      const uid = newInstanceUid();
      const caps = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings);
      const post = (token: string, seq: bigint) => postOpamp(fleet2.url, token, encodeForHttp({ instanceUid: uid, sequenceNum: seq, capabilities: caps }));
      const credentialIn = (r: Awaited<ReturnType<typeof post>>) => r.reply?.connectionSettings?.opamp?.headers?.headers[0]?.value.replace(/^Bearer /, '');
      const old = credentialIn(await post(fleet2.enrollmentToken, 0n))!;
      assert.equal((await post(old, 1n)).status, 200);
      assert.equal((await fleet2.cli('agent', 'rotate-credentials', '-s', '')).code, 0);
      const offered = await post(old, 2n);
      const fresh = credentialIn(offered);
      assert.ok(fresh && fresh !== old, 'the next reply offers a new credential');
      assert.equal(offered.reply!.connectionSettings!.opamp!.destinationEndpoint, '');
      const used = await post(fresh, 3n);
      assert.equal(used.status, 200);
      assert.equal(used.reply?.connectionSettings, undefined, 'no second offer once the new one is used');
      assert.equal((await post(old, 4n)).status, 401);
    } finally {
      await fleet2.close();
    }
  });

  it('goes back to the old credential when the server refuses the new one, and reports FAILED', async () => {
    // A server that offers a credential it then refuses (a broken or hostile rotation), and a real agent process.
    const received: { auth: string; msg: AgentToServer }[] = [];
    const http: Server = createServer();
    const wss = new WebSocketServer({ noServer: true });
    http.on('upgrade', (req, socket, head) => {
      const auth = req.headers.authorization ?? '';
      if (auth !== 'Bearer corral_agent_old') {
        socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('message', (data: Buffer) => {
          const msg = decodeAgentToServer(decodeWsFrame(new Uint8Array(data)));
          received.push({ auth, msg });
          const reply = create(ServerToAgentSchema, { instanceUid: msg.instanceUid });
          if (received.length === 1) {
            reply.connectionSettings = create(ServerToAgentSchema, {
              connectionSettings: { hash: new Uint8Array([9, 9]), opamp: { headers: { headers: [{ key: 'Authorization', value: 'Bearer corral_agent_refused' }] } } },
            }).connectionSettings;
          }
          ws.send(encodeWsFrame(encodeServerToAgent(reply)));
        });
      });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const dir = join(work, 'revert');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'identity.json'), JSON.stringify({ version: 1, instanceUid: '0190f3a2-7c41-7d2e-9a55-82c407ff8cb7', credential: 'corral_agent_old' }), { mode: 0o600 });
    const agent = new TestAgent('revert', dir, ['agent', '--server', `http://127.0.0.1:${(http.address() as AddressInfo).port}`, '--data-dir', dir, '--name', 'revert']);
    try {
      const report = await eventually(() => received.find((r) => r.msg.connectionSettingsStatus), { timeoutMs: 20_000, what: `a ConnectionSettingsStatus\n${agent.process.stderr.slice(-1500)}` });
      assert.equal(report.auth, 'Bearer corral_agent_old');
      assert.equal(report.msg.connectionSettingsStatus!.status, ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED);
      assert.deepEqual([...report.msg.connectionSettingsStatus!.lastConnectionSettingsHash], [9, 9]);
      assert.match(report.msg.connectionSettingsStatus!.errorMessage, /new credential not kept: the server refused it \(HTTP 401\); using the previous one/);
      const identity = await readIdentity(dir);
      assert.equal(identity.credential, 'corral_agent_old');
      assert.equal(identity.pendingCredential, undefined);
    } finally {
      await agent.process.stop();
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });
});
