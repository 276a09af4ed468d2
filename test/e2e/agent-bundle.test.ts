/**
 * The self-contained agent builds (`npm run build:agent`) do what today's
 * agent does, end to end against a real server: the esbuild bundle (run by
 * node with the agent's node flags) and the single executable (run alone)
 * each enroll and then connect on their own credential, report the version
 * they were built with, and run a deployed service. Each then upgrades itself
 * through the ordinary self-upgrade path, the service untouched: the bundle
 * to a bundle package (`--no-runtime`), the single executable to a single
 * executable package (corral-agent-sea), which the watcher starts as is.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { HOST_ARCH, agentLaunch, buildAgent, type AgentBuild } from '../../src/testkit/agent-build.js';
import { deployTicker } from '../../src/testkit/upgrade-fixtures.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';
import { pidsMentioning } from '../../src/testkit/proc-scan.js';

const BUILT_VERSION = '7.0.0-bundle';

let work: string;
let builds: string;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'corral-agent-bundle-e2e-'));
  builds = join(work, 'builds');
  await buildAgent({ outDir: builds, version: BUILT_VERSION, sea: true, noPackage: true });
  await buildAgent({ outDir: join(work, 'upgrade'), version: '9.9.9-good', noRuntime: true, sea: true });
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

for (const build of ['bundle', 'sea'] as const satisfies readonly AgentBuild[]) {
  describe(`the ${build} agent`, { concurrency: false }, () => {
    let fleet: Fleet;
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

    before(async () => {
      fleet = await Fleet.start({ agentLaunch: agentLaunch(build, builds) });
      agent = await fleet.startAgent({ name: `${build}-1`, labels: { env: 'prod' }, extraArgs: ['--upgrade-grace', '30'] });
    });

    after(async () => {
      await fleet?.cli('undeploy', 'ticker').catch(() => undefined);
      if (agent) await eventually(() => servicePid() === null, { timeoutMs: 15_000 }).catch(() => undefined);
      // An agent the watcher started is not the test's child: found by its data dir.
      for (const pid of agent ? pidsMentioning(agent.dataDir) : []) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      await fleet?.close();
    });

    it('enrolls, then connects on its own credential, reporting the version it was built as', async () => {
      const seen = await fleet.awaitAgent(agent, (x) => x.status === 'online' && x.kind === 'corral' && x.health?.healthy === true, 60_000);
      assert.equal(seen.agentVersion, BUILT_VERSION);
      await eventually(
        async () => {
          const identity = JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string | null };
          return identity.credential?.startsWith('corral_agent_');
        },
        { timeoutMs: 30_000, what: 'credential persisted' },
      );
      // What runs is the build, not this checkout's dist/.
      const cmdline = readFileSync(`/proc/${agent.process.pid}/cmdline`, 'utf8');
      assert.ok(cmdline.includes(builds), `the agent runs from ${builds}: ${cmdline}`);
      assert.ok(!cmdline.includes(join('dist', 'bin', 'corral.js')) || cmdline.includes(join(builds, 'bundle')));
    });

    it('runs a deployed service', async () => {
      servicePidBefore = await deployTicker(fleet, work + `/${build}`, servicePid);
      await fleet.awaitAgent(agent, (x) => x.status === 'online' && x.health?.healthy === true, 60_000);
    });

    const upgrade = build === 'bundle' ? { name: 'corral-agent', file: 'corral-agent-9.9.9-good-linux-any.tar.gz' } : { name: 'corral-agent-sea', file: `corral-agent-sea-9.9.9-good-linux-${HOST_ARCH}.tar.gz` };
    it(`upgrades itself to a newer ${upgrade.name} package; the service keeps running`, async () => {
      const pushed = await fleet.cli('package', 'push', join(work, 'upgrade', upgrade.file));
      assert.equal(pushed.code, 0, pushed.stderr);
      const res = await fleet.cli('deploy', 'agent-upgrade', '--package', `${upgrade.name}@9.9.9-good`, '-s', 'env=prod');
      assert.equal(res.code, 0, res.stderr);
      let a;
      try {
        a = await fleet.awaitAgent(agent, (x) => x.status === 'online' && x.agentVersion === '9.9.9-good' && x.agentPackage?.status === 'installed', 90_000);
      } catch (e) {
        throw new Error(`${(e as Error).message}\n${upgradeLogs()}`);
      }
      assert.equal(a.agentPackage?.error, '');
      await agent.process.exited;
      assert.equal(agent.process.exitCode, 0, 'the old agent handed over and exited cleanly');
      const running = pidsMentioning(join(agent.dataDir, 'agent-versions', '9.9.9-good'));
      assert.equal(running.length, 1, 'exactly one new agent runs');
      if (build === 'sea') {
        // The new single executable runs as itself: no node, no script.
        const argv0 = readFileSync(`/proc/${running[0]}/cmdline`, 'utf8').split('\0')[0]!;
        assert.equal(argv0, join(agent.dataDir, 'agent-versions', '9.9.9-good', 'bin', 'corral-agent'));
      }
      assert.equal(servicePid(), servicePidBefore, 'the service kept running as the same process');
    });
  });
}
