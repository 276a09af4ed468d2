/**
 * Staged rollouts, end to end, with real agents in two clusters and a real
 * package in three versions (two good, one that crashes at start): canary,
 * consistent-hash batches in cluster order with max in flight held at every
 * moment, a failing canary rolled back automatically, pause / resume /
 * promote / abort / rollback by hand, and a server killed mid-rollout that
 * continues where it was.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';

const manifest = (version: string, crash: boolean) => `apiVersion: corral.io/v1
name: app
version: ${version}
platforms: [{os: linux, arch: any}]
run:
  command: sh
  args: ["-c", "${crash ? 'exit 3' : 'exec sleep 100000'}"]
restart: {policy: always, maxDelayMs: 200}
`;

interface AgentRow {
  id: string;
  name: string;
  stage: number;
  state: string;
  reason: string;
  startedAt: string | null;
  finishedAt: string | null;
}
interface Status {
  id: string;
  kind: string;
  state: string;
  reason: string;
  to: { revision: number; version: string } | null;
  totals: { pending: number; updating: number; healthy: number; failed: number; offline: number; total: number };
  agents: AgentRow[];
}

describe('staged rollouts', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  const agents: TestAgent[] = [];
  const clusterOf = new Map<string, string>();

  /** The package version an agent's service runs now, from its install dir ("1.0.0"), or null. */
  const versionOn = (a: TestAgent): string | null => {
    try {
      return readlinkSync(join(a.dataDir, 'services', 'app', 'current')).split('/').pop()!.split('-')[0]!;
    } catch {
      return null;
    }
  };
  const status = async (ref = 'app') => {
    const res = await fleet.api<Status>('GET', `/api/v1/rollouts/${ref}?agents=true`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const deploy = async (version: string, rollout: Record<string, unknown>, values: Record<string, string> = {}) => {
    const res = await fleet.api<{ rollout: string | null }>('POST', '/api/v1/deployments', { name: 'app', package: 'app', version, selector: 'role=app', values, rollout });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.rollout);
    return res.body.rollout;
  };
  const finished = (id: string, state: string) =>
    eventually(async () => {
      const s = await status(id);
      return s.state === state ? s : undefined;
    }, { timeoutMs: 90_000, intervalMs: 200, what: `rollout ${id} ${state}` });
  const servicePid = (a: TestAgent): number | null => servicePidOf(a.dataDir, 'app');
  /** Largest number of [startedAt, finishedAt] intervals open at one moment. */
  const maxOverlap = (rows: AgentRow[]) => {
    const points = rows.filter((r) => r.startedAt).flatMap((r) => [
      { t: Date.parse(r.startedAt!), d: 1 },
      { t: r.finishedAt ? Date.parse(r.finishedAt) : Infinity, d: -1 },
    ]);
    points.sort((x, y) => x.t - y.t || x.d - y.d);
    let open = 0;
    let max = 0;
    for (const p of points) max = Math.max(max, (open += p.d));
    return max;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-rollout-e2e-'));
    fleet = await Fleet.start({ rolloutDefaults: { minHealthySeconds: 1, healthyDeadlineSeconds: 60 } });
    for (let i = 0; i < 6; i++) {
      const cluster = i < 3 ? 'a' : 'b';
      const a = await fleet.startAgent({ name: `${cluster}-${i}`, labels: { role: 'app', cluster } });
      agents.push(a);
    }
    for (const a of agents) {
      const summary = await fleet.awaitAgent(a, (x) => x.status === 'online');
      clusterOf.set(summary.id, summary.labels.cluster!);
    }
    for (const [version, crash] of [['1.0.0', false], ['2.0.0', false], ['3.0.0', true]] as const) {
      const dir = join(work, version);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'corral.yaml'), manifest(version, crash));
      const out = join(work, `app-${version}.tar.gz`);
      assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
      const pushed = await fleet.cli('package', 'push', out);
      assert.equal(pushed.code, 0, pushed.stderr);
    }
  });

  after(async () => {
    await fleet?.cli('undeploy', 'app').catch(() => undefined);
    for (const a of agents) await eventually(() => servicePid(a) === null, { timeoutMs: 10_000 }).catch(() => undefined);
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('rolls a good version through the canary, then batches cluster by cluster, never more than max in flight', async () => {
    const id = await deploy('1.0.0', { canary: '1', batches: 2, orderBy: { label: 'cluster', values: ['a', 'b'] }, maxInFlight: '2' });
    // Sample the hosts themselves while it runs: agents running the new version but not yet counted healthy.
    let sampledMax = 0;
    let samples = 0;
    const done = await eventually(async () => {
      const s = await status(id);
      const healthy = new Set(s.agents.filter((r) => r.state === 'healthy').map((r) => r.name));
      const inFlight = agents.filter((a) => versionOn(a) === '1.0.0' && !healthy.has(a.name)).length;
      sampledMax = Math.max(sampledMax, inFlight);
      samples++;
      return s.state === 'succeeded' ? s : undefined;
    }, { timeoutMs: 90_000, intervalMs: 100, what: 'first rollout to succeed' });
    assert.ok(samples > 10, `sampled ${samples} times`);
    assert.ok(sampledMax <= 2, `at most 2 in flight on the hosts, saw ${sampledMax}`);
    assert.ok(maxOverlap(done.agents) <= 2, `at most 2 in flight by the server's record, saw ${maxOverlap(done.agents)}`);
    assert.equal(done.totals.healthy, 6);
    for (const a of agents) assert.equal(versionOn(a), '1.0.0');
    // Canary first; then every agent of cluster a before any of cluster b.
    const started = (r: AgentRow) => Date.parse(r.startedAt!);
    const ended = (r: AgentRow) => Date.parse(r.finishedAt!);
    const canary = done.agents.filter((r) => r.stage === 0);
    assert.equal(canary.length, 1);
    const rest = done.agents.filter((r) => r.stage > 0);
    for (const r of rest) assert.ok(started(r) >= ended(canary[0]!), `${r.name} started before the canary was healthy`);
    const inA = rest.filter((r) => clusterOf.get(r.id) === 'a');
    const inB = rest.filter((r) => clusterOf.get(r.id) === 'b');
    assert.ok(Math.max(...inA.map(ended)) <= Math.min(...inB.map(started)), 'cluster a finished before cluster b started');
    // The deployment's own view: its revision is now stable, every agent is offered it.
    const view = await fleet.cli('deployment', 'status', 'app');
    assert.equal(view.code, 0, view.stderr);
    assert.match(view.stdout, /revision r1 \(stable r1\)/);
    assert.match(view.stdout, /newest rollout to r1: succeeded/);
    assert.equal((view.stdout.match(/ r1 +APPLIED/g) ?? []).length, 6, view.stdout);
  });

  it('stops a canary that fails its health gate and rolls back automatically', async () => {
    const pidsBefore = new Map(agents.map((a) => [a.name, servicePid(a)]));
    const id = await deploy('3.0.0', { canary: '1', errorBudget: '0', onFailure: 'rollback' });
    const failed = await finished(id, 'failed');
    assert.match(failed.reason, /error budget exceeded: 1 failed, budget 0/);
    const canary = failed.agents.find((r) => r.stage === 0)!;
    assert.equal(canary.state, 'failed');
    assert.match(canary.reason, /^crash loop: exited with code 3, \d+ times in (under 1 s|\d+ s)$/);
    assert.ok(failed.agents.filter((r) => r.stage > 0).every((r) => r.state === 'pending'), 'nobody past the canary got the bad version');
    // The automatic rollback is a rollout of its own, back to the stable revision.
    const rollback = await eventually(async () => {
      const list = (await fleet.api<{ rollouts: { id: string; kind: string; createdBy: string }[] }>('GET', '/api/v1/rollouts?deployment=app')).body.rollouts;
      return list[0]?.kind === 'rollback' ? list[0] : undefined;
    }, { what: 'a rollback rollout' });
    assert.equal(rollback.createdBy, 'corral');
    const back = await finished(rollback.id, 'succeeded');
    assert.equal(back.to?.version, '1.0.0');
    for (const a of agents) assert.equal(versionOn(a), '1.0.0');
    for (const a of agents) {
      if (a.name === canary.name) continue;
      assert.equal(servicePid(a), pidsBefore.get(a.name), `${a.name} was never touched`);
      assert.equal(readdirSync(join(a.dataDir, 'services', 'app', 'versions')).some((v) => v.startsWith('3.0.0')), false, `${a.name} never downloaded 3.0.0`);
    }
    const deployment = (await fleet.api<{ revision: number; stableRevision: number; version: string }>('GET', '/api/v1/deployments/app')).body;
    assert.equal(deployment.version, '1.0.0');
    assert.equal(deployment.revision, deployment.stableRevision);
  });

  it('waits for a promote after the canary, pauses and resumes by hand, and records who did it', async () => {
    const id = await deploy('2.0.0', { canary: '1', promote: 'manual', batches: 2, maxInFlight: '1' });
    const waiting = await eventually(async () => {
      const s = await status(id);
      return s.state === 'paused' && /waiting for promote/.test(s.reason) ? s : undefined;
    }, { timeoutMs: 30_000, what: 'waiting for promote' });
    assert.equal(waiting.totals.healthy, 1);
    assert.equal(agents.filter((a) => versionOn(a) === '2.0.0').length, 1, 'only the canary runs 2.0.0');
    const promoted = await fleet.cli('rollout', 'promote', 'app');
    assert.equal(promoted.code, 0, promoted.stderr);
    await eventually(async () => (await status(id)).totals.healthy >= 2, { timeoutMs: 30_000, what: 'one more agent after the promote' });
    const paused = await fleet.cli('rollout', 'pause', 'app');
    assert.equal(paused.code, 0, paused.stderr);
    // Whatever was in flight finishes; nothing new is released while paused.
    const settled = await eventually(async () => {
      const s = await status(id);
      return s.totals.updating === 0 ? s : undefined;
    }, { timeoutMs: 30_000, what: 'in-flight agents to settle' });
    assert.equal(settled.state, 'paused');
    assert.ok(settled.totals.pending > 0);
    const again = await status(id);
    assert.equal(again.totals.healthy, settled.totals.healthy);
    assert.equal(agents.filter((a) => versionOn(a) === '2.0.0').length, settled.totals.healthy);
    // An agent joining the selector now falls into a batch (never the canary) and, until its stage
    // comes, runs the stable revision.
    const late = await fleet.startAgent({ name: 'b-late', labels: { role: 'app', cluster: 'b' } });
    agents.push(late);
    const lateId = (await fleet.awaitAgent(late, (x) => x.status === 'online')).id;
    clusterOf.set(lateId, 'b');
    const joined = await eventually(async () => (await status(id)).agents.find((r) => r.id === lateId), { timeoutMs: 20_000, what: 'the late agent in the rollout' });
    assert.ok(joined.stage > 0);
    await eventually(() => versionOn(late) === '1.0.0', { timeoutMs: 30_000, what: 'the late agent on the stable 1.0.0' });
    const resumed = await fleet.cli('rollout', 'resume', 'app');
    assert.equal(resumed.code, 0, resumed.stderr);
    const watch = await fleet.cli('rollout', 'status', 'app', '-w');
    assert.equal(watch.code, 0, watch.stderr);
    assert.match(watch.stdout, /succeeded/);
    for (const a of agents) assert.equal(versionOn(a), '2.0.0');
    const events = (await fleet.api<{ events: { type: string; data: { actor?: string } }[] }>('GET', '/api/v1/events?type=rollout.pause')).body.events;
    assert.ok(events.some((e) => e.data.actor === 'admin'), `pause recorded with the user of the token: ${JSON.stringify(events)}`);
  });

  it('aborts where it is, and rolls back by hand to the stable revision', async () => {
    const id = await deploy('1.0.0', { batches: 3, maxInFlight: '1', minHealthySeconds: 2 });
    await eventually(async () => (await status(id)).totals.healthy >= 1, { timeoutMs: 30_000, what: 'one agent updated' });
    const aborted = await fleet.cli('rollout', 'abort', 'app');
    assert.equal(aborted.code, 0, aborted.stderr);
    const s = await status(id);
    assert.equal(s.state, 'aborted');
    const onNew = agents.filter((a) => versionOn(a) === '1.0.0').length;
    assert.ok(onNew >= 1 && onNew < 6, `some agents on 1.0.0, the rest kept 2.0.0 (${onNew})`);
    const badMode = await fleet.api<{ error: { code: string; message: string } }>('POST', '/api/v1/rollouts/app/rollback', { mode: 'sideways' });
    assert.equal(badMode.status, 400);
    assert.match(badMode.body.error.message, /mode: .*"staged"\|"at-once"/);
    const rb = await fleet.cli('rollout', 'rollback', 'app', '-o', 'json');
    assert.equal(rb.code, 0, rb.stderr);
    const rollback = JSON.parse(rb.stdout) as { id: string };
    const back = await finished(rollback.id, 'succeeded');
    assert.equal(back.to?.version, '2.0.0');
    for (const a of agents) assert.equal(versionOn(a), '2.0.0');
    const refused = await fleet.cli('rollout', 'resume', id);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /cannot resume rollout .*: it is aborted/);
  });

  it('continues where it was after the server is killed mid-rollout', async () => {
    const id = await deploy('1.0.0', { batches: 3, maxInFlight: '1', minHealthySeconds: 1 }, { round: 'kill' });
    const before = await eventually(async () => {
      const s = await status(id);
      return s.totals.healthy >= 2 && s.totals.pending >= 2 ? s : undefined;
    }, { timeoutMs: 60_000, what: 'two agents done, some pending' });
    await fleet.stopServer({ crash: true });
    const healthyBefore = before.agents.filter((r) => r.state === 'healthy');
    const pids = new Map(agents.map((a) => [a.name, servicePid(a)]));
    await fleet.restartServer();
    const done = await finished(id, 'succeeded');
    for (const a of agents) assert.equal(versionOn(a), '1.0.0');
    // Those done before the crash were not released again: same start time, same process.
    for (const r of healthyBefore) {
      const after = done.agents.find((x) => x.id === r.id)!;
      assert.equal(after.startedAt, r.startedAt, `${r.name} released once`);
      assert.equal(servicePid(agents.find((a) => a.name === r.name)!), pids.get(r.name), `${r.name} not restarted again`);
    }
    assert.ok(maxOverlap(done.agents) <= 1);
  });
});
