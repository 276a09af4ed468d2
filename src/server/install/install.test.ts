import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ServerInstallError, compileServerInstallOptions, installServerService, uninstallServerService, type ServerInstallDeps, type ServerInstallOptions } from './install.js';
import { envAssignment, parseEnvAssignments, renderServerEnvFile, stateDirectoryOf } from './server-unit.js';
import { parseExecStart, unitSetting } from '../../systemd/index.js';
import { requirement } from '../../testkit/requirement.js';

/** The corral.js a real install would name (built by `npm test` before the tests run). */
const REAL_SCRIPT = fileURLToPath(new URL('../../../dist/bin/corral.js', import.meta.url));

let root: string;
let calls: string[][];
let lines: string[];
let existingUsers: Set<string>;
let failOn: string | null;

const deps = (): ServerInstallDeps => ({
  run: async (command, args) => {
    calls.push([command, ...args]);
    if (command === 'id') return existingUsers.has(args.at(-1)!) ? { code: 0, stdout: '999\n', stderr: '' } : { code: 1, stdout: '', stderr: 'no such user' };
    if (command === 'useradd') existingUsers.add(args.at(-1)!);
    return args[0] === failOn || command === failOn ? { code: 1, stdout: '', stderr: 'Failed to do it' } : { code: 0, stdout: '', stderr: '' };
  },
  out: (l) => lines.push(l),
  uid: 1000,
});

const options = (over: Partial<ServerInstallOptions> = {}): ServerInstallOptions => ({
  dataDir: join(root, 'data'),
  serverArgs: ['--listen', '0.0.0.0:4320'],
  listen: '0.0.0.0:4320',
  unitDir: join(root, 'units'),
  envFile: join(root, 'etc', 'server.env'),
  nodePath: '/usr/bin/node',
  script: '/usr/lib/node_modules/corral/dist/bin/corral.js',
  systemdRunDir: join(root, 'run-systemd'),
  ...over,
});

const unitPath = () => join(root, 'units', 'corral-server.service');
const envPath = () => join(root, 'etc', 'server.env');
const systemctlCalls = () => calls.filter((c) => c[0] === 'systemctl');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'corral-server-install-'));
  mkdirSync(join(root, 'run-systemd'));
  calls = [];
  lines = [];
  existingUsers = new Set(['root']);
  failOn = null;
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('compileServerInstallOptions', () => {
  it('defaults to /var/lib/corral as StateDirectory, user corral, /etc/corral/server.env, and needs root only for the system unit dir', () => {
    const c = compileServerInstallOptions({ nodePath: '/usr/bin/node', script: '/x/dist/bin/corral.js' });
    assert.equal(c.unitPath, '/etc/systemd/system/corral-server.service');
    assert.equal(c.envFile, '/etc/corral/server.env');
    assert.equal(c.dataDir, '/var/lib/corral');
    assert.equal(c.user, 'corral');
    assert.equal(c.requiresRoot, true);
    assert.equal(c.createDataDir, false, 'systemd creates a StateDirectory');
    assert.equal(unitSetting(c.unit, 'StateDirectory'), 'corral');
    assert.equal(unitSetting(c.unit, 'StateDirectoryMode'), '0700');
    assert.equal(unitSetting(c.unit, 'User'), 'corral');
    assert.equal(unitSetting(c.unit, 'ReadWritePaths'), undefined);
    assert.deepEqual(parseExecStart(unitSetting(c.unit, 'ExecStart')!), ['/usr/bin/node', '/x/dist/bin/corral.js', 'server', '--data-dir', '/var/lib/corral']);
    assert.equal(compileServerInstallOptions(options()).requiresRoot, false);
  });

  it('sandboxes the server: no capabilities, read-only system, private /tmp and devices, umask 077', () => {
    const unit = compileServerInstallOptions(options()).unit;
    for (const [k, v] of [
      ['NoNewPrivileges', 'yes'],
      ['CapabilityBoundingSet', ''],
      ['ProtectSystem', 'strict'],
      ['ProtectHome', 'yes'],
      ['PrivateTmp', 'yes'],
      ['PrivateDevices', 'yes'],
      ['UMask', '0077'],
      ['RestrictAddressFamilies', 'AF_UNIX AF_INET AF_INET6'],
      ['SystemCallFilter', '@system-service'],
      ['Restart', 'always'],
    ]) {
      assert.equal(unitSetting(unit, k!), v, k);
    }
    assert.equal(unitSetting(unit, 'MemoryDenyWriteExecute'), undefined, "V8's JIT needs W+X memory");
    assert.equal(unitSetting(unit, 'ReadWritePaths'), join(root, 'data'), 'a data dir outside /var/lib is the writable path');
  });

  it('keeps CAP_NET_BIND_SERVICE only for a port below 1024, and makes home dirs read-only when node lives there', () => {
    const low = compileServerInstallOptions(options({ listen: '0.0.0.0:443' })).unit;
    assert.equal(unitSetting(low, 'CapabilityBoundingSet'), 'CAP_NET_BIND_SERVICE');
    assert.equal(unitSetting(low, 'AmbientCapabilities'), 'CAP_NET_BIND_SERVICE');
    assert.equal(unitSetting(compileServerInstallOptions(options({ listen: '[::]:4320' })).unit, 'AmbientCapabilities'), undefined);
    const nvm = compileServerInstallOptions(options({ nodePath: '/home/ops/.nvm/versions/node/v20/bin/node' }));
    assert.equal(unitSetting(nvm.unit, 'ProtectHome'), 'read-only');
    assert.deepEqual(nvm.homePaths, ['/home/ops/.nvm/versions/node/v20/bin/node']);
  });

  it('runs as root without User= when asked, and refuses bad names, a relative env file and secrets on the command line', () => {
    const c = compileServerInstallOptions(options({ user: 'root' }));
    assert.equal(c.user, null);
    assert.equal(unitSetting(c.unit, 'User'), undefined);
    assert.throws(() => compileServerInstallOptions(options({ user: 'Bad User' })), /--user/);
    assert.throws(() => compileServerInstallOptions(options({ unitName: 'a/b' })), /--unit-name/);
    assert.throws(() => compileServerInstallOptions(options({ envFile: 'server.env' })), /--environment-file/);
    assert.throws(() => compileServerInstallOptions(options({ dataDir: '/' })), /--data-dir/);
    assert.throws(() => compileServerInstallOptions(options({ serverArgs: ['--database', 'postgres://u:p@h/db'] })), /EnvironmentFile/);
    assert.throws(() => compileServerInstallOptions(options({ serverArgs: ['--metrics-token=abc'] })), /EnvironmentFile/);
    assert.throws(() => compileServerInstallOptions(options({ secrets: { PATH: '/tmp' } })), /not a server secret/);
  });

  it('uses StateDirectory only for a plain path under /var/lib', () => {
    assert.equal(stateDirectoryOf('/var/lib/corral'), 'corral');
    assert.equal(stateDirectoryOf('/var/lib/corral/prod'), 'corral/prod');
    assert.equal(stateDirectoryOf('/var/lib'), null);
    assert.equal(stateDirectoryOf('/srv/corral'), null);
    assert.equal(stateDirectoryOf('/var/lib/a b'), null);
  });
});

describe('the env file', () => {
  it('reads back exactly what it wrote, quoting what systemd would otherwise change', () => {
    const vars = new Map([
      ['CORRAL_DATABASE', 'postgres://corral:p@ss w$rd#1"x\\y@db:5432/corral'],
      ['CORRAL_METRICS_TOKEN', 'abcdefghijklmnop'],
    ]);
    const text = renderServerEnvFile(vars, 'corral-server.service');
    assert.deepEqual(parseEnvAssignments(text), vars);
    assert.match(text, /^CORRAL_DATABASE='postgres:\/\/corral:p@ss w\$rd#1"x\\y@db:5432\/corral'$/m);
    assert.match(text, /^#CORRAL_TLS_CERT=$/m, 'the others are listed, commented out, with nothing to uncomment by mistake');
  });

  it('refuses a value it cannot write literally', () => {
    assert.throws(() => envAssignment('CORRAL_DATABASE', "postgres://u:it's@h/db"), /single quote/);
    assert.throws(() => envAssignment('CORRAL_DATABASE', 'a\nb'), /line break/);
  });
});

describe('installServerService', () => {
  it('creates the user, writes the unit 0644 and secrets only to a 0600 env file, then reloads and enables --now', async () => {
    await installServerService(compileServerInstallOptions(options({ secrets: { CORRAL_DATABASE: 'postgres://corral:s3cret@db/corral' } })), deps());
    const unit = readFileSync(unitPath(), 'utf8');
    assert.equal(statSync(unitPath()).mode & 0o777, 0o644);
    assert.equal(statSync(envPath()).mode & 0o777, 0o600);
    assert.doesNotMatch(unit, /s3cret/);
    assert.equal(parseEnvAssignments(readFileSync(envPath(), 'utf8')).get('CORRAL_DATABASE'), 'postgres://corral:s3cret@db/corral');
    assert.equal(unitSetting(unit, 'EnvironmentFile'), `-${envPath()}`);
    assert.deepEqual(calls, [
      ['id', '-u', 'corral'],
      ['useradd', '--system', '--user-group', '--home-dir', join(root, 'data'), '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'Corral server', 'corral'],
      ['chown', 'corral:corral', join(root, 'data')],
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', '--now', 'corral-server.service'],
    ]);
    assert.equal(statSync(join(root, 'data')).mode & 0o777, 0o700);
    assert.ok(lines.some((l) => /admin token/.test(l) && /journalctl/.test(l)), 'says where the first-start tokens went');
  });

  it('replaces the unit on a second run, keeps the user and the env file variables not given again, and restarts', async () => {
    await installServerService(compileServerInstallOptions(options({ secrets: { CORRAL_DATABASE: 'postgres://a@db/x' } })), deps());
    calls = [];
    lines = [];
    await installServerService(compileServerInstallOptions(options({ serverArgs: ['--listen', '0.0.0.0:4321'], secrets: { CORRAL_METRICS_TOKEN: 'tok-0123456789abcdef' } })), deps());
    const env = parseEnvAssignments(readFileSync(envPath(), 'utf8'));
    assert.equal(env.get('CORRAL_DATABASE'), 'postgres://a@db/x', 'kept');
    assert.equal(env.get('CORRAL_METRICS_TOKEN'), 'tok-0123456789abcdef', 'added');
    assert.match(readFileSync(unitPath(), 'utf8'), /0\.0\.0\.0:4321/);
    assert.ok(lines.some((l) => /replaced the existing/.test(l)), lines.join('\n'));
    assert.equal(calls.filter((c) => c[0] === 'useradd').length, 0, 'the user exists now');
    assert.deepEqual(systemctlCalls(), [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'corral-server.service'],
      ['systemctl', 'restart', 'corral-server.service'],
    ]);
    assert.deepEqual(readdirSync(join(root, 'units')), ['corral-server.service'], 'no temp file left behind');
  });

  it('only enables with start=false, and neither creates a user nor chowns when running as root', async () => {
    await installServerService(compileServerInstallOptions(options({ user: 'root', start: false })), deps());
    assert.deepEqual(calls, [
      ['systemctl', 'daemon-reload'],
      ['systemctl', 'enable', 'corral-server.service'],
    ]);
  });

  it('touches nothing on a dry run, prints the unit and redacts the secrets', async () => {
    await installServerService(compileServerInstallOptions(options({ dryRun: true, secrets: { CORRAL_DATABASE: 'postgres://corral:s3cret@db/corral' } })), deps());
    assert.equal(existsSync(unitPath()), false);
    assert.equal(existsSync(envPath()), false);
    assert.equal(existsSync(join(root, 'data')), false);
    assert.deepEqual(calls, []);
    const out = lines.join('\n');
    assert.match(out, /ProtectSystem=strict/);
    assert.match(out, /CORRAL_DATABASE=\.\.\. \(redacted\)/);
    assert.doesNotMatch(out, /s3cret/);
    assert.match(out, /\$ useradd --system/);
    assert.match(out, /\$ systemctl enable --now corral-server\.service/);
  });

  it('refuses without systemd (a dry run still prints, with a note) and without root for the system unit dir', async () => {
    rmSync(join(root, 'run-systemd'), { recursive: true });
    await assert.rejects(installServerService(compileServerInstallOptions(options()), deps()), (e: ServerInstallError) => e.code === 'SYSTEMD_NOT_FOUND' && /server-install\.md/.test(e.message));
    await installServerService(compileServerInstallOptions(options({ dryRun: true })), deps());
    assert.match(lines.join('\n'), /# note: systemd is not the init system/);
    mkdirSync(join(root, 'run-systemd'));
    await assert.rejects(
      installServerService(compileServerInstallOptions(options({ unitDir: '/etc/systemd/system' })), deps()),
      (e: ServerInstallError) => e.code === 'ROOT_REQUIRED' && /--dry-run/.test(e.message),
    );
    assert.equal(existsSync(unitPath()), false);
  });

  it('reports a failing command with its stderr', async () => {
    failOn = 'useradd';
    await assert.rejects(
      installServerService(compileServerInstallOptions(options()), deps()),
      (e: ServerInstallError) => e.code === 'COMMAND_FAILED' && /useradd .* exited with 1: Failed to do it/.test(e.message),
    );
    assert.equal(existsSync(unitPath()), false, 'no unit for a user that does not exist');
  });

  it('writes a unit that passes systemd-analyze verify, naming the real corral.js and node', async (t) => {
    if (!requirement(t, spawnSync('systemd-analyze', ['--version']).status === 0, 'systemd-analyze is not installed')) return;
    if (!requirement(t, existsSync(REAL_SCRIPT), `${REAL_SCRIPT} is not built (npm test builds it)`)) return;
    for (const over of [{}, { user: 'root', listen: '0.0.0.0:443', dataDir: '/var/lib/corral' }, { listen: '0.0.0.0:443' }] as Partial<ServerInstallOptions>[]) {
      rmSync(join(root, 'units'), { recursive: true, force: true });
      const opts = options({
        nodePath: process.execPath,
        script: REAL_SCRIPT,
        serverArgs: ['--listen', over.listen ?? '0.0.0.0:4320', '--rollout-defaults', '{"batches":4,"maxInFlight":"10%"}', '--public-url', 'https://corral.example.com'],
        ...over,
      });
      await installServerService(compileServerInstallOptions({ ...opts, start: false }), deps());
      const r = spawnSync('systemd-analyze', ['verify', '--man=no', unitPath()], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.doesNotMatch(r.stderr, /corral-server\.service/, `${JSON.stringify(over)}: ${r.stderr}`);
      assert.deepEqual(parseExecStart(unitSetting(readFileSync(unitPath(), 'utf8'), 'ExecStart')!).slice(0, 3), [process.execPath, REAL_SCRIPT, 'server']);
    }
  });
});

describe('uninstallServerService', () => {
  const uninstall = (over: Parameters<typeof uninstallServerService>[0] = {}) =>
    uninstallServerService({ unitDir: join(root, 'units'), systemdRunDir: join(root, 'run-systemd'), ...over }, deps());

  it('disables and stops, removes the unit and env file, reloads, keeps the data dir and the user', async () => {
    await installServerService(compileServerInstallOptions(options()), deps());
    writeFileSync(join(root, 'data', 'corral.db'), 'x');
    calls = [];
    lines = [];
    await uninstall();
    assert.deepEqual(calls, [
      ['systemctl', 'disable', '--now', 'corral-server.service'],
      ['systemctl', 'daemon-reload'],
    ]);
    assert.equal(existsSync(unitPath()), false);
    assert.equal(existsSync(envPath()), false);
    assert.equal(existsSync(join(root, 'data', 'corral.db')), true);
    assert.ok(lines.some((l) => /kept the user corral/.test(l)), lines.join('\n'));
  });

  it('removes the data dir named in the unit with purge, and previews it on a dry run', async () => {
    await installServerService(compileServerInstallOptions(options()), deps());
    lines = [];
    await uninstall({ purge: true, dryRun: true });
    assert.ok(lines.includes(`would remove ${join(root, 'data')}`), lines.join('\n'));
    assert.equal(existsSync(join(root, 'data')), true);
    await uninstall({ purge: true });
    assert.equal(existsSync(join(root, 'data')), false);
  });

  it('says there is nothing to do when the unit is absent, and refuses a unit it did not write', async () => {
    mkdirSync(join(root, 'units'));
    await uninstall();
    assert.deepEqual(calls, []);
    assert.match(lines.join('\n'), /nothing to uninstall/);
    writeFileSync(unitPath(), '[Service]\nExecStart=/bin/true\n');
    await assert.rejects(uninstall(), (e: ServerInstallError) => e.code === 'NOT_OURS');
    assert.equal(existsSync(unitPath()), true);
  });
});
