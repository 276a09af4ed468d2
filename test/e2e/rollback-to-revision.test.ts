/**
 * A deployment's history and a rollback to any earlier revision on real
 * agents: the rollback goes out as a staged rollout under the deployment's
 * own policy (canary, then a manual promote), not all at once; afterwards
 * each agent's config diff shows what it runs equal to what it is offered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';

interface Status {
  state: string;
  reason: string;
  totals: { pending: number; updating: number; healthy: number; failed: number; total: number };
}
interface Revisions {
  revision: number;
  stableRevision: number | null;
  revisions: { revision: number; version: string; values: Record<string, string>; current: boolean; stable: boolean }[];
}
interface Diff {
  config: { status: string; desiredHash: string | null };
  configNames: string[];
  effectiveReported: boolean;
  files: { name: string; state: string; desired: { body: string } | null; effective: { body: string } | null }[];
}

describe('rollback to any revision', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  const agents: TestAgent[] = [];
  const versionOn = (a: TestAgent): string | null => {
    try {
      return readlinkSync(join(a.dataDir, 'services', 'app', 'current')).split('/').pop()!.split('-')[0]!;
    } catch {
      return null;
    }
  };
  const status = async (id: string) => (await fleet.api<Status>('GET', `/api/v1/rollouts/${id}`)).body;
  const deploy = async (version: string, extra: Record<string, unknown> = {}) => {
    const res = await fleet.api<{ rollout: string | null }>('POST', '/api/v1/deployments', { name: 'app', package: 'app', version, selector: 'role=app', values: { v: version }, ...extra });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.rollout;
  };
  const succeeded = (id: string) => eventually(async () => (await status(id)).state === 'succeeded', { timeoutMs: 90_000, intervalMs: 200, what: `rollout ${id} succeeded` });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-rollback-rev-'));
    fleet = await Fleet.start({ rolloutDefaults: { minHealthySeconds: 1, healthyDeadlineSeconds: 60 } });
    for (let i = 0; i < 3; i++) agents.push(await fleet.startAgent({ name: `rb-${i}`, labels: { role: 'app' } }));
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online');
    for (const version of ['1.0.0', '2.0.0', '3.0.0']) {
      const dir = join(work, version);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'corral.yaml'), `apiVersion: corral.io/v1\nname: app\nversion: ${version}\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n`);
      const out = join(work, `app-${version}.tar.gz`);
      assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
      assert.equal((await fleet.cli('package', 'push', out)).code, 0);
    }
  });

  after(async () => {
    await fleet?.cli('undeploy', 'app').catch(() => undefined);
    for (const a of agents) await eventually(() => servicePidOf(a.dataDir, 'app') === null, { timeoutMs: 10_000 }).catch(() => undefined);
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('lists revisions and rolls back to revision 1 through the canary and a manual promote', async () => {
    for (const v of ['1.0.0', '2.0.0', '3.0.0']) await succeeded((await deploy(v, { rollout: { maxInFlight: '100%' } }))!);
    // The deployment's own policy from now on: one canary, then wait for an operator.
    assert.equal(await deploy('3.0.0', { policy: { canary: '1', promote: 'manual', maxInFlight: '100%' } }), null, 'a policy change alone is no new revision');

    const list = await fleet.api<Revisions>('GET', '/api/v1/deployments/app/revisions');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.revisions.map((r) => [r.revision, r.version, r.current, r.stable]), [
      [3, '3.0.0', true, true],
      [2, '2.0.0', false, false],
      [1, '1.0.0', false, false],
    ]);
    const one = await fleet.api<{ version: string; values: Record<string, string> }>('GET', '/api/v1/deployments/app/revisions/1');
    assert.deepEqual([one.status, one.body.version, one.body.values], [200, '1.0.0', { v: '1.0.0' }]);
    const missing = await fleet.api<{ error: { code: string } }>('POST', '/api/v1/deployments/app/rollback', { toRevision: 9 });
    assert.deepEqual([missing.status, missing.body.error.code], [404, 'REVISION_NOT_FOUND']);
    assert.equal((await fleet.api('POST', '/api/v1/deployments/app/rollback', { toRevision: 1, surprise: true })).status, 400);

    const res = await fleet.api<{ id: string; kind: string; toRevision: number; policy: { promote: string; canary: string } }>('POST', '/api/v1/deployments/app/rollback', { toRevision: 1 });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual([res.body.kind, res.body.toRevision, res.body.policy.promote, res.body.policy.canary], ['rollback', 1, 'manual', '1']);

    // Staged: the canary alone goes back, and the rest waits for the promote.
    await eventually(async () => (await status(res.body.id)).totals.healthy === 1, { timeoutMs: 60_000, intervalMs: 200, what: 'the canary healthy on 1.0.0' });
    assert.deepEqual(agents.map(versionOn).sort(), ['1.0.0', '3.0.0', '3.0.0']);
    const waiting = await status(res.body.id);
    assert.equal(waiting.state, 'paused');
    assert.match(waiting.reason, /waiting for promote/);
    assert.equal(waiting.totals.pending, 2, 'the others wait for a promote');

    assert.equal((await fleet.api('POST', `/api/v1/rollouts/${res.body.id}/promote`)).status, 200);
    await succeeded(res.body.id);
    await eventually(() => agents.every((a) => versionOn(a) === '1.0.0'), { timeoutMs: 60_000, what: 'every agent on 1.0.0' });
    const after = await fleet.api<Revisions>('GET', '/api/v1/deployments/app/revisions');
    assert.deepEqual([after.body.revision, after.body.stableRevision], [1, 1]);
    const again = await fleet.api<{ error: { code: string } }>('POST', '/api/v1/deployments/app/rollback', { toRevision: 1 });
    assert.deepEqual([again.status, again.body.error.code], [409, 'ROLLOUT_STATE']);
  });

  it("shows an agent's desired against effective config", async () => {
    const [summary] = await fleet.listAgents('role=app');
    const diff = await eventually(
      async () => {
        const d = (await fleet.api<Diff>('GET', `/api/v1/agents/${summary!.id}/config-diff`)).body;
        return d.files.length > 0 && d.files.every((f) => f.state === 'same') ? d : undefined;
      },
      { timeoutMs: 30_000, what: 'effective config equal to desired' },
    );
    assert.equal(diff.effectiveReported, true);
    assert.equal(diff.config.status, 'APPLIED');
    assert.deepEqual(diff.configNames, ['deployment/app@1']);
    assert.match(diff.files[0]!.desired!.body, /"version":"1\.0\.0"/);

    // A named config offered on top: the diff shows it, until the agent runs it.
    assert.equal((await fleet.api('PUT', '/api/v1/configs/extra', { selector: 'role=app', files: { 'extra.txt': { body: 'hello' } } })).status, 200);
    const withExtra = (await fleet.api<Diff>('GET', `/api/v1/agents/${summary!.id}/config-diff`)).body;
    assert.ok(withExtra.files.some((f) => f.name === 'extra.txt' && f.desired?.body === 'hello'), JSON.stringify(withExtra.files.map((f) => [f.name, f.state])));
    assert.equal((await fleet.api('GET', '/api/v1/agents/nope/config-diff')).status, 404);
  });
});
