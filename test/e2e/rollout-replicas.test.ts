/**
 * Two server replicas on one PostgreSQL store: a rollout started through one
 * is driven by exactly one of them (a lease in the store). Its agents are
 * connected to the other replica, so every release travels through the
 * store. The driving replica is then killed mid-rollout: the other takes
 * the lease over once it expires and finishes the rollout, releasing no
 * agent twice.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';

interface Status {
  state: string;
  drivenBy: { owner: string; leaseUntil: string | null } | null;
  totals: { healthy: number; pending: number; updating: number; total: number };
  agents: { id: string; name: string; state: string; startedAt: string | null }[];
}

describe('rollouts across replicas on PostgreSQL', { concurrency: false }, () => {
  let fleet: Fleet;
  let schema: TestSchema | null = null;
  let skipped = '';
  let work: string;
  let replica: { url: string; process: { pid: number | undefined } };
  const agents: TestAgent[] = [];

  const servicePid = (a: TestAgent): number | null => servicePidOf(a.dataDir, 'app');
  /** Reads through the replica: the first server will be killed. */
  const status = async (id: string) => {
    const res = await fetch(`${replica.url}/api/v1/rollouts/${id}?agents=true`, { headers: { authorization: `Bearer ${fleet.adminToken}` } });
    assert.equal(res.status, 200);
    return (await res.json()) as Status;
  };

  before(async () => {
    const pg = await postgresForTest();
    if ('skip' in pg) {
      skipped = pg.skip;
      return;
    }
    schema = pg.schema;
    work = await mkdtemp(join(tmpdir(), 'corral-replicas-e2e-'));
    fleet = await Fleet.start({ database: schema.url, rolloutDefaults: { minHealthySeconds: 1 } });
    replica = await fleet.startReplica('replica-2');
    for (let i = 0; i < 4; i++) agents.push(await fleet.startAgent({ name: `r-${i}`, labels: { role: 'app' }, server: replica.url }));
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online');
    const dir = join(work, 'app');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: app\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', join(work, 'app.tar.gz'))).code, 0);
    assert.equal((await fleet.cli('package', 'push', join(work, 'app.tar.gz'))).code, 0);
  });

  after(async () => {
    if (skipped) return;
    await fetch(`${replica.url}/api/v1/deployments/app`, { method: 'DELETE', headers: { authorization: `Bearer ${fleet.adminToken}` } }).catch(() => undefined);
    for (const a of agents) await eventually(() => servicePid(a) === null, { timeoutMs: 10_000 }).catch(() => undefined);
    await fleet?.close();
    await schema?.drop();
    await rm(work, { recursive: true, force: true });
  });

  it('is driven by one replica, and by the other once the first dies', async (t) => {
    if (skipped) return t.skip(skipped);
    // Installed everywhere at once first, so the measured rollout is a change of running services.
    const first = await fleet.api<{ rollout: string }>('POST', '/api/v1/deployments', { name: 'app', package: 'app', version: '1.0.0', selector: 'role=app', values: { n: '1' }, rollout: { maxInFlight: '100%' } });
    await eventually(async () => (await status(first.body.rollout)).state === 'succeeded', { timeoutMs: 30_000, what: 'first install' });

    // The change goes in through the first server, which takes the lease at once.
    const res = await fleet.api<{ rollout: string }>('POST', '/api/v1/deployments', { name: 'app', package: 'app', version: '1.0.0', selector: 'role=app', values: { n: '2' }, rollout: { maxInFlight: '1', minHealthySeconds: 2 } });
    assert.equal(res.status, 200);
    const id = res.body.rollout;
    const early = await eventually(async () => {
      const s = await status(id);
      return s.totals.healthy >= 1 && s.drivenBy ? s : undefined;
    }, { timeoutMs: 30_000, what: 'one agent done through the other replica' });
    const firstOwner = early.drivenBy!.owner;
    assert.match(firstOwner, new RegExp(`:${fleet.serverPid}:`), 'the replica that took the change drives it');
    const startedBefore = new Map(early.agents.filter((r) => r.startedAt).map((r) => [r.id, r.startedAt]));

    await fleet.stopServer({ crash: true });
    // Once the dead replica's lease expires (10 s), the other one takes the rollout over.
    const takenOver = await eventually(async () => {
      const s = await status(id);
      return s.drivenBy && s.drivenBy.owner !== firstOwner ? s : undefined;
    }, { timeoutMs: 30_000, intervalMs: 250, what: 'the other replica to take the lease' });
    assert.match(takenOver.drivenBy!.owner, new RegExp(`:${replica.process.pid}:`));
    const done = await eventually(async () => {
      const s = await status(id);
      return s.state === 'succeeded' ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250, what: 'the other replica to finish the rollout' });
    assert.equal(done.totals.healthy, 4);
    for (const [agentId, startedAt] of startedBefore) {
      assert.equal(done.agents.find((r) => r.id === agentId)?.startedAt, startedAt, `${agentId} released once`);
    }
  });
});
