/**
 * An exec job's timeout is enforced by the server, whatever an agent sends:
 * a hostile agent that keeps streaming progress does not keep its host (or
 * the job) running past the timeout; the host is marked timed out and the
 * agent is told to cancel. A real agent in the same job is unaffected.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AgentCapabilities,
  CORRAL_AGENT_SERVICE_NAME,
  EXEC_CAPABILITY,
  PROGRESS_TYPE,
  REQUEST_TYPE,
  decodeJsonObject,
  encodeJson,
  recordToKeyValues,
  uuidBytesToString,
} from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, newInstanceUid } from '../../src/testkit/opamp-client.js';

interface JobJson {
  id: string;
  status: string;
  hosts: { agentId: string; agentName: string; status: string; exitCode: number | null; output: string; error: string; timedOut: boolean }[];
}

describe('exec deadline', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start();
  });
  after(async () => fleet?.close());

  it('marks a host timed out and tells its agent to cancel, however much progress it sends', async () => {
    const honest = await fleet.startAgent({ name: 'honest' });
    const honestId = (await fleet.awaitAgent(honest, (a) => a.status === 'online')).id;

    const uid = newInstanceUid();
    const rogueId = uuidBytesToString(uid);
    const rogue = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    let seq = 1n;
    const say = (init: Parameters<WsOpampClient['send']>[0]) => rogue.send({ instanceUid: uid, sequenceNum: seq++, capabilities: BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus), ...init });
    say({
      agentDescription: {
        identifyingAttributes: recordToKeyValues({ 'service.name': CORRAL_AGENT_SERVICE_NAME }),
        nonIdentifyingAttributes: recordToKeyValues({ 'corral.agent.name': 'rogue' }),
      },
      customCapabilities: { capabilities: [EXEC_CAPABILITY] },
    });
    await rogue.next(1);
    await eventually(async () => (await fleet.listAgents()).find((a) => a.id === rogueId && a.status === 'online'), { what: 'the rogue agent online' });
    for (const id of [honestId, rogueId]) assert.equal((await fleet.api('PATCH', `/api/v1/agents/${id}`, { labels: { job: 'deadline' } })).status, 200);

    const created = await fleet.api<JobJson>('POST', '/api/v1/jobs', { selector: 'job=deadline', command: ['sh', '-c', 'sleep 0.2; echo ok'], timeoutSeconds: 1, maxConcurrency: '2' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const jobId = created.body.id;

    // The rogue agent never replies; it streams progress every 100 ms, for up to 20 s, until it is told to cancel.
    const requests = () => rogue.replies.map((r) => r.customMessage).filter((m) => m?.capability === EXEC_CAPABILITY && m.type === REQUEST_TYPE).map((m) => decodeJsonObject(m!.data));
    const execId = (await eventually(() => requests().find((r) => Array.isArray(r.command)), { what: 'the exec request at the rogue agent' })).id as string;
    let sent = 0;
    const flood = setInterval(() => {
      if (sent++ >= 200 || requests().some((r) => r.cancel === execId)) return clearInterval(flood);
      say({ customMessage: { capability: EXEC_CAPABILITY, type: PROGRESS_TYPE, data: encodeJson({ id: execId, stream: 'stdout', data: 'still going\n' }) } });
    }, 100);
    try {
      const job = await eventually(
        async () => {
          const j = (await fleet.api<JobJson>('GET', `/api/v1/jobs/${jobId}`)).body;
          return j.status === 'running' ? undefined : j;
        },
        { timeoutMs: 15_000, what: 'the job to finish' },
      );
      const rogueHost = job.hosts.find((h) => h.agentId === rogueId)!;
      assert.equal(rogueHost.status, 'failed');
      assert.match(rogueHost.error, /^timed out after 1000 ms \(enforced by the server; the agent was told to cancel\)$/);
      assert.equal(rogueHost.timedOut, true, 'counted as timed out in the job list');
      const honestHost = job.hosts.find((h) => h.agentId === honestId)!;
      assert.equal(honestHost.status, 'succeeded', honestHost.error);
      assert.equal(honestHost.timedOut, false);
      assert.equal(honestHost.output, 'ok\n');
      await eventually(() => requests().some((r) => r.cancel === execId), { what: 'a cancel request at the rogue agent' });
    } finally {
      clearInterval(flood);
      rogue.close();
    }
  });
});
