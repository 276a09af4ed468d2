/**
 * The agent upgrades itself while a service manager runs it, end to end.
 * systemd cannot run in a test container, so `corral agent install` writes
 * its unit into a temp dir and the ServiceHarness (src/testkit) runs that
 * unit as systemd would: ExecStart as written (through
 * `<data>/agent-current`), Restart=always with a short RestartSec,
 * KillMode=process, and a fake `systemctl` on PATH that reaches it. On top,
 * a real server and a real service under the agent; then
 * (a) a good agent package built by scripts/package-agent.mjs is deployed:
 *     the old agent re-points the launch link and exits, the service manager
 *     (not the watcher) starts the new version through the link, it reports
 *     the new version, never two agents at once, the service untouched;
 * (b) a package whose agent crashes on start is deployed: the service
 *     manager restarts it, the watcher counts its exits, points the link back
 *     and restarts the unit; the previous version reports INSTALL_FAILED with
 *     the reason, nothing of the bad version runs, the service untouched.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Fleet, type AgentSummaryJson } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { deployTicker, publishAgentVersions } from '../../src/testkit/upgrade-fixtures.js';
import { processAlive } from '../../src/testkit/process-alive.js';
import { cmdlineOf, parentPidOf, pidsMentioning } from '../../src/testkit/proc-scan.js';
import { runCorral } from '../../src/testkit/processes.js';
import { ServiceHarness } from '../../src/testkit/service-harness.js';

const ROOT = realpathSync(fileURLToPath(new URL('../..', import.meta.url)));



describe('agent self-upgrade under a service manager (systemd unit, Restart=always)', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let dataDir: string;
  let harness: ServiceHarness;
  let systemctlLog: string;
  let agentLog: string;
  let servicePidBefore: number;
  let instanceUid: string;
  // How many agents ran at once, sampled through the whole test, and what the sample that set it saw.
  let maxAgents = 0;
  let maxSeen = '';
  let sampler: NodeJS.Timeout | undefined;

  const link = () => join(dataDir, 'agent-current');
  const launchScript = () => join(link(), 'dist', 'bin', 'corral.js');
  /**
   * Agent processes on this data dir. Not the watcher (`agent watch`), not a process that has exited
   * since the scan (a zombie's command line is empty: a watcher that just finished was counted so
   * under load), and not a child an agent has forked but not yet exec'd (a service, a watcher):
   * until exec it shows its parent's command line.
   */
  const agentPids = () => {
    const pids = pidsMentioning(dataDir).filter((pid) => {
      const argv = cmdlineOf(pid) ?? [];
      const verb = argv.indexOf('agent');
      return verb >= 0 && argv[verb + 1] !== 'watch';
    });
    return pids.filter((pid) => !pids.includes(parentPidOf(pid) ?? -1));
  };
  const servicePid = (): number | null => {
    try {
      const saved = JSON.parse(readFileSync(join(dataDir, 'services', 'ticker', 'pid.json'), 'utf8')) as { pid: number };
      return processAlive(saved.pid) ? saved.pid : null;
    } catch {
      return null;
    }
  };
  const logs = () =>
    [join(dataDir, 'agent-upgrade', 'watcher.log'), agentLog, systemctlLog]
      .map((p) => (existsSync(p) ? `--- ${p}:\n${readFileSync(p, 'utf8').slice(-3000)}` : `--- ${p}: (none)`))
      .join('\n');
  const awaitAgent = async (check: (a: AgentSummaryJson) => boolean, what: string): Promise<AgentSummaryJson> => {
    let last: AgentSummaryJson | undefined;
    try {
      return await eventually(
        async () => {
          last = (await fleet.listAgents()).find((a) => a.id === instanceUid);
          return last && check(last) ? last : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 200, what },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen as ${JSON.stringify(last)}\n${logs()}`);
    }
  };
  const watchDone = () =>
    eventually(() => !existsSync(join(dataDir, 'agent-upgrade', 'handover.json')) && pidsMentioning(join(dataDir, 'agent-upgrade', 'handover.json')).length === 0, {
      timeoutMs: 15_000,
      what: 'the watcher to finish and exit',
    });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-upgrade-systemd-e2e-'));
    dataDir = join(work, 'data');
    const fakeBin = join(work, 'bin');
    await mkdir(fakeBin);
    await mkdir(join(work, 'run-systemd'));
    systemctlLog = join(work, 'systemctl.log');
    agentLog = join(work, 'agent.log');
    const socket = join(work, 'systemd.sock');
    ServiceHarness.writeFakeSystemctl(fakeBin, socket, systemctlLog);
    const PATH = `${fakeBin}:${process.env.PATH ?? '/usr/bin:/bin'}`;

    fleet = await Fleet.start();
    // As an operator would, from this checkout; --no-start: the harness is this test's systemd.
    const installed = await runCorral(
      [
        'agent', 'install',
        '--server', fleet.url,
        // A token bound to env=prod: the deployments below select the agent by that trusted label.
        '--token', await fleet.tokenFor({ env: 'prod' }),
        '--data-dir', dataDir,
        '--name', 'host-1',
        '--upgrade-grace', '30',
        '--unit-dir', join(work, 'units'),
        '--environment-file', join(work, 'agent.env'),
        '--systemd-run-dir', join(work, 'run-systemd'),
        '--no-start',
      ],
      { PATH },
    );
    assert.equal(installed.code, 0, installed.stderr);
    assert.equal(readlinkSync(link()), ROOT, 'the launch link names the corral that ran install');

    harness = await ServiceHarness.start({ unitFile: join(work, 'units', 'corral-agent.service'), logFile: agentLog, restartMs: 300, env: { PATH }, socketPath: socket });
    sampler = setInterval(() => {
      const pids = agentPids();
      if (pids.length <= maxAgents) return;
      maxAgents = pids.length;
      maxSeen = pids.map((pid) => `${pid} (parent ${parentPidOf(pid) ?? '?'}): ${(cmdlineOf(pid) ?? ['(gone)']).join(' ')}`).join('\n');
    }, 100);
    instanceUid = await eventually(() => (JSON.parse(readFileSync(join(dataDir, 'identity.json'), 'utf8')) as { instanceUid: string }).instanceUid, {
      timeoutMs: 20_000,
      what: 'the agent identity',
    });
    const online = await awaitAgent((a) => a.status === 'online', 'the installed agent online');
    assert.equal(online.agentVersion, JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);

    servicePidBefore = await deployTicker(fleet, work, servicePid);
    await publishAgentVersions(fleet, work);
  });

  after(async () => {
    if (sampler) clearInterval(sampler);
    await fleet?.cli('undeploy', 'ticker').catch(() => undefined);
    await eventually(() => servicePid() === null, { timeoutMs: 15_000 }).catch(() => undefined);
    await harness?.stop();
    // A watcher left behind by a failed assertion is not the test's child: find it by the data dir.
    if (dataDir) {
      for (const pid of pidsMentioning(dataDir)) {
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

  it('upgrades to a good version: the service manager starts it through agent-current, one agent at a time, the service untouched', async () => {
    const pidBefore = harness.mainPid;
    const res = await fleet.cli('deploy', 'agent-upgrade', '--package', 'corral-agent@9.9.9-good', '-s', 'env=prod');
    assert.equal(res.code, 0, res.stderr);
    const a = await awaitAgent((x) => x.status === 'online' && x.agentVersion === '9.9.9-good' && x.agentPackage?.status === 'installed', 'the agent on 9.9.9-good');
    assert.deepEqual(a.agentPackage, { version: '9.9.9-good', offeredVersion: '9.9.9-good', status: 'installed', error: '', downloadPercent: null });
    await watchDone();

    assert.equal(readlinkSync(link()), join(dataDir, 'agent-versions', '9.9.9-good'), 'the launch link names the new version');
    const main = harness.mainPid!;
    assert.notEqual(main, pidBefore);
    assert.equal(cmdlineOf(main)?.includes(launchScript()), true, 'the service manager started it through agent-current');
    assert.deepEqual(
      harness.exits.filter((e) => e.pid === pidBefore).map((e) => [e.code, e.signal]),
      [[0, null]],
      'the old agent exited 0 after the handover',
    );
    assert.equal(harness.starts.at(-1)?.how, 'auto-restart', 'Restart=always started the new version, not the watcher or a systemctl restart');
    assert.deepEqual(agentPids(), [main], 'exactly one agent runs, the unit main process (and no watcher is left)');
    assert.equal(maxAgents, 1, `never two agents on the data dir at once; seen:\n${maxSeen}\n${logs()}`);
    assert.equal(servicePid(), servicePidBefore, 'the service kept running as the same process');
  });

  it('reverts a version that crashes on start: back through the restored link, INSTALL_FAILED, the service untouched', async () => {
    const restartsBefore = harness.calls.filter((c) => c.startsWith('restart ')).length;
    const res = await fleet.cli('deploy', 'agent-upgrade', '--package', 'corral-agent@9.9.9-bad', '-s', 'env=prod');
    assert.equal(res.code, 0, res.stderr);
    const a = await awaitAgent(
      (x) => x.status === 'online' && x.agentVersion === '9.9.9-good' && x.agentPackage?.status === 'install-failed',
      'the agent reverted to 9.9.9-good',
    );
    assert.equal(a.agentPackage?.offeredVersion, '9.9.9-bad');
    // More than 2 exits revert; the watcher reads the unit's restart counter when it polls, so on a loaded machine it may see a 4th.
    const reverted = /upgrade to 9\.9\.9-bad reverted: the new agent exited (\d+) times within 60 s \(last: exit code 3\)/.exec(a.agentPackage?.error ?? '');
    assert.ok(reverted && Number(reverted[1]) >= 3, `reverted after 3 or more exits: ${a.agentPackage?.error}`);
    await watchDone();

    assert.equal(readlinkSync(link()), join(dataDir, 'agent-versions', '9.9.9-good'), 'the launch link names the previous version again');
    assert.equal(harness.calls.filter((c) => c === 'restart corral-agent.service').length, restartsBefore + 1, 'the watcher restarted the unit once');
    assert.ok(readFileSync(agentLog, 'utf8').includes('corral 9.9.9-bad: cannot start'), 'the bad version did run (and crash) under the service manager');
    const main = harness.mainPid!;
    assert.equal(cmdlineOf(main)?.includes(launchScript()), true, 'the previous version runs through agent-current');
    assert.deepEqual(agentPids(), [main], 'one agent runs: nothing of the bad version, no watcher');
    assert.equal(maxAgents, 1, `never two agents on the data dir at once; seen:\n${maxSeen}\n${logs()}`);
    assert.equal(servicePid(), servicePidBefore, 'the service kept running as the same process');
    assert.ok(existsSync(join(dataDir, 'agent-versions', '9.9.9-good')), 'the running version stays on disk');
  });
});
