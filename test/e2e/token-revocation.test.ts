/**
 * Revoking an enrollment token ends every live session that holds nothing
 * but that token, on every server replica sharing the PostgreSQL store:
 * WebSocket connections are closed within seconds and HTTP polls get 401.
 * Agents that enrolled with it and use their own credential stay. Revoked
 * agents can then be deleted (`corral agent delete`); other agents cannot.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentCapabilities, recordToKeyValues, uuidBytesToString } from '../../src/protocol/index.js';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

async function credentialOf(agent: TestAgent): Promise<string> {
  return eventually(
    async () => (JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string | null }).credential ?? undefined,
    { what: `${agent.name} credential` },
  );
}

const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig);
const description = (name: string) => ({
  identifyingAttributes: recordToKeyValues({ 'service.name': 'otelcol-contrib', 'service.instance.id': name }),
  nonIdentifyingAttributes: recordToKeyValues({ 'host.name': name }),
});

describe('enrollment token revocation and agent deletion (two replicas on PostgreSQL)', { concurrency: false }, () => {
  let fleet: Fleet;
  let schema: TestSchema | null = null;
  let skipped = '';
  let replicaUrl = '';

  before(async () => {
    const pg = await postgresForTest();
    if ('skip' in pg) {
      skipped = pg.skip;
      return;
    }
    schema = pg.schema;
    fleet = await Fleet.start({ database: schema.url });
    replicaUrl = (await fleet.startReplica('replica-2')).url;
  });
  after(async () => {
    await fleet?.close();
    await schema?.drop();
  });

  it('closes WebSocket sessions and refuses HTTP polls that use a revoked token, on both replicas; credentialed agents stay', async (t) => {
    if (skipped) return t.skip(skipped);
    const created = await fleet.api<{ id: string; token: string }>('POST', '/api/v1/enrollment-tokens', { name: 'rack-7' });
    assert.equal(created.status, 201);
    const token = created.body.token;

    const enrolled = await fleet.startAgent({ name: 'enrolled-7', token, server: replicaUrl });
    await credentialOf(enrolled);
    const { id: enrolledId } = await fleet.awaitAgent(enrolled, (a) => a.status === 'online');

    const sockets: WsOpampClient[] = [];
    for (const [i, url] of [fleet.url, replicaUrl].entries()) {
      const ws = await WsOpampClient.connect(url, token);
      ws.send({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: CAPS, agentDescription: description(`token-only-${i}`) });
      assert.ok(await ws.next(1), 'session established');
      sockets.push(ws);
    }
    const pollUid = newInstanceUid();
    const poll = (seq: bigint) => postOpamp(replicaUrl, token, encodeForHttp({ instanceUid: pollUid, sequenceNum: seq, capabilities: CAPS, agentDescription: description('poller') }));
    assert.equal((await poll(0n)).status, 200);

    const revoked = await fleet.cli('token', 'revoke', created.body.id);
    assert.equal(revoked.code, 0, revoked.stderr);

    for (const ws of sockets) assert.equal(await ws.closed(10_000), 4003, `closed: ${ws.closeReason}`);
    assert.match(sockets[1]!.closeReason, /enrollment token revoked/);
    const refused = await poll(1n);
    assert.equal(refused.status, 401);
    // The agent that enrolled with the token runs on its own credential: it connects again after a restart.
    const onlineEvents = async () => (await fleet.api<{ events: unknown[] }>('GET', `/api/v1/events?agent=${enrolledId}&type=agent.online&limit=1000`)).body.events.length;
    const before = await onlineEvents();
    await enrolled.restart();
    await eventually(async () => (await onlineEvents()) > before, { what: 'the enrolled agent back online on its credential' });
    await fleet.awaitAgent(enrolled, (a) => a.status === 'online');
    assert.ok((await fleet.listAgents()).some((a) => a.id === uuidBytesToString(pollUid)));
  });

  it('deletes a revoked agent with its events; refuses to delete one that is not revoked', async (t) => {
    if (skipped) return t.skip(skipped);
    const agent = await fleet.startAgent({ name: 'doomed' });
    const { id } = await fleet.awaitAgent(agent, (a) => a.status === 'online');

    const early = await fleet.cli('agent', 'delete', id);
    assert.equal(early.code, 1);
    assert.match(early.stderr, /doomed.*is online; only a revoked agent can be deleted: revoke it first \(corral revoke/);
    assert.equal((await fleet.api('GET', `/api/v1/agents/${id}`)).status, 200, 'still there');

    assert.equal((await fleet.cli('revoke', id)).code, 0);
    await fleet.awaitAgent(agent, (a) => a.status === 'revoked');
    const deleted = await fleet.cli('agent', 'delete', id.slice(-12));
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`deleted doomed \\(${id}\\)`));

    const gone = await fleet.api<{ error: { code: string } }>('GET', `/api/v1/agents/${id}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'AGENT_NOT_FOUND');
    await eventually(async () => (await fleet.api<{ events: unknown[] }>('GET', `/api/v1/events?agent=${id}`)).body.events.length === 0, { what: 'no events of the deleted agent' });
    const audit = await fleet.api<{ events: { type: string; data: { agentId?: string } }[] }>('GET', '/api/v1/events?type=agent.deleted');
    assert.ok(audit.body.events.some((e) => e.data.agentId === id), 'the deletion itself is recorded');
    const again = await fleet.cli('agent', 'delete', id);
    assert.equal(again.code, 1);
  });
});
