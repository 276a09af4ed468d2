/**
 * The agent on linux/arm64, for real: `npm run build:agent --arch
 * amd64,arm64` builds both platforms from the same source (the arm64 node
 * runtime fetched from the npm registry), with the single executable of
 * each, the server hands each host the package of its own architecture, and the one-line install script on an
 * aarch64 host (a `uname` that says so) installs the arm64 package. That
 * agent, its arm64 node run under qemu-user (qemu-aarch64-static, with the
 * arm64 C libraries of libc6-arm64-cross), enrolls, reports arm64 as its
 * host.arch (the CPU it runs on, as node sees it) and runs a deployed
 * service. .ci/run installs qemu-user-static and those libraries; outside CI
 * the test is skipped without them. qemu-user is slow: one agent, long
 * timeouts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type AgentSummaryJson } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { agentSeaFile, buildAgent } from '../../src/testkit/agent-build.js';
import { CorralProcess } from '../../src/testkit/processes.js';
import { requirement } from '../../src/testkit/requirement.js';
import { deployTicker } from '../../src/testkit/upgrade-fixtures.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';
import { pidsMentioning } from '../../src/testkit/proc-scan.js';
import { AGENT_NODE_FLAGS } from '../../src/agent/node-flags.js';

const QEMU = '/usr/bin/qemu-aarch64-static';
/** Where libc6-arm64-cross (and libstdc++6-, libgcc-s1-arm64-cross) put the arm64 libraries node links to. */
const ARM64_ROOT = '/usr/aarch64-linux-gnu';
const usable = existsSync(QEMU) && existsSync(join(ARM64_ROOT, 'lib', 'ld-linux-aarch64.so.1'));
const WHY = `needs ${QEMU} (apt-get install qemu-user-static) and ${ARM64_ROOT} (libc6-arm64-cross libstdc++6-arm64-cross libgcc-s1-arm64-cross)`;
const VERSION = '2.0.0-arm';

/** The CPU of an ELF file, from e_machine. */
const elfMachine = (file: string) => readFileSync(file).readUInt16LE(18);

describe('the arm64 agent', { concurrency: false }, () => {
  let work: string;
  let fleet: Fleet;
  let token = '';
  let fingerprint = '';
  let agent: CorralProcess | null = null;
  const prefix = () => join(work, 'root', 'opt', 'corral');
  const dataDir = () => join(work, 'root', 'var', 'lib', 'corral-agent');
  const servicePid = () => servicePidOf(dataDir(), 'ticker');

  const agents = async (): Promise<AgentSummaryJson[]> => {
    const res = await fetch(`${fleet.url}/api/v1/agents?selector=`, { headers: { authorization: `Bearer ${fleet.adminToken}` } });
    return ((await res.json()) as { agents: AgentSummaryJson[] }).agents;
  };
  const installInfo = async (arch: string, name = 'corral-agent') => {
    const res = await fetch(`${fleet.url}/api/v1/install/agent?os=linux&arch=${arch}&name=${name}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200, await res.clone().text());
    return Object.fromEntries((await res.text()).trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  };

  before(async () => {
    if (!usable) return;
    work = await mkdtemp(join(tmpdir(), 'corral-arm64-e2e-'));
    await buildAgent({ outDir: join(work, 'build'), version: VERSION, arch: 'amd64,arm64', sea: true });
    fleet = await Fleet.start();
    for (const name of ['corral-agent', 'corral-agent-sea']) {
      for (const arch of ['amd64', 'arm64']) {
        const pushed = await fleet.cli('package', 'push', join(work, 'build', `${name}-${VERSION}-linux-${arch}.tar.gz`));
        assert.equal(pushed.code, 0, pushed.stderr);
      }
    }
    const created = await fleet.cli('token', 'create', '--name', 'arm-hosts', '--label', 'env=prod', '-o', 'json');
    assert.equal(created.code, 0, created.stderr);
    ({ token, signingKeyFingerprint: fingerprint } = JSON.parse(created.stdout) as { token: string; signingKeyFingerprint: string });
  });

  after(async () => {
    if (!usable) return;
    await fleet?.cli('undeploy', 'ticker').catch(() => undefined);
    await eventually(() => servicePid() === null, { timeoutMs: 30_000 }).catch(() => undefined);
    await agent?.stop();
    for (const pid of work ? pidsMentioning(dataDir()) : []) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('builds both platforms from one source, and the server names each host the package of its CPU', async (t) => {
    if (!requirement(t, usable, WHY)) return;
    const arm = await installInfo('arm64');
    const amd = await installInfo('amd64');
    assert.equal(arm.arch, 'arm64');
    assert.equal(amd.arch, 'amd64');
    assert.notEqual(arm.sha256, amd.sha256);
    assert.equal(arm.version, VERSION);
    const armSea = await installInfo('arm64', 'corral-agent-sea');
    assert.equal(armSea.arch, 'arm64');
    assert.notEqual(armSea.sha256, (await installInfo('amd64', 'corral-agent-sea')).sha256);
  });

  it('builds an arm64 single executable that runs under qemu', async (t) => {
    if (!requirement(t, usable, WHY)) return;
    const sea = agentSeaFile(join(work, 'build'), 'arm64');
    assert.equal(elfMachine(sea), 0xb7);
    const r = spawnSync(QEMU, [sea, '--version'], { env: { ...process.env, QEMU_LD_PREFIX: ARM64_ROOT }, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), VERSION);
  });

  it('install.sh on an aarch64 host installs the arm64 agent; run under qemu it enrolls, reports arm64 and runs a deployment', async (t) => {
    if (!requirement(t, usable, WHY)) return;
    // A host whose CPU is aarch64, as far as the script can tell; no systemd (so it runs no arm64 binary itself).
    const fakeBin = join(work, 'fakebin');
    await mkdir(fakeBin);
    await writeFile(join(fakeBin, 'uname'), '#!/bin/sh\nif [ "$1" = -m ]; then echo aarch64; else exec /bin/uname "$@"; fi\n');
    chmodSync(join(fakeBin, 'uname'), 0o755);
    const args = ['--server', fleet.url, '--insecure', '--token', token, '--fingerprint', fingerprint, '--prefix', prefix(), '--data-dir', dataDir(), '--systemd-run-dir', join(work, 'no-systemd'), '--name', 'arm-1'];
    const line = `curl -fsSL '${fleet.url}/install.sh' | sh -s -- ${args.map((a) => `'${a}'`).join(' ')}`;
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const p = spawn('sh', ['-c', line], { env: { ...process.env, PATH: `${fakeBin}:${process.env.PATH ?? ''}` }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => p.kill('SIGKILL'), 180_000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, out });
      });
    });
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /for linux\/arm64/);
    const node = join(prefix(), 'node', 'bin', 'node');
    assert.equal(elfMachine(node), 0xb7, 'the installed node runtime is an arm64 (AArch64) executable');
    const script = join(prefix(), 'current', 'dist', 'bin', 'corral.js');
    assert.ok(r.out.includes(`${node} ${AGENT_NODE_FLAGS.join(' ')} ${script} agent`), `the script prints how to run the agent:\n${r.out}`);

    // What a supervisor would run, with qemu-user in front (binfmt_misc may not be set up here).
    agent = new CorralProcess(
      ['agent', '--server', fleet.url, '--data-dir', dataDir(), '--name', 'arm-1'],
      { CORRAL_TOKEN: token, QEMU_LD_PREFIX: ARM64_ROOT },
      [],
      { launch: { command: QEMU, args: [node, ...AGENT_NODE_FLAGS, script] } },
    );
    let seen: AgentSummaryJson;
    try {
      seen = await eventually(async () => (await agents()).find((a) => a.name === 'arm-1' && a.status === 'online'), { timeoutMs: 240_000, what: 'the arm64 agent online' });
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${agent.stderr.slice(-3000)}`);
    }
    assert.equal(seen.arch, 'arm64');
    assert.equal(seen.agentVersion, VERSION);
    assert.deepEqual(seen.boundLabels, { env: 'prod' });
    await deployTicker(fleet, work, servicePid);
  });
});
