/**
 * `corral agent install` / `uninstall` end to end, through the real built CLI.
 * systemd cannot run in a test container, so `systemctl` is a fake script on
 * PATH that records its arguments, and `--systemd-run-dir` points systemd
 * detection at a temp dir. What systemd would run is then run for real: the
 * ExecStart line parsed back from the written unit, with the env file's token,
 * must bring an agent online against a real server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORRAL_BIN, runCorral } from '../../src/testkit/processes.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { parseExecStart, unitSetting, unitSettings } from '../../src/agent/install/index.js';
import { AGENT_NODE_FLAGS } from '../../src/agent/index.js';

const TRICKY_NAME = 'web 1 "blue" 100% $HOME';

describe('corral agent install / uninstall', { concurrency: false }, () => {
  let root: string;
  let fakeBin: string;
  let systemctlLog: string;
  let runDir: string;

  const paths = () => ({
    unitDir: join(root, 'units'),
    unit: join(root, 'units', 'corral-agent.service'),
    envFile: join(root, 'etc', 'corral', 'agent.env'),
    dataDir: join(root, 'data'),
  });
  const corral = (...args: string[]) => runCorral(args, { PATH: `${fakeBin}:${process.env.PATH ?? ''}` });
  const systemctlCalls = () => (existsSync(systemctlLog) ? readFileSync(systemctlLog, 'utf8').trim().split('\n').filter(Boolean) : []);
  const installArgs = (server: string, token: string) => {
    const p = paths();
    return [
      'agent', 'install',
      '--server', server,
      '--token', token,
      '--data-dir', p.dataDir,
      '--label', 'env=prod',
      '--name', TRICKY_NAME,
      '--unit-dir', p.unitDir,
      '--environment-file', p.envFile,
      '--systemd-run-dir', runDir,
    ];
  };

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'corral-install-e2e-'));
    fakeBin = join(root, 'bin');
    systemctlLog = join(root, 'systemctl.log');
    runDir = join(root, 'run', 'systemd', 'system');
    mkdirSync(fakeBin);
    mkdirSync(runDir, { recursive: true });
    // One line per call: the arguments, space separated (ours never contain spaces).
    writeFileSync(join(fakeBin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${systemctlLog}'\n`);
    chmodSync(join(fakeBin, 'systemctl'), 0o755);
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  it('writes the unit and a 0600 token file, reloads systemd and enables --now; uninstall removes them', async () => {
    const p = paths();
    const r = await corral(...installArgs('http://127.0.0.1:9', 'corral_enroll_e2etoken42'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*corral-agent\.service/);

    const unit = readFileSync(p.unit, 'utf8');
    assert.equal(statSync(p.unit).mode & 0o777, 0o644);
    assert.equal(statSync(p.envFile).mode & 0o777, 0o600);
    assert.deepEqual(parseExecStart(unitSetting(unit, 'ExecStart')!), [
      process.execPath,
      ...AGENT_NODE_FLAGS,
      join(p.dataDir, 'agent-current', 'dist', 'bin', 'corral.js'),
      'agent',
      '--server', 'http://127.0.0.1:9',
      '--data-dir', p.dataDir,
      '--label', 'env=prod',
      '--name', TRICKY_NAME,
    ]);
    // The unit runs the agent through the launch link, pointed at the corral that ran install.
    assert.equal(realpathSync(join(p.dataDir, 'agent-current', 'dist', 'bin', 'corral.js')), realpathSync(CORRAL_BIN));
    assert.deepEqual(unitSettings(unit, 'Environment'), ['CORRAL_AGENT_SUPERVISOR=systemd', 'CORRAL_AGENT_UNIT=corral-agent.service']);
    assert.equal(unitSetting(unit, 'KillMode'), 'process');
    assert.equal(unitSetting(unit, 'Restart'), 'always');
    assert.equal(unitSetting(unit, 'EnvironmentFile'), `-${p.envFile}`);
    assert.doesNotMatch(unit, /e2etoken42/);
    assert.equal(unitSetting(readFileSync(p.envFile, 'utf8'), 'CORRAL_TOKEN'), 'corral_enroll_e2etoken42');
    assert.deepEqual(systemctlCalls(), ['daemon-reload', 'enable --now corral-agent.service']);

    // Installing again replaces the unit and restarts the agent so the new flags apply.
    const again = await corral(...installArgs('http://127.0.0.1:9', 'corral_enroll_e2etoken42'), '--label', 'tier=web');
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /replaced the existing/);
    assert.match(readFileSync(p.unit, 'utf8'), /--label tier=web/);
    assert.deepEqual(systemctlCalls().slice(2), ['daemon-reload', 'enable corral-agent.service', 'restart corral-agent.service']);

    const un = await corral('agent', 'uninstall', '--unit-dir', p.unitDir, '--systemd-run-dir', runDir);
    assert.equal(un.code, 0, un.stderr);
    assert.deepEqual(systemctlCalls().slice(5), ['disable --now corral-agent.service', 'daemon-reload']);
    assert.equal(existsSync(p.unit), false);
    assert.equal(existsSync(p.envFile), false);
    assert.equal(existsSync(p.dataDir), true, 'the data dir stays without --purge');
  });

  it('prints the unit and the commands on --dry-run and touches nothing', async () => {
    const p = paths();
    rmSync(systemctlLog, { force: true });
    const r = await corral(...installArgs('http://127.0.0.1:9', 'corral_enroll_e2etoken42'), '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /KillMode=process/);
    assert.match(r.stdout, /\$ systemctl enable --now corral-agent\.service/);
    assert.doesNotMatch(r.stdout, /e2etoken42/);
    assert.equal(existsSync(p.unit), false);
    assert.deepEqual(systemctlCalls(), []);
  });

  it('renders the unit on --dry-run also where systemd is not the init system, saying so', async () => {
    const args = installArgs('http://127.0.0.1:9', 'corral_enroll_e2etoken42');
    args[args.indexOf('--systemd-run-dir') + 1] = join(root, 'no-systemd-here');
    rmSync(systemctlLog, { force: true });
    const r = await corral(...args, '--dry-run');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ExecStart=.* agent --server http:\/\/127\.0\.0\.1:9 /m);
    assert.match(r.stdout, /# note: systemd is not the init system on this host .*docs\/agent-install\.md/);
    assert.doesNotMatch(r.stdout, /e2etoken42/);
    assert.equal(existsSync(paths().unit), false);
    assert.deepEqual(systemctlCalls(), []);
  });

  it('exits non-zero pointing at the fallback doc where systemd is not the init system', async () => {
    const args = installArgs('http://127.0.0.1:9', 'corral_enroll_e2etoken42');
    args[args.indexOf('--systemd-run-dir') + 1] = join(root, 'no-systemd-here');
    const r = await corral(...args);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /systemd is not the init system/);
    assert.match(r.stderr, /Hosts without systemd.*docs\/agent-install\.md/);
    assert.match(r.stderr, /SYSTEMD_NOT_FOUND/);
    assert.equal(existsSync(paths().unit), false);
  });

  it('refuses an invalid agent flag at install time rather than at the first service start', async () => {
    const r = await corral(...installArgs('http://127.0.0.1:9', 'corral_enroll_e2etoken42'), '--label', 'no-equals');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /--label "no-equals"/);
    assert.equal(existsSync(paths().unit), false);
  });

  describe('the rendered ExecStart, run for real', { concurrency: false }, () => {
    let fleet: Fleet;
    let agent: ChildProcess | undefined;
    let agentStderr = '';

    before(async () => {
      fleet = await Fleet.start();
    });
    after(async () => {
      if (agent && agent.exitCode === null && agent.signalCode === null) {
        const exited = new Promise((r) => agent!.once('exit', r));
        agent.kill('SIGKILL');
        await exited;
      }
      await fleet?.close();
    });

    it('brings an agent online with the token from the env file and the quoted name intact', async () => {
      const p = paths();
      rmSync(p.dataDir, { recursive: true, force: true });
      const r = await corral(...installArgs(fleet.url, fleet.enrollmentToken), '--no-start');
      assert.equal(r.code, 0, r.stderr);
      const argv = parseExecStart(unitSetting(readFileSync(p.unit, 'utf8'), 'ExecStart')!);
      const token = unitSetting(readFileSync(p.envFile, 'utf8'), 'CORRAL_TOKEN')!;
      assert.ok(!argv.includes(fleet.enrollmentToken), 'the token is not on the command line');

      // As systemd would: the unit's argv, a bare environment plus the EnvironmentFile, cwd /.
      agent = spawn(argv[0]!, argv.slice(1), {
        cwd: '/',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', CORRAL_TOKEN: token },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      agent.stderr!.on('data', (d: Buffer) => (agentStderr += d.toString()));

      const seen = await eventually(
        async () => {
          if (agent!.exitCode !== null) throw new Error(`agent exited ${agent!.exitCode}: ${agentStderr.slice(-1500)}`);
          return (await fleet.listAgents()).find((a) => a.status === 'online');
        },
        { timeoutMs: 20_000, what: 'the agent started from ExecStart to come online' },
      );
      assert.equal(seen.name, TRICKY_NAME);
      assert.equal(seen.labels.env, 'prod');
      assert.ok(existsSync(join(p.dataDir, 'identity.json')), 'the agent uses the absolute data dir from the unit');
    });
  });
});
