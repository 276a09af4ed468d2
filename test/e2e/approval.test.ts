/**
 * Approval mode (`corral server --require-approval`, like Salt's key
 * acceptance), against a real server and real agents: a new agent waits as
 * pending — no credential, no config, no packages, no exec — until an
 * operator approves it; a rejected one is revoked and refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentCapabilities, recordToKeyValues } from '../../src/protocol/index.js';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

const CAPS =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsPackages);

describe('approval mode', { concurrency: false }, () => {
  let fleet: Fleet;
  let waiting: TestAgent;
  let configHash = '';

  before(async () => {
    fleet = await Fleet.start({ extraServerArgs: ['--require-approval'] });
    const put = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/app', {
      selector: 'env=prod',
      files: { 'app.conf': { contentType: 'text/plain', body: 'secret=1\n' } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    configHash = put.body.hash;
    // Pending agents are not offered the server's heartbeat interval (it travels with the credential): give them the test's.
    waiting = await fleet.startAgent({ name: 'waiting-1', labels: { env: 'prod' }, extraArgs: ['--heartbeat', '0.5'] });
  });
  after(async () => fleet?.close());

  const credentialOf = async (a: TestAgent) => (JSON.parse(await readFile(join(a.dataDir, 'identity.json'), 'utf8')) as { credential: string | null }).credential;

  it('holds a new agent as pending: no credential, config, exec or custom requests', async () => {
    const seen = await fleet.awaitAgent(waiting, (x) => x.status === 'online' && x.approval === 'pending');
    assert.deepEqual(seen.labels, { env: 'prod' }, 'its token-bound labels are known, waiting to count');
    // It keeps talking (heartbeats) on its enrollment token; a few rounds later it still has nothing.
    const events = async () => (await fleet.api<{ events: { type: string }[] }>('GET', `/api/v1/events?agent=${seen.id}`)).body.events.map((e) => e.type);
    await eventually(async () => (await fleet.listAgents()).find((a) => a.id === seen.id && Date.parse(a.lastSeenAt) > Date.parse(seen.lastSeenAt)), { what: 'a later heartbeat' });
    assert.equal(await credentialOf(waiting), null, 'no credential while pending');
    assert.equal(existsSync(join(waiting.dataDir, 'config', 'app.conf')), false, 'no config while pending');
    assert.equal((await events()).includes('agent.enrolled'), false);

    const table = await fleet.cli('agents');
    assert.match(table.stdout, /waiting-1 .*pending approval/);
    const exec = await fleet.cli('exec', '-s', 'env=prod', '--', 'true');
    assert.notEqual(exec.code, 0, 'no agent to run on');
    assert.match(exec.stderr, /no online agent matches 'env=prod'/);
    const services = await fleet.api<{ error: { message: string } }>('GET', `/api/v1/agents/${seen.id}/services`);
    assert.equal(services.status, 409);
    assert.match(services.body.error.message, /waiting for approval/);

    // A bare client on the same kind of token gets nothing beyond the wait either.
    const uid = newInstanceUid();
    const reply = await postOpamp(
      fleet.url,
      fleet.enrollmentToken,
      encodeForHttp({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: { identifyingAttributes: recordToKeyValues({ 'service.name': 'io.corral.agent' }), nonIdentifyingAttributes: [] } }),
    );
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.reply?.connectionSettings, undefined);
    assert.equal(reply.reply?.remoteConfig, undefined);
    assert.equal(reply.reply?.packagesAvailable, undefined);
  });

  it('lets an approved agent in: credential, then config', async () => {
    const id = await waiting.instanceUid();
    const approved = await fleet.cli('agent', 'approve', id.slice(-12));
    assert.equal(approved.code, 0, approved.stderr);
    assert.match(approved.stdout, /approved waiting-1/);
    await fleet.awaitAgent(waiting, (x) => x.approval === 'approved' && x.config.status === 'APPLIED' && x.config.reportedHash === configHash);
    assert.match((await credentialOf(waiting)) ?? '', /^corral_agent_/);
    assert.equal(await readFile(join(waiting.dataDir, 'config', 'app.conf'), 'utf8'), 'secret=1\n');
    const exec = await fleet.cli('exec', '-s', 'env=prod', '--', 'true');
    assert.equal(exec.code, 0, exec.stderr);
  });

  it('rejects a pending agent: revoked and refused; approving or rejecting the wrong agent says why', async () => {
    const intruder = await fleet.startAgent({ name: 'intruder-1', extraArgs: ['--heartbeat', '0.5'] });
    const seen = await fleet.awaitAgent(intruder, (x) => x.approval === 'pending');
    const rejected = await fleet.cli('agent', 'reject', seen.id);
    assert.equal(rejected.code, 0, rejected.stderr);
    await fleet.awaitAgent(intruder, (x) => x.status === 'revoked');
    await eventually(() => /401|revoked|refused/i.test(intruder.process.stderr), { what: 'intruder-1 refused' });
    assert.equal(await credentialOf(intruder), null);

    const again = await fleet.cli('agent', 'approve', seen.id);
    assert.notEqual(again.code, 0);
    assert.match(again.stderr, /revoked/);
    const notPending = await fleet.cli('agent', 'reject', await waiting.instanceUid());
    assert.notEqual(notPending.code, 0);
    assert.match(notPending.stderr, /not waiting for approval/);
  });
});
