import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AgentInstallError,
  assertRoot,
  compileAgentInstallOptions,
  installAgentService,
  uninstallAgentService,
  type AgentInstallOptions,
  type InstallDeps,
} from './install.js';
import { parseExecStart, unitSetting, unitSettings } from './systemd-unit.js';
import { AGENT_NODE_FLAGS } from '../node-flags.js';

let root: string;
let calls: string[][];
let lines: string[];
let failOn: string | null;

const deps = (): InstallDeps => ({
  run: async (command, args) => {
    calls.push([command, ...args]);
    return args[0] === failOn ? { code: 1, stdout: '', stderr: 'Failed to do it' } : { code: 0, stdout: '', stderr: '' };
  },
  out: (l) => lines.push(l),
  uid: 1000,
});

const options = (over: Partial<AgentInstallOptions> = {}): AgentInstallOptions => ({
  server: 'http://corral:4320',
  token: 'corral_enroll_secret123',
  dataDir: join(root, 'data'),
  agentArgs: ['--label', 'env=prod'],
  unitDir: join(root, 'units'),
  envFile: join(root, 'etc', 'agent.env'),
  nodePath: '/usr/bin/node',
  script: '/opt/corral/dist/bin/corral.js',
  systemdRunDir: join(root, 'run-systemd'),
  ...over,
});

const unitPath = () => join(root, 'units', 'corral-agent.service');
const envPath = () => join(root, 'etc', 'agent.env');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'corral-install-'));
  mkdirSync(join(root, 'run-systemd'));
  mkdirSync(join(root, 'units'));
  calls = [];
  lines = [];
  failOn = null;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('compileAgentInstallOptions', () => {
  it('defaults the unit name, data dir and env file, and needs root only for the system unit dir', () => {
    const c = compileAgentInstallOptions({ server: 'http://c:1', nodePath: '/usr/bin/node', script: '/x/corral.js' });
    assert.equal(c.unitName, 'corral-agent.service');
    assert.equal(c.unitPath, '/etc/systemd/system/corral-agent.service');
    assert.equal(c.envFile, '/etc/corral/agent.env');
    assert.equal(c.dataDir, '/var/lib/corral-agent');
    assert.equal(c.requiresRoot, true);
    assert.equal(compileAgentInstallOptions(options()).requiresRoot, false);
  });

  it('runs a single executable as itself through the launch link: no node, no node flags, no script', () => {
    const c = compileAgentInstallOptions(options({ singleExecutable: true, script: '/opt/corral/versions/1.0.0/bin/corral-agent', packageRoot: '/opt/corral/versions/1.0.0' }));
    const argv = parseExecStart(unitSetting(c.unit, 'ExecStart')!);
    assert.deepEqual(argv.slice(0, 2), [join(root, 'data', 'agent-current', 'bin', 'corral-agent'), 'agent']);
    assert.ok(!argv.includes('/usr/bin/node') && !argv.some((a) => AGENT_NODE_FLAGS.includes(a)), argv.join(' '));
    assert.equal(c.packageRoot, '/opt/corral/versions/1.0.0');
  });

  it('gives a second unit its own env file so two agents do not share a token file', () => {
    const c = compileAgentInstallOptions({ server: 'http://c:1', unitName: 'corral-agent-b', nodePath: '/usr/bin/node', script: '/x/corral.js' });
    assert.equal(c.envFile, '/etc/corral/corral-agent-b.env');
  });

  it('makes a relative data dir absolute, since systemd starts the agent in /', () => {
    const c = compileAgentInstallOptions(options({ dataDir: 'rel/data' }));
    const argv = parseExecStart(unitSetting(c.unit, 'ExecStart')!);
    assert.equal(argv[argv.indexOf('--data-dir') + 1], join(process.cwd(), 'rel/data'));
  });

  it('refuses a missing server, a bad unit name and a relative env file, naming the flag', () => {
    assert.throws(() => compileAgentInstallOptions(options({ server: '' })), /--server/);
    assert.throws(() => compileAgentInstallOptions(options({ unitName: 'a/b' })), /--unit-name/);
    assert.throws(() => compileAgentInstallOptions(options({ envFile: 'agent.env' })), /--environment-file/);
  });
});

describe('assertRoot', () => {
  it('requires root for the system unit dir unless it is a dry run', () => {
    assert.throws(
      () => assertRoot({ dryRun: false, requiresRoot: true }, 1000, 'corral agent install'),
      (e: AgentInstallError) => e.code === 'ROOT_REQUIRED' && /sudo/.test(e.message) && /--dry-run/.test(e.message),
    );
    assertRoot({ dryRun: true, requiresRoot: true }, 1000, 'x');
    assertRoot({ dryRun: false, requiresRoot: false }, 1000, 'x');
    assertRoot({ dryRun: false, requiresRoot: true }, 0, 'x');
  });
});

describe('installAgentService', () => {
  it('writes the unit 0644 and the token only to a 0600 env file, then reloads and enables --now', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    const unit = readFileSync(unitPath(), 'utf8');
    assert.equal(statSync(unitPath()).mode & 0o777, 0o644);
    assert.equal(statSync(envPath()).mode & 0o777, 0o600);
    assert.doesNotMatch(unit, /secret123/);
    assert.match(readFileSync(envPath(), 'utf8'), /^CORRAL_TOKEN=corral_enroll_secret123$/m);
    assert.equal(unitSetting(unit, 'EnvironmentFile'), `-${envPath()}`);
    assert.deepEqual(calls, [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'corral-agent.service'],
    ]);
  });

  it('replaces an existing unit atomically, says so, and restarts the agent so new flags apply', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    calls = [];
    lines = [];
    await installAgentService(compileAgentInstallOptions(options({ agentArgs: ['--label', 'env=staging'] })), deps());
    assert.match(readFileSync(unitPath(), 'utf8'), /env=staging/);
    assert.ok(lines.some((l) => /replaced the existing/.test(l)), lines.join('\n'));
    assert.deepEqual(calls.slice(1), [
      ['systemctl', 'enable', 'corral-agent.service'],
      ['systemctl', 'restart', 'corral-agent.service'],
    ]);
    assert.deepEqual(readdirSync(join(root, 'units')), ['corral-agent.service'], 'no temp file left behind');
  });

  it('only enables with start=false, and keeps an existing env file when no token is given', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    calls = [];
    await installAgentService(compileAgentInstallOptions(options({ token: undefined, start: false })), deps());
    assert.match(readFileSync(envPath(), 'utf8'), /secret123/);
    assert.deepEqual(calls, [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'corral-agent.service'],
    ]);
  });

  it('runs the agent through <data>/agent-current, pointed at the corral being installed, and tells it systemd restarts it', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    const link = join(root, 'data', 'agent-current');
    assert.equal(readlinkSync(link), '/opt/corral');
    assert.equal(statSync(join(root, 'data')).mode & 0o777, 0o700, 'a data dir it creates is private');
    const unit = readFileSync(unitPath(), 'utf8');
    const argv = parseExecStart(unitSetting(unit, 'ExecStart')!);
    assert.deepEqual(argv.slice(1, 1 + AGENT_NODE_FLAGS.length), [...AGENT_NODE_FLAGS], 'the agent node flags');
    assert.equal(argv[1 + AGENT_NODE_FLAGS.length], join(link, 'dist', 'bin', 'corral.js'));
    assert.deepEqual(unitSettings(unit, 'Environment'), ['CORRAL_AGENT_SUPERVISOR=systemd', 'CORRAL_AGENT_UNIT=corral-agent.service']);
  });

  it('re-points an existing link when installed again from another corral, and refuses a data dir entry that is not a link', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    lines = [];
    await installAgentService(compileAgentInstallOptions(options({ script: '/srv/corral-2/dist/bin/corral.js' })), deps());
    assert.equal(readlinkSync(join(root, 'data', 'agent-current')), '/srv/corral-2');
    assert.ok(lines.some((l) => /pointed .*agent-current at \/srv\/corral-2 \(was \/opt\/corral\)/.test(l)), lines.join('\n'));
    assert.deepEqual(readdirSync(join(root, 'data')), ['agent-current'], 'no temp link left behind');

    rmSync(join(root, 'data', 'agent-current'));
    mkdirSync(join(root, 'data', 'agent-current'));
    await assert.rejects(
      installAgentService(compileAgentInstallOptions(options()), deps()),
      (e: AgentInstallError) => e.code === 'INVALID_ARGUMENT' && /is not a symlink/.test(e.message),
    );
    assert.ok(lstatSync(join(root, 'data', 'agent-current')).isDirectory());
  });

  it('takes an explicit package root and refuses a script outside it', () => {
    const c = compileAgentInstallOptions(options({ script: '/usr/lib/node_modules/corral/dist/bin/corral.js', packageRoot: '/usr/lib/node_modules/corral' }));
    assert.equal(c.packageRoot, '/usr/lib/node_modules/corral');
    assert.throws(() => compileAgentInstallOptions(options({ packageRoot: '/elsewhere' })), /not inside the package root/);
    // An unpacked agent version installs like a checkout.
    assert.equal(compileAgentInstallOptions(options({ script: join(root, 'v', 'dist', 'bin', 'corral.js') })).packageRoot, join(root, 'v'));
  });

  it('touches nothing on a dry run, prints the unit and redacts the token', async () => {
    await installAgentService(compileAgentInstallOptions(options({ dryRun: true })), deps());
    assert.equal(existsSync(unitPath()), false);
    assert.equal(existsSync(envPath()), false);
    assert.deepEqual(calls, []);
    const out = lines.join('\n');
    assert.match(out, /KillMode=process/);
    assert.match(out, /CORRAL_TOKEN=corral_enroll_\.\.\. \(redacted\)/);
    assert.doesNotMatch(out, /secret123/);
    assert.match(out, /\$ systemctl enable --now corral-agent\.service/);
    assert.match(out, /agent-current -> \/opt\/corral/);
    assert.equal(existsSync(join(root, 'data')), false);
  });

  it('fails with the fallback doc where systemd is not running', async () => {
    rmSync(join(root, 'run-systemd'), { recursive: true });
    await assert.rejects(
      installAgentService(compileAgentInstallOptions(options()), deps()),
      (e: AgentInstallError) => e.code === 'SYSTEMD_NOT_FOUND' && /docs\/agent-install\.md/.test(e.message),
    );
    assert.equal(existsSync(unitPath()), false);
  });

  it('reports a failing systemctl with its stderr', async () => {
    failOn = 'enable';
    await assert.rejects(
      installAgentService(compileAgentInstallOptions(options()), deps()),
      (e: AgentInstallError) => e.code === 'SYSTEMCTL_FAILED' && /enable --now corral-agent\.service exited with 1: Failed to do it/.test(e.message),
    );
  });
});

describe('uninstallAgentService', () => {
  const uninstall = (over: Parameters<typeof uninstallAgentService>[0] = {}) =>
    uninstallAgentService({ unitDir: join(root, 'units'), systemdRunDir: join(root, 'run-systemd'), ...over }, deps());

  it('disables and stops, removes the unit and env file, reloads, and keeps the data dir', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    calls = [];
    await uninstall();
    assert.deepEqual(calls, [
      ['systemctl', 'disable', '--now', 'corral-agent.service'],
      ['systemctl', 'daemon-reload'],
    ]);
    assert.equal(existsSync(unitPath()), false);
    assert.equal(existsSync(envPath()), false);
    assert.equal(existsSync(join(root, 'data')), true);
  });

  it('removes the data dir named in the unit with purge', async () => {
    await installAgentService(compileAgentInstallOptions(options()), deps());
    await uninstall({ purge: true });
    assert.equal(existsSync(join(root, 'data')), false);
  });

  it('says there is nothing to do when the unit is absent', async () => {
    await uninstall();
    assert.deepEqual(calls, []);
    assert.match(lines.join('\n'), /nothing to uninstall/);
  });

  it('refuses to remove a unit it did not write', async () => {
    writeFileSync(unitPath(), '[Service]\nExecStart=/bin/true\n');
    await assert.rejects(uninstall(), (e: AgentInstallError) => e.code === 'NOT_OURS');
    assert.equal(existsSync(unitPath()), true);
  });
});

