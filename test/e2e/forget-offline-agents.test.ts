/**
 * `corral server --forget-offline-after`, end to end: a real server with a
 * 2 s threshold (so it sweeps every second) and real agents. An agent that
 * stops is forgotten once it has been offline that long — gone from the
 * list, with an `agent.forgotten` event and an audit record by `corral`
 * naming it — while one that stays online is kept. When the forgotten host
 * starts again with its old credential it is refused (401) and stays out of
 * the list; once its credential is cleared it enrolls again cleanly under
 * its uid, with its token's labels.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';

interface AuditJson {
  actor: { name: string };
  action: string;
  summary: { agents: { id: string; name: string }[]; batch: { agents: number; events: number } };
  target: { agentIds: string[]; agentCount: number };
}

describe('the server forgets agents offline longer than --forget-offline-after', { concurrency: false }, () => {
  let fleet: Fleet;
  let stays: TestAgent;
  let leaves: TestAgent;

  before(async () => {
    fleet = await Fleet.start({ extraServerArgs: ['--forget-offline-after', '2s'] });
    stays = await fleet.startAgent({ name: 'stays', labels: { env: 'prod' } });
    leaves = await fleet.startAgent({ name: 'leaves', labels: { env: 'prod' } });
    await fleet.awaitAgent(stays, (a) => a.status === 'online', 60_000);
    await fleet.awaitAgent(leaves, (a) => a.status === 'online', 60_000);
  });

  after(async () => {
    await fleet?.close();
  });

  it('forgets a stopped agent with an event and an audit record; keeps the online one', async () => {
    const gone = await leaves.instanceUid();
    const kept = await stays.instanceUid();
    await leaves.process.stop();
    // Offline after 1.5 s without heartbeats, forgotten 2 s after it was last seen, within a sweep (1 s).
    await eventually(async () => ((await fleet.listAgents()).some((a) => a.id === gone) ? undefined : true), { what: 'the stopped agent forgotten', timeoutMs: 30_000 });
    const listed = await fleet.listAgents();
    assert.deepEqual(listed.map((a) => [a.id, a.status]), [[kept, 'online']], 'the online agent stays');
    assert.equal((await fleet.api('GET', `/api/v1/agents/${gone}`)).status, 404);

    const events = await eventually(
      async () => {
        const res = await fleet.api<{ events: { type: string; agentId: string | null; data: Record<string, unknown> }[] }>('GET', '/api/v1/events?type=agent.forgotten&limit=1000');
        return res.body.events.length > 0 ? res.body.events : undefined;
      },
      { what: 'the agent.forgotten event', timeoutMs: 10_000 },
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]!.agentId, null, 'not tied to the agent, whose events went with it');
    assert.deepEqual({ ...events[0]!.data, lastSeenAt: typeof events[0]!.data.lastSeenAt }, { agentId: gone, name: 'leaves', lastSeenAt: 'number', forgetOfflineAfter: '2s', actor: 'corral' });
    assert.deepEqual((await fleet.api<{ events: unknown[] }>('GET', `/api/v1/events?agent=${gone}&limit=1000`)).body.events, [], 'its own events are gone');

    const audit = (await fleet.api<{ records: AuditJson[] }>('GET', `/api/v1/audit?action=${encodeURIComponent('FORGET agents')}`)).body.records;
    assert.equal(audit.length, 1);
    assert.equal(audit[0]!.actor.name, 'corral');
    assert.deepEqual(audit[0]!.target, { agentIds: [gone], agentCount: 1 });
    assert.deepEqual(audit[0]!.summary.agents.map((a) => [a.id, a.name]), [[gone, 'leaves']]);
    assert.equal((await fleet.api<{ ok: boolean }>('GET', '/api/v1/audit/verify')).body.ok, true, 'the chain holds');
  });

  it('refuses the forgotten host when it returns with its old credential; it enrolls again once the credential is cleared', async () => {
    const gone = await leaves.instanceUid();
    const identityFile = join(leaves.dataDir, 'identity.json');
    const identity = JSON.parse(await readFile(identityFile, 'utf8')) as { instanceUid: string; credential: string | null };
    assert.ok(identity.credential, 'it kept its credential on disk');

    await leaves.restart();
    await eventually(() => (leaves.process.stdout + leaves.process.stderr).includes('server refused our credential (401)') || undefined, {
      what: 'the returning agent refused',
      timeoutMs: 30_000,
    });
    assert.match(leaves.process.stdout + leaves.process.stderr, /revoked, deleted or forgotten/);
    assert.ok(!(await fleet.listAgents()).some((a) => a.id === gone), 'refused: not listed again');

    // The documented way back: clear the credential; the agent enrolls with its --token under the same uid.
    await leaves.process.stop();
    await writeFile(identityFile, `${JSON.stringify({ ...identity, credential: null }, null, 2)}\n`, { mode: 0o600 });
    await leaves.restart();
    const back = await fleet.awaitAgent(leaves, (a) => a.status === 'online', 60_000);
    assert.equal(back.id, gone);
    assert.deepEqual(back.boundLabels, { env: 'prod' });
    // Listed online from its first message; the credential it is given then is stored a moment later.
    const renewed = await eventually(
      async () => {
        const id = JSON.parse(await readFile(identityFile, 'utf8')) as { instanceUid: string; credential: string | null };
        return id.credential ? id : undefined;
      },
      { what: 'the new credential stored', timeoutMs: 20_000 },
    );
    assert.equal(renewed.instanceUid, gone);
    assert.notEqual(renewed.credential, identity.credential, 'a new credential of its own');
  });
});
