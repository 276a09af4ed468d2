/**
 * OpAMP sessions against a real server process, with the bare OpAMP client
 * as a third-party agent: what the agent reports decides whether it is
 * offered its config again, on both transports. An agent that restarts with
 * the same instance uid (sequence_num back to 0, no remote config) gets its
 * config again; an agent that reports a config other than the one it should
 * run is offered the right one again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentCapabilities, RemoteConfigStatuses, recordToKeyValues, uuidBytesToString, type ServerToAgent } from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp, type AgentToServerInit } from '../../src/testkit/opamp-client.js';

const CAPS =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig);

function description(instance: string) {
  return {
    identifyingAttributes: recordToKeyValues({ 'service.name': 'otelcol-contrib', 'service.instance.id': instance }),
    nonIdentifyingAttributes: recordToKeyValues({ 'host.name': instance }),
  };
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? new Uint8Array()).toString('hex');
const UNSET = { lastRemoteConfigHash: new Uint8Array(), status: RemoteConfigStatuses.RemoteConfigStatuses_UNSET };

describe('OpAMP sessions: re-offers follow what the agent reports', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start();
  });
  after(async () => fleet?.close());

  /** A config only the agent described as `instance` matches; returns its hash. */
  async function configFor(instance: string, body: string): Promise<string> {
    const put = await fleet.api<{ hash: string }>('PUT', `/api/v1/configs/${instance}`, {
      selector: `service.instance.id=${instance}`,
      files: { 'collector.yaml': { contentType: 'application/yaml', body } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    return put.body.hash;
  }

  async function http(msg: AgentToServerInit): Promise<ServerToAgent> {
    const res = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ capabilities: CAPS, ...msg }));
    assert.equal(res.status, 200, res.text);
    return res.reply!;
  }

  async function awaitApplied(id: string, hash: string): Promise<void> {
    await eventually(
      async () => {
        const res = await fleet.api<{ config: { status: string; reportedHash: string | null } }>('GET', `/api/v1/agents/${id}`);
        return res.body.config.status === 'APPLIED' && res.body.config.reportedHash === hash;
      },
      { what: `agent ${id} APPLIED ${hash} in the API` },
    );
  }

  it('over HTTP: an agent restarting with the same uid (sequence 0, config UNSET) is offered its config again', async () => {
    const uid = newInstanceUid();
    const hash = await configFor('http-restart', 'receivers: {otlp: {}}\n');
    const first = await http({ instanceUid: uid, sequenceNum: 0n, agentDescription: description('http-restart'), remoteConfigStatus: UNSET });
    assert.equal(hex(first.remoteConfig?.configHash), hash, 'the first full report is offered the config');
    await http({ instanceUid: uid, sequenceNum: 1n, remoteConfigStatus: { lastRemoteConfigHash: first.remoteConfig!.configHash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED } });
    const heartbeat = await http({ instanceUid: uid, sequenceNum: 2n });
    assert.equal(heartbeat.remoteConfig, undefined, 'an agent that applied its config is not offered it again');
    await awaitApplied(uuidBytesToString(uid), hash);

    // The process restarts: same uid, sequence back to 0, nothing applied, a fresh description.
    const restarted = await http({ instanceUid: uid, sequenceNum: 0n, agentDescription: description('http-restart'), remoteConfigStatus: UNSET });
    assert.equal(hex(restarted.remoteConfig?.configHash), hash, 'the restarted agent is offered its config again');
    // It keeps polling without having applied it yet (no status report): no repeat in the same session.
    const polling = await http({ instanceUid: uid, sequenceNum: 1n });
    assert.equal(polling.remoteConfig, undefined);

    // Restarting again, this time without any remote_config_status at all: it has none, so it is offered the config.
    const bare = await http({ instanceUid: uid, sequenceNum: 0n, agentDescription: description('http-restart') });
    assert.equal(hex(bare.remoteConfig?.configHash), hash, 'a restart that reports no config is offered it');
  });

  it('over HTTP: an agent that reports a config other than the one offered is offered the right one again', async () => {
    const uid = newInstanceUid();
    const hash = await configFor('http-drift', 'exporters: {debug: {}}\n');
    const first = await http({ instanceUid: uid, sequenceNum: 0n, agentDescription: description('http-drift'), remoteConfigStatus: UNSET });
    assert.equal(hex(first.remoteConfig?.configHash), hash);
    // The agent did not take the offer (say the reply was lost): it still reports an older config as applied.
    const stale = await http({
      instanceUid: uid,
      sequenceNum: 1n,
      remoteConfigStatus: { lastRemoteConfigHash: Buffer.from('aa'.repeat(32), 'hex'), status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED },
    });
    assert.equal(hex(stale.remoteConfig?.configHash), hash, 'a report that differs from what it should run gets the offer again');
    const applying = await http({ instanceUid: uid, sequenceNum: 2n, remoteConfigStatus: { lastRemoteConfigHash: Buffer.from(hash, 'hex'), status: RemoteConfigStatuses.RemoteConfigStatuses_APPLYING } });
    assert.equal(applying.remoteConfig, undefined, 'no offer while it applies the right one');
  });

  it('over HTTP: a sequence gap asks for full state and offers again what the agent may have missed', async () => {
    const uid = newInstanceUid();
    const hash = await configFor('http-gap', 'processors: {batch: {}}\n');
    const first = await http({ instanceUid: uid, sequenceNum: 0n, agentDescription: description('http-gap'), remoteConfigStatus: UNSET });
    assert.equal(hex(first.remoteConfig?.configHash), hash);
    const gap = await http({ instanceUid: uid, sequenceNum: 7n });
    assert.notEqual(gap.flags & 1n, 0n, 'ReportFullState after a gap');
    assert.equal(hex(gap.remoteConfig?.configHash), hash, 'the agent may have missed our replies in the gap: offered again');
  });

  it('over WebSocket: an agent reconnecting after a restart (sequence 0, no config reported) is offered its config again', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    const hash = await configFor('ws-restart', 'extensions: {health_check: {}}\n');
    const a = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    a.send({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: description('ws-restart'), remoteConfigStatus: UNSET });
    const offer = (await a.next(1))!;
    assert.equal(hex(offer.remoteConfig?.configHash), hash);
    a.send({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, remoteConfigStatus: { lastRemoteConfigHash: offer.remoteConfig!.configHash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED } });
    assert.equal((await a.next(2))!.remoteConfig, undefined);
    await awaitApplied(id, hash);
    a.close();
    await a.closed();

    // Restarted, its config lost: sequence 0 and a description, no remote_config_status.
    const b = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    b.send({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: description('ws-restart') });
    const again = (await b.next(1))!;
    assert.equal(hex(again.remoteConfig?.configHash), hash, 'the restarted agent is offered its config again');
    b.close();
  });
});
