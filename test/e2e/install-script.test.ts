/**
 * The one-line host install, for real: a TLS server (a test CA) with agent
 * packages built by `npm run build:agent`, and the script it serves at
 * /install.sh piped from curl into sh, installing into a throwaway root
 * (--prefix, --data-dir, --unit-dir, --env-file; a fake `systemctl` and
 * systemd run dir, since systemd does not run here). The test starts the
 * agent the way the unit's ExecStart says, and it comes online. A tampered
 * download is refused and leaves nothing; running the script again upgrades
 * in place; --uninstall leaves the root as it was. The token never appears
 * in the script's output. The same one-liner with wget, on a PATH that has
 * no curl (only the tools the script needs), installs too; and with
 * --single-executable it installs the corral-agent-sea package, whose unit
 * runs the executable alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { Fleet, type AgentSummaryJson } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { TestCa } from '../../src/testkit/test-ca.js';
import { HOST_ARCH, buildAgent } from '../../src/testkit/agent-build.js';
import { CorralProcess } from '../../src/testkit/processes.js';
import { fetchWithCa } from '../../src/cli/ca-fetch.js';
import { parseExecStart, unitSetting, unitSettings } from '../../src/agent/install/systemd-unit.js';

/** Every path under dir, relative, with a type mark (what --uninstall must restore). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const s = statSync(p, { throwIfNoEntry: false });
      out.push(`${relative(dir, p)}${s?.isDirectory() ? '/' : ''}`);
      if (s?.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

describe('the one-line install script', { concurrency: false }, () => {
  let work: string;
  let root: string;
  /** The root before the first install (a host's standard directories). */
  let hostTree: string[] = [];
  let fleet: Fleet;
  let ca: TestCa;
  let caPem: string;
  let installCommand = '';
  let token = '';
  let fingerprint = '';
  let agent: CorralProcess | null = null;
  const prefix = () => join(root, 'opt', 'corral');
  const dataDir = () => join(root, 'var', 'lib', 'corral-agent');
  const unitDir = () => join(root, 'etc', 'systemd', 'system');
  const envFile = () => join(root, 'etc', 'corral', 'agent.env');
  const fakeBin = () => join(work, 'fakebin');
  const runDir = () => join(work, 'run-systemd');

  const cli = (...args: string[]) => fleet.cli(...args, '--ca-file', ca.caFile);
  const agents = async (): Promise<AgentSummaryJson[]> => {
    const res = await fetchWithCa(`${fleet.url}/api/v1/agents?selector=`, { headers: { authorization: `Bearer ${fleet.adminToken}` } }, caPem);
    return ((await res.json()) as { agents: AgentSummaryJson[] }).agents;
  };

  /**
   * `curl -fsSL URL/install.sh | sh -s -- ARGS`, as an operator pastes it; with `wget`,
   * `wget -qO- URL/install.sh | sh -s -- ARGS` on the PATH given.
   */
  function runScript(args: string[], opts: { wget?: boolean; path?: string } = {}): Promise<{ code: number | null; out: string }> {
    const quoted = args.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
    const line = opts.wget
      ? `wget -qO- --ca-certificate='${ca.caFile}' '${fleet.url}/install.sh' | sh -s -- ${quoted}`
      : `curl -fsSL --cacert '${ca.caFile}' '${fleet.url}/install.sh' | sh -s -- ${quoted}`;
    return new Promise((resolve) => {
      const PATH = opts.path ?? `${fakeBin()}:${process.env.PATH ?? ''}`;
      const p = spawn('/bin/sh', ['-c', line], { env: { ...process.env, PATH, CORRAL_TOKEN: undefined }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 180_000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
  }
  const installArgs = () => [
    '--server', fleet.url, '--token', token, '--fingerprint', fingerprint, '--ca-file', ca.caFile,
    '--prefix', prefix(), '--data-dir', dataDir(), '--unit-dir', unitDir(), '--env-file', envFile(), '--systemd-run-dir', runDir(),
    '--label', 'site=test', '--name', 'installed-1',
  ];

  /** Starts the agent as systemd would from the unit: ExecStart, Environment=, EnvironmentFile=. */
  async function startFromUnit(): Promise<CorralProcess> {
    const unit = await readFile(join(unitDir(), 'corral-agent.service'), 'utf8');
    const argv = parseExecStart(unitSetting(unit, 'ExecStart')!);
    const env: Record<string, string> = {};
    for (const e of unitSettings(unit, 'Environment')) env[e.slice(0, e.indexOf('='))] = e.slice(e.indexOf('=') + 1);
    for (const l of (await readFile(unitSetting(unit, 'EnvironmentFile')!.replace(/^-/, ''), 'utf8')).split('\n')) {
      if (l.includes('=')) env[l.slice(0, l.indexOf('='))] = l.slice(l.indexOf('=') + 1);
    }
    // No service manager here: the agent must not wait for systemd to restart it.
    delete env.CORRAL_AGENT_SUPERVISOR;
    return new CorralProcess(argv.slice(1), env, [], { launch: { command: argv[0]!, args: [] } });
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-install-e2e-'));
    root = join(work, 'root');
    // The directories every host has: uninstall must leave them, and remove what it created.
    for (const dir of [['etc', 'systemd', 'system'], ['opt'], ['var', 'lib']]) await mkdir(join(root, ...dir), { recursive: true });
    hostTree = tree(root);
    await mkdir(fakeBin());
    await mkdir(runDir());
    await writeFile(join(fakeBin(), 'systemctl'), `#!/bin/sh\necho "systemctl $*" >> '${join(work, 'systemctl.log')}'\n`);
    chmodSync(join(fakeBin(), 'systemctl'), 0o755);
    ca = await TestCa.create(work);
    caPem = await ca.caPem;
    const cert = await ca.issue('server');
    // The builds first: they load the machine more than anything else here.
    for (const version of ['1.0.0-inst', '1.0.1-inst']) {
      await buildAgent({ outDir: join(work, version), version, sea: version === '1.0.1-inst' });
    }
    fleet = await Fleet.start({ extraServerArgs: ['--tls-cert', cert.certFile, '--tls-key', cert.keyFile] });
    const pushed = await cli('package', 'push', join(work, '1.0.0-inst', 'corral-agent-1.0.0-inst-linux-amd64.tar.gz'));
    assert.equal(pushed.code, 0, pushed.stderr);
    // A service package: what an enrollment token must not download.
    await mkdir(join(work, 'svc'));
    await writeFile(join(work, 'svc', 'corral.yaml'), 'apiVersion: corral.io/v1\nname: svc\nversion: 1.0.0\nrun: {command: sleep, args: ["1000"]}\n');
    const built = await fleet.cli('package', 'build', join(work, 'svc'), '--out', join(work, 'svc.tar.gz'));
    assert.equal(built.code, 0, built.stderr);
    const svcPushed = await cli('package', 'push', join(work, 'svc.tar.gz'));
    assert.equal(svcPushed.code, 0, svcPushed.stderr);
    const created = await cli('token', 'create', '--name', 'hosts', '--label', 'env=prod', '-o', 'json');
    assert.equal(created.code, 0, created.stderr);
    const body = JSON.parse(created.stdout) as { token: string; installCommand: string; signingKeyFingerprint: string };
    ({ token, installCommand, signingKeyFingerprint: fingerprint } = body);
  });

  after(async () => {
    await agent?.stop();
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('token create prints the one-liner with the server, the token and the signing key fingerprint', async () => {
    const key = await fetchWithCa(`${fleet.url}/api/v1/signing-key`, { headers: { authorization: `Bearer ${fleet.adminToken}` } }, caPem);
    assert.equal(((await key.json()) as { fingerprint: string }).fingerprint, fingerprint);
    assert.match(fingerprint, /^SHA256:[A-Za-z0-9+/]{43}$/);
    assert.equal(installCommand, `curl -fsSL ${fleet.url}/install.sh | sudo sh -s -- --server ${fleet.url} --token ${token} --fingerprint ${fingerprint}`);
    const script = await fetchWithCa(`${fleet.url}/install.sh`, {}, caPem);
    assert.equal(script.status, 200, 'the script needs no token');
    assert.match(await script.text(), /^#!\/bin\/sh/);
  });

  it('lets the enrollment token download agent packages only', async () => {
    const list = await fetchWithCa(`${fleet.url}/api/v1/packages`, { headers: { authorization: `Bearer ${fleet.adminToken}` } }, caPem);
    const pkgs = ((await list.json()) as { packages: { name: string; sha256: string }[] }).packages;
    const get = (sha256: string, bearer: string) => fetchWithCa(`${fleet.url}/api/v1/artifacts/${sha256}`, { method: 'HEAD', headers: { authorization: `Bearer ${bearer}` } }, caPem);
    assert.equal((await get(pkgs.find((p) => p.name === 'corral-agent')!.sha256, token)).status, 200);
    assert.equal((await get(pkgs.find((p) => p.name === 'svc')!.sha256, token)).status, 403);
    assert.equal((await get(pkgs.find((p) => p.name === 'corral-agent')!.sha256, 'corral_enroll_not_a_real_token_000000')).status, 401);
    const noToken = await fetchWithCa(`${fleet.url}/api/v1/install/agent?os=linux&arch=amd64`, {}, caPem);
    assert.equal(noToken.status, 401);
  });

  it('refuses a tampered download, and leaves nothing installed', async () => {
    const before = tree(root);
    const info = await fetchWithCa(`${fleet.url}/api/v1/install/agent?os=linux&arch=amd64`, { headers: { authorization: `Bearer ${token}` } }, caPem);
    assert.equal(info.status, 200);
    const sha256 = /^sha256=(\w+)$/m.exec(await info.text())![1]!;
    const stored = join(fleet.root, 'server', 'artifacts', sha256);
    await copyFile(stored, join(work, 'artifact.orig'));
    const bytes = readFileSync(stored);
    const at = bytes.length - 100;
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0xff, at);
    await writeFile(stored, bytes);
    try {
      const r = await runScript(installArgs());
      assert.notEqual(r.code, 0, r.out);
      assert.match(r.out, /does not carry a valid signature of the key SHA256:\S+: refusing it; nothing was installed/);
      assert.ok(!r.out.includes(token), 'the token is never printed');
    } finally {
      await copyFile(join(work, 'artifact.orig'), stored);
    }
    assert.deepEqual(tree(root), before, 'nothing was installed');
  });

  it('refuses a fingerprint that is not the server key, and plain http:// without --insecure', async () => {
    const wrong = installArgs().map((a) => (a === fingerprint ? 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' : a));
    const r = await runScript(wrong);
    assert.notEqual(r.code, 0);
    assert.match(r.out, /not the SHA256:AAAA\S+ this command pins: refusing/);
    const http = await runScript(installArgs().map((a) => (a === fleet.url ? fleet.url.replace('https://', 'http://') : a)));
    assert.notEqual(http.code, 0);
    assert.match(http.out, /refusing plain http:\/\//);
    assert.ok(!existsSync(prefix()));
  });

  it('installs the agent with its node runtime and a unit; started as the unit says, it comes online', async () => {
    const r = await runScript(installArgs());
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.out.includes(token), 'the token is never printed');
    assert.match(r.out, /signature verified/);
    assert.ok(existsSync(join(prefix(), 'node', 'bin', 'node')));
    assert.equal(statSync(envFile()).mode & 0o777, 0o600);
    const unit = await readFile(join(unitDir(), 'corral-agent.service'), 'utf8');
    assert.ok(unitSetting(unit, 'ExecStart')!.startsWith(join(prefix(), 'node', 'bin', 'node')), unit);
    agent = await startFromUnit();
    const seen = await eventually(async () => (await agents()).find((a) => a.name === 'installed-1' && a.status === 'online'), { timeoutMs: 60_000, what: 'the installed agent online' });
    assert.equal(seen.agentVersion, '1.0.0-inst');
    assert.deepEqual(seen.boundLabels, { env: 'prod' });
    assert.equal(seen.claimedLabels.site, 'test');
  });

  it('upgrades in place when run again', async () => {
    const pushed = await cli('package', 'push', join(work, '1.0.1-inst', 'corral-agent-1.0.1-inst-linux-amd64.tar.gz'));
    assert.equal(pushed.code, 0, pushed.stderr);
    const r = await runScript(installArgs());
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(readdirSync(join(prefix(), 'versions')), ['1.0.1-inst']);
    // systemd would restart the unit: do what it would.
    await agent?.stop();
    agent = await startFromUnit();
    const id = (JSON.parse(await readFile(join(dataDir(), 'identity.json'), 'utf8')) as { instanceUid: string }).instanceUid;
    await eventually(async () => (await agents()).find((a) => a.id === id && a.status === 'online' && a.agentVersion === '1.0.1-inst'), { timeoutMs: 60_000, what: 'the same agent online on 1.0.1-inst' });
  });

  it('--uninstall removes everything it created', async () => {
    await agent?.stop();
    agent = null;
    const r = await runScript(['--uninstall', '--prefix', prefix()]);
    assert.equal(r.code, 0, r.out);
    assert.deepEqual(tree(root), hostTree, 'the root is as it was');
  });
  it('installs with wget where there is no curl', async () => {
    // Only what the script runs (and the fake systemctl): no curl.
    const bin = join(work, 'wget-only-bin');
    await mkdir(bin);
    const tools = ['sh', 'wget', 'openssl', 'tar', 'gzip', 'uname', 'mktemp', 'sed', 'head', 'wc', 'tr', 'cut', 'awk', 'grep', 'mkdir', 'chmod', 'rm', 'mv', 'cp', 'ln', 'ls', 'dirname', 'rmdir', 'cat'];
    for (const tool of tools) {
      const at = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((f) => existsSync(f));
      assert.ok(at, `${tool} is on this machine`);
      symlinkSync(at, join(bin, tool));
    }
    symlinkSync(join(fakeBin(), 'systemctl'), join(bin, 'systemctl'));
    assert.ok(!existsSync(join(bin, 'curl')));
    const r = await runScript(installArgs(), { wget: true, path: bin });
    assert.equal(r.code, 0, r.out);
    assert.ok(!r.out.includes(token), 'the token is never printed');
    assert.match(r.out, /signature verified/);
    assert.deepEqual(readdirSync(join(prefix(), 'versions')), ['1.0.1-inst']);
    agent = await startFromUnit();
    await eventually(async () => (await agents()).find((a) => a.name === 'installed-1' && a.status === 'online' && a.agentVersion === '1.0.1-inst'), {
      timeoutMs: 60_000,
      what: 'the agent installed with wget online',
    });
    await agent.stop();
    agent = null;
    const u = await runScript(['--uninstall', '--prefix', prefix()], { wget: true, path: bin });
    assert.equal(u.code, 0, u.out);
    assert.deepEqual(tree(root), hostTree, 'the root is as it was');
  });
  it('--single-executable installs the single executable package; its unit runs it alone, and it comes online', async () => {
    const pushed = await cli('package', 'push', join(work, '1.0.1-inst', `corral-agent-sea-1.0.1-inst-linux-${HOST_ARCH}.tar.gz`));
    assert.equal(pushed.code, 0, pushed.stderr);
    const r = await runScript([...installArgs(), '--single-executable']);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /corral-agent-sea 1\.0\.1-inst/);
    assert.ok(!existsSync(join(prefix(), 'node')), 'no node runtime beside a single executable');
    assert.ok(statSync(join(prefix(), 'versions', '1.0.1-inst', 'bin', 'corral-agent')).mode & 0o100);
    const unit = await readFile(join(unitDir(), 'corral-agent.service'), 'utf8');
    assert.equal(parseExecStart(unitSetting(unit, 'ExecStart')!).slice(0, 2).join(' '), `${join(dataDir(), 'agent-current', 'bin', 'corral-agent')} agent`);
    agent = await startFromUnit();
    await eventually(async () => (await agents()).find((a) => a.name === 'installed-1' && a.status === 'online' && a.agentVersion === '1.0.1-inst'), {
      timeoutMs: 60_000,
      what: 'the single executable online',
    });
    await agent.stop();
    agent = null;
    const u = await runScript(['--uninstall', '--prefix', prefix()]);
    assert.equal(u.code, 0, u.out);
    assert.deepEqual(tree(root), hostTree, 'the root is as it was');
  });
});
