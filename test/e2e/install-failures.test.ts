/**
 * A change an agent cannot install fails that agent in the rollout at once,
 * with the agent's own reason, long before the healthy deadline (left at its
 * 300 s default here): a config template with no value for a placeholder,
 * and a template file the package does not carry (a postInstall hook deletes
 * it, since build and push refuse such a package). A real server, a real
 * agent, real packages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readlinkSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid } from '../../src/testkit/process-alive.js';

interface RolloutView {
  id: string;
  state: string;
  reason: string;
  agents: { name: string; state: string; reason: string }[];
}

const manifest = (version: string, extra = '') => `apiVersion: corral.io/v1
name: cfg
version: ${version}
run: {command: sh, args: ["-c", "exec sleep 100000"]}
config:
  files: [{path: app.conf, template: templates/app.conf}]
${extra}`;

describe('install failures in a rollout', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let agent: TestAgent;

  const publish = async (version: string, extra = '') => {
    const dir = join(work, version);
    await mkdir(join(dir, 'templates'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), manifest(version, extra));
    await writeFile(join(dir, 'templates', 'app.conf'), 'port={{ port }}\n');
    const out = join(work, `cfg-${version}.tar.gz`);
    const built = await fleet.cli('package', 'build', dir, '--out', out);
    assert.equal(built.code, 0, built.stderr);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
  };
  const deploy = async (version: string, values: Record<string, string>) => {
    const res = await fleet.api<{ rollout: string | null }>('POST', '/api/v1/deployments', { name: 'cfg', package: 'cfg', version, selector: 'role=cfg', values });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(res.body.rollout);
    return res.body.rollout;
  };
  const rollout = async (id: string) => (await fleet.api<RolloutView>('GET', `/api/v1/rollouts/${id}?agents=true`)).body;
  /** Well inside the 300 s healthy deadline: only an immediate failure gets there in time. */
  const failedAgent = (id: string) =>
    eventually(async () => {
      const s = await rollout(id);
      return s.agents[0]?.state === 'failed' ? s : undefined;
    }, { timeoutMs: 60_000, what: `the agent failed in rollout ${id}` });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-install-failures-'));
    fleet = await Fleet.start({ rolloutDefaults: { minHealthySeconds: 0 } });
    agent = await fleet.startAgent({ name: 'c1', labels: { role: 'cfg' } });
    await fleet.awaitAgent(agent, (x) => x.status === 'online');
    await publish('1.0.0');
    await publish('1.1.0', 'hooks: {postInstall: {command: rm, args: [templates/app.conf]}}\n');
  });
  after(async () => {
    await fleet?.cli('undeploy', 'cfg').catch(() => undefined);
    if (agent) await eventually(() => servicePid(agent.dataDir, 'cfg') === null, { timeoutMs: 10_000 }).catch(() => undefined);
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('fails the agent at once when a template value is missing, and says which', async () => {
    const id = await deploy('1.0.0', {});
    const s = await failedAgent(id);
    assert.match(s.agents[0]!.reason, /^install failed: 1\.0\.0: templates\/app\.conf: no value for \{\{ port \}\}/);
    // A first deploy has nothing stable to roll back to: it pauses, saying why.
    const paused = await eventually(async () => {
      const r = await rollout(id);
      return r.state === 'paused' ? r : undefined;
    }, { what: 'the rollout paused' });
    assert.match(paused.reason, /^error budget exceeded: 1 failed, budget 0 \(last: c1: install failed: 1\.0\.0: templates\/app\.conf: no value for \{\{ port \}\}.*\); nothing stable to roll back to$/);
    const view = await fleet.cli('deployment', 'status', 'cfg', '-o', 'json');
    assert.equal(view.code, 0, view.stderr);
    const status = JSON.parse(view.stdout) as { agents: { service: { lastError: string } | null }[] };
    assert.match(status.agents[0]?.service?.lastError ?? '', /no value for \{\{ port \}\}/);

    // The value given, the next revision installs: the stale failure of the first one does not count against it.
    const fixed = await deploy('1.0.0', { port: '8125' });
    await eventually(async () => (await rollout(fixed)).state === 'succeeded', { timeoutMs: 60_000, what: 'the fixed revision to succeed' });
    assert.equal(readFileSync(join(agent.dataDir, 'services', 'cfg', 'current', 'app.conf'), 'utf8'), 'port=8125\n');
  });

  it('fails the agent at once when a template file is not in the package, and rolls back to the stable revision', async () => {
    const pid = servicePid(agent.dataDir, 'cfg');
    assert.ok(pid !== null);
    const id = await deploy('1.1.0', { port: '8125' });
    const s = await failedAgent(id);
    assert.match(s.agents[0]!.reason, /^install failed: 1\.1\.0: config\.files\[0\]\.template: "templates\/app\.conf" is missing from the package/);
    await eventually(async () => {
      const list = (await fleet.api<{ rollouts: { kind: string; state: string }[] }>('GET', '/api/v1/rollouts?deployment=cfg')).body.rollouts;
      return list[0]?.kind === 'rollback' && list[0].state === 'succeeded';
    }, { timeoutMs: 60_000, what: 'the automatic rollback to succeed' });
    assert.match(readlinkSync(join(agent.dataDir, 'services', 'cfg', 'current')), /1\.0\.0-/);
    assert.equal(servicePid(agent.dataDir, 'cfg'), pid, 'the running service was left alone');
  });
});
