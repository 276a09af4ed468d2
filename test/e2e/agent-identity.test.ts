/**
 * Identity takeover, performed against a real server and a real agent: a
 * client that holds only the enrollment token and presents an enrolled
 * agent's instance uid (it is in the agent's start-up log) gets no
 * credential, no config and no session for that identity — the server
 * answers with a new instance uid (OpAMP's duplicate-uid handling) — and
 * the real agent keeps working on its own credential.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentCapabilities, recordToKeyValues, uuidBytesToString, uuidStringToBytes, type ServerToAgent } from '../../src/protocol/index.js';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, postOpamp } from '../../src/testkit/opamp-client.js';

const ATTACKER_CAPS =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsPackages);

async function credentialOf(agent: TestAgent): Promise<string> {
  return eventually(
    async () => (JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string | null }).credential ?? undefined,
    { what: `${agent.name} credential` },
  );
}

/** What the real agent says about itself, copied by the attacker. */
function impersonation(uid: string) {
  return {
    identifyingAttributes: recordToKeyValues({ 'service.name': 'io.corral.agent', 'service.instance.id': uid }),
    nonIdentifyingAttributes: recordToKeyValues({ 'corral.agent.name': 'victim', 'os.type': 'linux', 'corral.label.env': 'prod' }),
  };
}

function assertRefusedIdentity(reply: ServerToAgent, uid: Uint8Array, transport: string): void {
  assert.equal(reply.connectionSettings, undefined, `${transport}: no credential for the enrolled agent's uid`);
  assert.equal(reply.remoteConfig, undefined, `${transport}: no config for the enrolled agent's identity`);
  assert.equal(reply.packagesAvailable, undefined, `${transport}: no packages for the enrolled agent's identity`);
  const assigned = reply.agentIdentification?.newInstanceUid;
  assert.equal(assigned?.length, 16, `${transport}: a new instance uid is assigned`);
  assert.notEqual(uuidBytesToString(assigned!), uuidBytesToString(uid));
}

describe('agent identity: the enrollment token cannot claim an enrolled agent', { concurrency: false }, () => {
  let fleet: Fleet;
  let victim: TestAgent;
  let uid = '';
  let credential = '';

  before(async () => {
    fleet = await Fleet.start();
    victim = await fleet.startAgent({ name: 'victim', labels: { env: 'prod' } });
    credential = await credentialOf(victim);
    uid = await victim.instanceUid();
    await fleet.awaitAgent(victim, (a) => a.status === 'online');
    const put = await fleet.api('PUT', '/api/v1/configs/prod-secrets', { selector: 'env=prod', files: { 'secret.txt': { contentType: 'text/plain', body: 'prod only\n' } } });
    assert.equal(put.status, 200);
    await fleet.awaitAgent(victim, (a) => a.config.status === 'APPLIED');
  });
  after(async () => fleet?.close());

  it('over WebSocket and HTTP: no credential, no config, a new uid; the real agent keeps its connection, credential and exec jobs', async () => {
    const bytes = uuidStringToBytes(uid);
    const ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    ws.send({ instanceUid: bytes, sequenceNum: 0n, capabilities: ATTACKER_CAPS, agentDescription: impersonation(uid) });
    assertRefusedIdentity((await ws.next(1))!, bytes, 'WebSocket');
    ws.send({ instanceUid: bytes, sequenceNum: 1n, capabilities: ATTACKER_CAPS });
    assertRefusedIdentity((await ws.next(2))!, bytes, 'WebSocket, again');

    const http = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: bytes, sequenceNum: 0n, capabilities: ATTACKER_CAPS, agentDescription: impersonation(uid) }));
    assert.equal(http.status, 200, http.text);
    assertRefusedIdentity(http.reply!, bytes, 'HTTP');

    // The real agent was neither replaced nor re-enrolled. Events are written in batches: wait for the
    // real enrollment's event, then check after the exec job (later batches have landed by then).
    const enrolledEvents = async () =>
      (await fleet.api<{ events: { type: string }[] }>('GET', `/api/v1/events?agent=${uid}&limit=1000`)).body.events.filter((e) => e.type === 'agent.enrolled').length;
    await eventually(async () => (await enrolledEvents()) >= 1, { what: 'the real agent\'s enrollment event' });
    const agent = await fleet.awaitAgent(victim, (a) => a.status === 'online');
    assert.equal(agent.name, 'victim');

    // Exec jobs go to the real agent, not to the attacker's connection (which stays open and idle).
    const job = await fleet.cli('exec', '-s', 'env=prod', '--', 'sh', '-c', 'echo "from $(basename "$PWD")"');
    assert.equal(job.code, 0, job.stderr);
    assert.match(job.stdout, /^victim \| from victim$/m);
    assert.equal(ws.replies.filter((r) => r.customMessage).length, 0, 'the attacker got no exec request');
    ws.close();

    // Its credential still works: restarted, it reconnects with it (no re-enrollment) and gets config changes.
    const onlineEvents = async () => (await fleet.api<{ events: unknown[] }>('GET', `/api/v1/events?agent=${uid}&type=agent.online&limit=1000`)).body.events.length;
    const before = await onlineEvents();
    await victim.restart();
    await eventually(async () => (await onlineEvents()) > before, { what: 'the real agent back online on its credential' });
    assert.equal(await credentialOf(victim), credential, 'the real agent kept its credential');
    const put = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/prod-secrets', { selector: 'env=prod', files: { 'secret.txt': { contentType: 'text/plain', body: 'prod only, v2\n' } } });
    await fleet.awaitAgent(victim, (a) => a.config.status === 'APPLIED' && a.config.reportedHash === put.body.hash);
    assert.equal(await enrolledEvents(), 1, 'enrolled once, by the real agent');
  });

  it('a client taking the assigned uid enrolls as a new agent of its own, next to the real one', async () => {
    const bytes = uuidStringToBytes(uid);
    const first = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: bytes, sequenceNum: 0n, capabilities: ATTACKER_CAPS }));
    const assigned = first.reply!.agentIdentification!.newInstanceUid;
    const second = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: assigned, sequenceNum: 1n, capabilities: ATTACKER_CAPS, agentDescription: impersonation(uuidBytesToString(assigned)) }));
    assert.equal(second.status, 200);
    assert.ok(second.reply!.connectionSettings, 'a fresh identity enrolls as usual');
    assert.equal(second.reply!.agentIdentification, undefined);
    const agents = await fleet.listAgents();
    assert.ok(agents.some((a) => a.id === uuidBytesToString(assigned)));
    assert.equal(agents.find((a) => a.id === uid)?.status, 'online', 'the real agent is untouched');
  });
});
