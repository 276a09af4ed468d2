/**
 * The agent upgrades itself, end to end: a real server, a real agent started
 * from this checkout with a real service running under it, then
 * (a) a good agent package built by `npm run package:agent` is deployed: the
 *     agent comes back reporting the new version and the service was not
 *     restarted;
 * (b) a package whose agent crashes on start is deployed: the watcher
 *     reverts, the agent comes back on its previous version reporting
 *     INSTALL_FAILED with the reason, the service is still the same process,
 *     and nothing of the bad version is left running.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type AgentSummaryJson, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { deployTicker, publishAgentVersions } from '../../src/testkit/upgrade-fixtures.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';
import { pidsMentioning } from '../../src/testkit/proc-scan.js';
import { AGENT_NODE_FLAGS } from '../../src/agent/index.js';

/** The node flags (before the script) of the one process running from `dir`. */
function nodeFlagsOfAgentIn(dir: string): string[] {
  const pids = pidsMentioning(dir);
  assert.equal(pids.length, 1, `one process runs from ${dir}`);
  const argv = readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8').split('\0');
  return argv.slice(1, argv.findIndex((arg) => arg.includes(dir)));
}

describe('agent self-upgrade', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let agent: TestAgent;
  let servicePidBefore: number;

  const servicePid = (): number | null => servicePidOf(agent.dataDir, 'ticker');
  const upgradeLogs = () =>
    ['watcher.log', 'agent.log']
      .map((f) => {
        const p = join(agent.dataDir, 'agent-upgrade', f);
        return existsSync(p) ? `--- ${f}:\n${readFileSync(p, 'utf8').slice(-3000)}` : `--- ${f}: (none)`;
      })
      .join('\n');
  const awaitAgent = async (check: (a: AgentSummaryJson) => boolean, what: string) => {
    try {
      return await fleet.awaitAgent(agent, check, 90_000);
    } catch (e) {
      throw new Error(`${what}: ${(e as Error).message}\n${upgradeLogs()}`);
    }
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-upgrade-e2e-'));
    fleet = await Fleet.start();
    agent = await fleet.startAgent({ name: 'host-1', labels: { env: 'prod' }, extraArgs: ['--upgrade-grace', '30'] });
    await fleet.awaitAgent(agent, (a) => a.status === 'online');

    // A real service first: it must survive both upgrades untouched.
    servicePidBefore = await deployTicker(fleet, work, servicePid);
    await publishAgentVersions(fleet, work);
  });

  after(async () => {
    // Services outlive agents by design: stop them through the server first.
    await fleet?.cli('undeploy', 'ticker').catch(() => undefined);
    await eventually(() => servicePid() === null, { timeoutMs: 15_000 }).catch(() => undefined);
    // Agents started by the watcher are not the test's children: find them by their data dir.
    if (agent) {
      for (const pid of pidsMentioning(agent.dataDir)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('upgrades to a good version: reconnects reporting it, the service is not restarted', async () => {
    const res = await fleet.cli('deploy', 'agent-upgrade', '--package', 'corral-agent@9.9.9-good', '-s', 'env=prod');
    assert.equal(res.code, 0, res.stderr);
    const a = await awaitAgent(
      (x) => x.status === 'online' && x.agentVersion === '9.9.9-good' && x.agentPackage?.status === 'installed',
      'agent on 9.9.9-good',
    );
    assert.deepEqual(a.agentPackage, { version: '9.9.9-good', offeredVersion: '9.9.9-good', status: 'installed', error: '', downloadPercent: null });
    await agent.process.exited;
    assert.equal(agent.process.exitCode, 0, 'the old agent handed over and exited cleanly');
    await eventually(() => !existsSync(join(agent.dataDir, 'agent-upgrade', 'handover.json')), { timeoutMs: 10_000, what: 'the watcher to finish' });
    assert.equal(servicePid(), servicePidBefore, 'the service kept running as the same process');
    assert.equal(pidsMentioning(join(agent.dataDir, 'agent-versions', '9.9.9-good')).length, 1, 'exactly one new agent runs');
    assert.deepEqual(nodeFlagsOfAgentIn(join(agent.dataDir, 'agent-versions', '9.9.9-good')), AGENT_NODE_FLAGS, 'the new agent runs with the node flags the old one had');
    // It went out as a rollout like any change, and counted as healthy once the agent ran the new version.
    const rollout = await eventually(async () => {
      const r = (await fleet.api<{ state: string; totals: { healthy: number } }>('GET', '/api/v1/rollouts/agent-upgrade')).body;
      return r.state === 'succeeded' ? r : undefined;
    }, { timeoutMs: 20_000, what: 'the upgrade rollout to succeed' });
    assert.equal(rollout.totals.healthy, 1);
  });

  it('reverts a version that crashes on start, reports INSTALL_FAILED, and leaves the service alone', async () => {
    const res = await fleet.cli('deploy', 'agent-upgrade', '--package', 'corral-agent@9.9.9-bad', '-s', 'env=prod');
    assert.equal(res.code, 0, res.stderr);
    const a = await awaitAgent(
      (x) => x.status === 'online' && x.agentVersion === '9.9.9-good' && x.agentPackage?.status === 'install-failed',
      'agent reverted to 9.9.9-good',
    );
    assert.equal(a.agentPackage?.offeredVersion, '9.9.9-bad');
    assert.match(a.agentPackage?.error ?? '', /upgrade to 9\.9\.9-bad reverted: the new agent exited 3 times within 60 s \(last: exit code 3\)/);
    await eventually(() => !existsSync(join(agent.dataDir, 'agent-upgrade', 'handover.json')), { timeoutMs: 10_000, what: 'the watcher to finish' });
    assert.deepEqual(pidsMentioning(join(agent.dataDir, 'agent-versions', '9.9.9-bad')), [], 'nothing of the bad version runs');
    assert.equal(pidsMentioning(join(agent.dataDir, 'agent-versions', '9.9.9-good')).length, 1, 'the previous version runs again, once');
    assert.deepEqual(nodeFlagsOfAgentIn(join(agent.dataDir, 'agent-versions', '9.9.9-good')), AGENT_NODE_FLAGS, 'and with its node flags');
    assert.equal(servicePid(), servicePidBefore, 'the service kept running as the same process');
    assert.ok(existsSync(join(agent.dataDir, 'agent-versions', '9.9.9-good')), 'the running version stays on disk');
    // The rollout saw the failed upgrade and stopped (this fleet's policy pauses on failure).
    const rollout = await eventually(async () => {
      const r = (await fleet.api<{ state: string; reason: string; agents: { state: string; reason: string }[] }>('GET', '/api/v1/rollouts/agent-upgrade?agents=true')).body;
      return r.state === 'paused' ? r : undefined;
    }, { timeoutMs: 20_000, what: 'the upgrade rollout to stop' });
    assert.match(rollout.reason, /error budget exceeded: 1 failed/);
    assert.equal(rollout.agents[0]?.state, 'failed');
    assert.match(rollout.agents[0]?.reason ?? '', /upgrade to 9\.9\.9-bad reverted/);
    // Resuming accepts the failure: the rollout finishes, but its revision does not become stable.
    const before = (await fleet.api<{ stableRevision: number }>('GET', '/api/v1/deployments/agent-upgrade')).body.stableRevision;
    const resumed = await fleet.cli('rollout', 'resume', 'agent-upgrade');
    assert.equal(resumed.code, 0, resumed.stderr);
    const finished = await eventually(async () => {
      const r = (await fleet.api<{ state: string; reason: string; errorBudget: { forgiven: number } }>('GET', '/api/v1/rollouts/agent-upgrade')).body;
      return r.state === 'succeeded' ? r : undefined;
    }, { timeoutMs: 20_000, what: 'the resumed rollout to finish' });
    assert.equal(finished.errorBudget.forgiven, 1);
    assert.match(finished.reason, /not marked stable/);
    assert.equal((await fleet.api<{ stableRevision: number }>('GET', '/api/v1/deployments/agent-upgrade')).body.stableRevision, before);
  });
});
