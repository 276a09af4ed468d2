/**
 * `corral server install` / `uninstall` end to end, through the real built
 * CLI. systemd cannot run here, so `systemctl` is a fake on PATH that records
 * its arguments and `--systemd-run-dir` points systemd detection at a temp
 * dir; `--user root` avoids creating a user. What systemd would run is then
 * run for real: the ExecStart line parsed back from the written unit, with
 * the env file's variables, must serve, with the secret given to install
 * (the metrics token) in force although it is nowhere on the command line.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CORRAL_BIN, runCorral } from '../../src/testkit/processes.js';
import { eventually } from '../../src/testkit/eventually.js';
import { parseExecStart, unitSetting } from '../../src/systemd/index.js';
import { parseEnvAssignments } from '../../src/server/install/index.js';

const METRICS_TOKEN = 'metrics-e2e-0123456789abcdef';

describe('corral server install / uninstall', { concurrency: false }, () => {
  let root: string;
  let fakeBin: string;
  let systemctlLog: string;
  let runDir: string;
  let server: ChildProcess | undefined;

  const paths = () => ({
    unitDir: join(root, 'units'),
    unit: join(root, 'units', 'corral-server.service'),
    envFile: join(root, 'etc', 'corral', 'server.env'),
    dataDir: join(root, 'data'),
  });
  const corral = (...args: string[]) => runCorral(args, { PATH: `${fakeBin}:${process.env.PATH ?? ''}` });
  const systemctlCalls = () => (existsSync(systemctlLog) ? readFileSync(systemctlLog, 'utf8').trim().split('\n').filter(Boolean) : []);

  before(() => {
    root = mkdtempSync(join(tmpdir(), 'corral-server-install-e2e-'));
    fakeBin = join(root, 'bin');
    systemctlLog = join(root, 'systemctl.log');
    runDir = join(root, 'run', 'systemd', 'system');
    mkdirSync(fakeBin);
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(fakeBin, 'systemctl'), `#!/bin/sh\necho "$*" >> '${systemctlLog}'\n`);
    chmodSync(join(fakeBin, 'systemctl'), 0o755);
  });
  after(() => {
    if (server && server.exitCode === null) server.kill('SIGKILL');
    rmSync(root, { recursive: true, force: true });
  });

  it('puts flags on ExecStart and secrets only in the 0600 env file, and the unit as written serves', async () => {
    const p = paths();
    const r = await corral(
      'server', 'install',
      '--listen', '127.0.0.1:0',
      '--heartbeat', '2',
      '--rollout-defaults', '{"batches":2}',
      '--metrics-token', METRICS_TOKEN,
      '--data-dir', p.dataDir,
      '--user', 'root',
      '--unit-dir', p.unitDir,
      '--environment-file', p.envFile,
      '--systemd-run-dir', runDir,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /wrote .*corral-server\.service/);
    assert.deepEqual(systemctlCalls(), ['daemon-reload', 'enable --now corral-server.service']);

    const unit = readFileSync(p.unit, 'utf8');
    assert.doesNotMatch(unit, new RegExp(METRICS_TOKEN));
    assert.equal(statSync(p.envFile).mode & 0o777, 0o600);
    const env = parseEnvAssignments(readFileSync(p.envFile, 'utf8'));
    assert.equal(env.get('CORRAL_METRICS_TOKEN'), METRICS_TOKEN);
    const argv = parseExecStart(unitSetting(unit, 'ExecStart')!);
    assert.deepEqual(argv, [
      process.execPath, CORRAL_BIN, 'server',
      '--data-dir', p.dataDir,
      '--listen', '127.0.0.1:0',
      '--heartbeat', '2',
      '--rollout-defaults', '{"batches":2}',
    ]);

    // What systemd would start: that argv, from /, with the env file's variables.
    server = spawn(argv[0]!, argv.slice(1), { cwd: '/', env: { PATH: process.env.PATH, ...Object.fromEntries(env) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    server.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    const url = await eventually(() => /listening on (http:\/\/\S+)/.exec(out)?.[1], { timeoutMs: 60_000, what: 'the installed server listening' });
    assert.equal((await fetch(`${url}/metrics`)).status, 401, 'the metrics token from the env file is in force');
    assert.equal((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })).status, 200);
    assert.equal(statSync(p.dataDir).mode & 0o777, 0o700);
    server.kill('SIGTERM');
    await eventually(() => server!.exitCode !== null || server!.signalCode !== null, { timeoutMs: 30_000, what: 'the server stopped' });
  });

  it('keeps the env file on a second install without secrets, then uninstall removes the unit and env file but not the data', async () => {
    const p = paths();
    const again = await corral('server', 'install', '--listen', '127.0.0.1:0', '--data-dir', p.dataDir, '--user', 'root', '--unit-dir', p.unitDir, '--environment-file', p.envFile, '--systemd-run-dir', runDir);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(parseEnvAssignments(readFileSync(p.envFile, 'utf8')).get('CORRAL_METRICS_TOKEN'), METRICS_TOKEN);
    assert.deepEqual(systemctlCalls().slice(-2), ['enable corral-server.service', 'restart corral-server.service']);

    const u = await corral('server', 'uninstall', '--unit-dir', p.unitDir, '--systemd-run-dir', runDir);
    assert.equal(u.code, 0, u.stderr);
    assert.deepEqual(systemctlCalls().slice(-2), ['disable --now corral-server.service', 'daemon-reload']);
    assert.equal(existsSync(p.unit), false);
    assert.equal(existsSync(p.envFile), false);
    assert.equal(existsSync(join(p.dataDir, 'corral.db')), true, 'the store stays');
  });

  it('refuses, before touching anything, what the server itself would refuse', async () => {
    const p = paths();
    const r = await corral('server', 'install', '--tls-cert', '/etc/cert.pem', '--data-dir', p.dataDir, '--unit-dir', p.unitDir, '--environment-file', p.envFile, '--systemd-run-dir', runDir);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /--tls-key/);
    assert.equal(existsSync(p.unit), false);
  });
});
