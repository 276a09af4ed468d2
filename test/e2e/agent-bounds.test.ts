/**
 * What one agent may make the server keep, against a real server process:
 * an oversized description, too many attributes, oversized custom messages,
 * a flood of events and of resource samples. Each attack is refused with an
 * error naming the limit, and nothing oversized is stored.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentCapabilities, SAMPLES_CAPABILITY, SAMPLES_TYPE, encodeJson, recordToKeyValues, uuidBytesToString } from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_ReportsHealth);

function description(name: string, extra: Record<string, string> = {}) {
  return {
    identifyingAttributes: recordToKeyValues({ 'service.name': 'otelcol-contrib', 'service.instance.id': name }),
    nonIdentifyingAttributes: recordToKeyValues({ 'host.name': name, ...extra }),
  };
}

describe('bounds on what agents send', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start();
  });
  after(async () => fleet?.close());

  async function events(agentId: string): Promise<{ type: string; data: Record<string, unknown> }[]> {
    const res = await fleet.api<{ events: { type: string; data: Record<string, unknown> }[] }>('GET', `/api/v1/events?agent=${agentId}&limit=1000`);
    return res.body.events;
  }

  it('refuses a 30 MiB description with an error naming the limit and stores nothing of it', async () => {
    const uid = newInstanceUid();
    const big = 'x'.repeat(30 * 1024 * 1024);
    const res = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: description('huge', { blob: big }) }));
    assert.equal(res.status, 200);
    assert.match(res.reply!.errorResponse?.errorMessage ?? '', /MAX_ATTRIBUTE_VALUE_BYTES/);
    const got = await fleet.api('GET', `/api/v1/agents/${uuidBytesToString(uid)}`);
    assert.equal(got.status, 404, 'the agent was not stored');
    const list = await fetch(`${fleet.url}/api/v1/agents`, { headers: { authorization: `Bearer ${fleet.adminToken}` } });
    assert.ok((await list.text()).length < 1024 * 1024, 'the agent list stays small');
  });

  it('refuses descriptions with too many attributes, or too many bytes in total, or too many labels', async () => {
    const many = Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`k${i}`, 'v']));
    const r1 = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS, agentDescription: description('many', many) }));
    assert.match(r1.reply!.errorResponse?.errorMessage ?? '', /MAX_DESCRIPTION_ATTRIBUTES/);
    const wide = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, 'v'.repeat(4000)]));
    const r2 = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS, agentDescription: description('wide', wide) }));
    assert.match(r2.reply!.errorResponse?.errorMessage ?? '', /MAX_DESCRIPTION_BYTES/);
    const labels = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`corral.label.l${i}`, 'v']));
    const r3 = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS, agentDescription: description('labels', labels) }));
    assert.match(r3.reply!.errorResponse?.errorMessage ?? '', /MAX_AGENT_LABELS/);
    const longLabel = await postOpamp(
      fleet.url,
      fleet.enrollmentToken,
      encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS, agentDescription: description('long-label', { 'corral.label.env': 'p'.repeat(300) }) }),
    );
    assert.match(longLabel.reply!.errorResponse?.errorMessage ?? '', /MAX_LABEL_VALUE_BYTES/);
  });

  it('refuses an oversized custom message and records one event saying why', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    const ok = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: description('custom') }));
    assert.equal(ok.reply!.errorResponse, undefined);
    const res = await postOpamp(
      fleet.url,
      fleet.enrollmentToken,
      encodeForHttp({ instanceUid: uid, sequenceNum: 2n, capabilities: CAPS, customMessage: { capability: 'io.corral.exec/v1', type: 'progress', data: new Uint8Array(3 * 1024 * 1024) } }),
    );
    assert.match(res.reply!.errorResponse?.errorMessage ?? '', /custom_message\.data is 3145728 bytes, over the limit of 2097152 bytes \(MAX_CUSTOM_MESSAGE_BYTES\)/);
    const refused = await eventually(async () => (await events(id)).find((e) => e.type === 'agent.message_refused'), { what: 'agent.message_refused event' });
    assert.equal(refused.data.limit, 'MAX_CUSTOM_MESSAGE_BYTES');
  });

  it('keeps at most 100 events a minute from one agent that floods them, plus one summary', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    const ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    try {
      ws.send({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: description('flapper') });
      await ws.next(1);
      // Every message flips a service between running and exited: one event each, unbounded before.
      const FLOOD = 2000;
      for (let i = 0; i < FLOOD; i++) {
        const status = i % 2 === 0 ? 'running' : 'exited';
        ws.send({ instanceUid: uid, sequenceNum: BigInt(i + 2), capabilities: CAPS, health: { healthy: true, status: 'running', componentHealthMap: { svc: { healthy: i % 2 === 0, status } } } });
      }
      await ws.next(FLOOD + 1, 60_000);
    } finally {
      ws.close();
    }
    const summary = await eventually(async () => (await events(id)).find((e) => e.type === 'agent.events_dropped'), { what: 'the summary event' });
    assert.equal(summary.data.limitPerMinute, 100);
    const all = await events(id);
    assert.ok(all.length <= 102, `at most the budget + summary + offline, got ${all.length}`);
    assert.equal(all.filter((e) => e.type === 'agent.events_dropped').length, 1, 'one summary event');
    const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
    const dropped = Number(/^corral_agent_events_dropped_total (\d+)/m.exec(metrics)?.[1]);
    assert.ok(dropped >= 1800, `dropped events are counted, got ${dropped}`);
  });

  it('keeps at most 30 resource samples a minute from one agent, and refuses oversized ones', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    const ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    const sample = (i: number, services = 1) => ({
      at: i,
      host: { cpuPercent: 1, memUsedBytes: 1, memTotalBytes: 2, diskUsedBytes: null, diskTotalBytes: null },
      services: Array.from({ length: services }, (_, n) => ({ name: `s${n}`.padEnd(64, 'x'), cpuPercent: 1, rssBytes: 1, fds: 1 })),
    });
    try {
      ws.send({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: description('sampler') });
      await ws.next(1);
      const FLOOD = 500;
      for (let i = 0; i < FLOOD; i++) {
        ws.send({ instanceUid: uid, sequenceNum: BigInt(i + 2), capabilities: CAPS, customMessage: { capability: SAMPLES_CAPABILITY, type: SAMPLES_TYPE, data: encodeJson(sample(i)) } });
      }
      // 1000 services of 64-character names: ~100 KiB, over the 64 KiB a sample may have.
      ws.send({ instanceUid: uid, sequenceNum: BigInt(FLOOD + 2), capabilities: CAPS, customMessage: { capability: SAMPLES_CAPABILITY, type: SAMPLES_TYPE, data: encodeJson(sample(-1, 1000)) } });
      await ws.next(FLOOD + 2, 60_000);
      const kept = await fleet.api<{ samples: { at: number }[] }>('GET', `/api/v1/agents/${id}/samples`);
      assert.equal(kept.status, 200);
      assert.equal(kept.body.samples.length, 30);
      assert.ok(kept.body.samples.every((s) => s.at >= 0), 'the oversized sample was not kept');
      const metrics = await (await fetch(`${fleet.url}/metrics`)).text();
      assert.match(metrics, /corral_agent_samples_dropped_total\{reason="rate-limited"\} 470/);
      assert.match(metrics, /corral_agent_samples_dropped_total\{reason="too-large"\} 1/);
    } finally {
      ws.close();
    }
  });
});
