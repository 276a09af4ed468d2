/**
 * Following a deployment from the CLI: `rollout status NAME -w` reports the
 * outcome of the change that was deployed (a failed change stays failed,
 * whatever rollback followed) and returns when a rollout pauses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid } from '../../src/testkit/process-alive.js';

const manifest = (version: string, crash: boolean) => `apiVersion: corral.io/v1
name: app
version: ${version}
platforms: [{os: linux, arch: any}]
run:
  command: sh
  args: ["-c", "${crash ? 'exit 3' : 'exec sleep 100000'}"]
restart: {policy: always, maxDelayMs: 200}
`;

interface Summary {
  id: string;
  kind: string;
  state: string;
}

describe('following a deployment with rollout status -w', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  const agents: TestAgent[] = [];

  const rollouts = async () => (await fleet.api<{ rollouts: Summary[] }>('GET', '/api/v1/rollouts?deployment=app')).body.rollouts;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-follow-e2e-'));
    fleet = await Fleet.start({ rolloutDefaults: { minHealthySeconds: 0.5, healthyDeadlineSeconds: 60 } });
    for (const name of ['app-1', 'app-2']) agents.push(await fleet.startAgent({ name, labels: { role: 'app' } }));
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online');
    for (const [version, crash] of [['1.0.0', false], ['2.0.0', false], ['3.0.0', true]] as const) {
      const dir = join(work, version);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'corral.yaml'), manifest(version, crash));
      const out = join(work, `app-${version}.tar.gz`);
      assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
      const pushed = await fleet.cli('package', 'push', out);
      assert.equal(pushed.code, 0, pushed.stderr);
    }
    const first = await fleet.cli('deploy', 'app', '--package', 'app@1.0.0', '-s', 'role=app');
    assert.equal(first.code, 0, first.stderr);
    const watched = await fleet.cli('rollout', 'status', 'app', '-w');
    assert.equal(watched.code, 0, watched.stderr);
  });

  after(async () => {
    await fleet?.cli('undeploy', 'app').catch(() => undefined);
    for (const a of agents) await eventually(() => servicePid(a.dataDir, 'app') === null, { timeoutMs: 10_000 }).catch(() => undefined);
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('exits 1 for a change that failed and was rolled back, though the rollback succeeded', async () => {
    const deployed = await fleet.cli('deploy', 'app', '--package', 'app@3.0.0', '-s', 'role=app', '--canary', '1', '--on-failure', 'rollback');
    assert.equal(deployed.code, 0, deployed.stderr);
    // Let the automatic rollback finish first: the deployment's newest rollout is then a successful rollback.
    await eventually(async () => {
      const [newest] = await rollouts();
      return newest?.kind === 'rollback' && newest.state === 'succeeded';
    }, { timeoutMs: 60_000, what: 'the automatic rollback to succeed' });

    const watch = await fleet.cli('rollout', 'status', 'app', '-w');
    assert.equal(watch.code, 1, `${watch.stdout}\n${watch.stderr}`);
    assert.match(watch.stderr, /rollout failed: error budget exceeded/);
    assert.match(watch.stderr, /rolled back to r1 \(1\.0\.0\) by rollback [0-9a-f-]+: succeeded/);
    // The rollback itself is still followed by its id.
    const rollbackId = (await rollouts())[0]!.id;
    const byId = await fleet.cli('rollout', 'status', rollbackId, '-w');
    assert.equal(byId.code, 0, byId.stderr);
  });

  it('returns with exit code 5 when the rollout pauses, and 0 once promoted to success', async () => {
    const deployed = await fleet.cli('deploy', 'app', '--package', 'app@2.0.0', '-s', 'role=app', '--canary', '1', '--manual-promote');
    assert.equal(deployed.code, 0, deployed.stderr);
    const watch = await fleet.cli('rollout', 'status', 'app', '-w');
    assert.equal(watch.code, 5, `${watch.stdout}\n${watch.stderr}`);
    assert.match(watch.stderr, /rollout paused: waiting for promote/);
    assert.match(watch.stderr, /corral rollout promote app/);
    assert.equal((await fleet.cli('rollout', 'promote', 'app')).code, 0);
    const done = await fleet.cli('rollout', 'status', 'app', '-w');
    assert.equal(done.code, 0, done.stderr);
    assert.match(done.stdout, /succeeded/);
  });

  it('deploy --wait follows the change to success', async () => {
    const res = await fleet.cli('deploy', 'app', '--package', 'app@1.0.0', '-s', 'role=app', '--wait');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /on 'role=app' \(2 agents, running\)/);
    assert.match(res.stdout, /rollout to r\d+ \(1\.0\.0\) succeeded/);
  });

  it('warns when a selector matches no agent, naming the key it meant; deploy --wait then fails', async () => {
    const typo = await fleet.cli('deploy', 'typo', '--package', 'app@1.0.0', '-s', 'rloe=app');
    assert.equal(typo.code, 0, typo.stderr);
    assert.match(typo.stderr, /^warning: selector 'rloe=app' matches no Corral agent: no agent has the label "rloe" \(did you mean role\?\)$/m);
    assert.match(typo.stdout, /\(0 agents, running\)/);

    const waited = await fleet.cli('deploy', 'typo', '--package', 'app@2.0.0', '-s', 'role=ap', '--wait');
    assert.equal(waited.code, 1, waited.stdout);
    assert.match(waited.stderr, /^error: selector 'role=ap' matches no Corral agent: no agent has role=ap \(its values: app\) \(NO_TARGETS\)$/m);
    assert.equal((await fleet.cli('undeploy', 'typo')).code, 0);

    const listed = await fleet.cli('agents', '-s', 'rloe=app');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stderr, /^no agent matches 'rloe=app': no agent has the label "rloe" \(did you mean role\?\)$/m);
    const json = await fleet.cli('agents', '-s', 'rloe=app', '-o', 'json');
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as { agents: unknown[] }).agents, []);
    assert.match(json.stderr, /no agent matches 'rloe=app'/);
  });
});
