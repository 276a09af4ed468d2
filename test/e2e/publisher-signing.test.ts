/**
 * Publisher signatures end to end: a publisher signs a package with their
 * own ed25519 key (made by openssl, kept off the server), the real CLI
 * pushes the signature along, and an agent whose local policy pins that
 * key installs it, while refusing an unsigned package and one signed by
 * another key, whatever the server (which signs everything it stores) says.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { processAlive, servicePid } from '../../src/testkit/process-alive.js';

interface StatusRow {
  service: { healthy: boolean; status: string; lastError: string } | null;
}

describe('publisher signatures', { concurrency: false }, () => {
  let fleet: Fleet;
  let pinned: TestAgent;
  let publisherKey: string;
  let otherKey: string;

  const status = async (name: string) => (await fleet.api<{ agents: StatusRow[] }>('GET', `/api/v1/deployments/${name}/status`)).body.agents[0]?.service ?? null;

  async function build(name: string): Promise<string> {
    const dir = join(fleet.root, `pkg-${name}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), `apiVersion: corral.io/v1\nname: ${name}\nversion: 1.0.0\nrun: {command: /bin/sleep, args: ["600"]}\n`);
    const out = join(fleet.root, `${name}-1.0.0.tar.gz`);
    const built = await fleet.cli('package', 'build', dir, '--out', out);
    assert.equal(built.code, 0, built.stderr);
    return out;
  }

  async function pushAndDeploy(file: string, name: string): Promise<void> {
    const pushed = await fleet.cli('package', 'push', file);
    assert.equal(pushed.code, 0, pushed.stderr);
    const deployed = await fleet.cli('deploy', name, '--package', `${name}@1.0.0`, '-s', 'role=pinned');
    assert.equal(deployed.code, 0, deployed.stderr);
  }

  before(async () => {
    fleet = await Fleet.start();
    publisherKey = join(fleet.root, 'publisher.pem');
    otherKey = join(fleet.root, 'other.pem');
    for (const key of [publisherKey, otherKey]) execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key]);
    const publicPem = execFileSync('openssl', ['pkey', '-in', publisherKey, '-pubout'], { encoding: 'utf8' });
    const policy = join(fleet.root, 'policy.yaml');
    await writeFile(policy, `version: 1\npackages:\n  publisherKeys:\n    - |\n${publicPem.trim().split('\n').map((l) => `      ${l}`).join('\n')}\n`);
    pinned = await fleet.startAgent({ name: 'pinned', labels: { role: 'pinned' }, extraArgs: ['--policy', policy] });
    await fleet.awaitAgent(pinned, (a) => a.status === 'online');
  });
  after(async () => {
    const pid = pinned ? servicePid(pinned.dataDir, 'signed') : null;
    await fleet?.close();
    if (pid !== null) {
      process.kill(-pid, 'SIGKILL');
      await eventually(() => !processAlive(pid), { what: 'the test service gone' });
    }
  });

  it('installs a package its pinned publisher signed', async () => {
    const file = await build('signed');
    const signed = await fleet.cli('package', 'sign', '--key', publisherKey, file);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /BEGIN PUBLIC KEY/);
    const sha256 = createHash('sha256').update(await readFile(file)).digest('hex');
    assert.match(await readFile(`${file}.sig`, 'utf8'), /^[0-9a-f]{128}\n$/);
    await pushAndDeploy(file, 'signed');
    const list = await fleet.api<{ packages: { sha256: string; publisherSignature: string | null }[] }>('GET', '/api/v1/packages?name=signed');
    assert.equal(list.body.packages[0]!.sha256, sha256);
    assert.equal(list.body.packages[0]!.publisherSignature, (await readFile(`${file}.sig`, 'utf8')).trim());
    await eventually(async () => (await status('signed'))?.healthy === true, { timeoutMs: 30_000, what: 'the signed package running' });
  });

  it('refuses a package the server signed but no publisher did, and one signed by another key', async () => {
    await pushAndDeploy(await build('unsigned'), 'unsigned');
    const unsigned = await eventually(async () => {
      const s = await status('unsigned');
      return s?.lastError ? s : undefined;
    }, { timeoutMs: 30_000, what: 'the unsigned package refused' });
    assert.match(unsigned.lastError, /unsigned@1.0.0 is not signed by a publisher, and this agent's policy \(.*policy\.yaml\) pins publisher keys/);
    assert.equal(servicePid(pinned.dataDir, 'unsigned'), null, 'nothing runs');

    const forged = await build('forged');
    assert.equal((await fleet.cli('package', 'sign', '--key', otherKey, forged)).code, 0);
    await pushAndDeploy(forged, 'forged');
    const refused = await eventually(async () => {
      const s = await status('forged');
      return s?.lastError ? s : undefined;
    }, { timeoutMs: 30_000, what: 'the package signed by another key refused' });
    assert.match(refused.lastError, /forged@1.0.0: its publisher signature is not from any key this agent's policy .* pins/);
    assert.equal(servicePid(pinned.dataDir, 'forged'), null, 'nothing runs');
  });

  it('refuses an agent upgrade no pinned publisher signed, and keeps running', async () => {
    const dir = join(fleet.root, 'agent-unsigned');
    await mkdir(join(dir, 'dist', 'bin'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), 'apiVersion: corral.io/v1\nkind: agent\nname: corral-agent\nversion: 9.9.9-unsigned\nplatforms: [{os: linux, arch: any}]\nagent: {entry: dist/bin/corral.js}\n');
    await writeFile(join(dir, 'dist', 'bin', 'corral.js'), "console.error('should never run'); process.exit(3);\n");
    const file = join(fleet.root, 'agent-unsigned.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', file)).code, 0);
    assert.equal((await fleet.cli('package', 'push', file)).code, 0);
    const before = (await fleet.listAgents()).find((a) => a.name === 'pinned')!.agentVersion;
    assert.equal((await fleet.cli('deploy', 'agent-upgrade', '--package', 'corral-agent@9.9.9-unsigned', '-s', 'role=pinned')).code, 0);
    const a = await fleet.awaitAgent(pinned, (x) => x.agentPackage?.status === 'install-failed', 30_000);
    assert.match(a.agentPackage!.error, /corral-agent@9\.9\.9-unsigned is not signed by a publisher/);
    assert.equal(a.agentVersion, before);
    assert.equal(a.status, 'online');
    assert.equal((await fleet.cli('undeploy', 'agent-upgrade')).code, 0);
  });

  it('refuses a signature that is not a signature, at push', async () => {
    const file = await build('garbled');
    await writeFile(`${file}.sig`, 'not-hex\n');
    const pushed = await fleet.cli('package', 'push', file);
    assert.equal(pushed.code, 1);
    assert.match(pushed.stderr, /x-corral-publisher-signature: expected an ed25519 signature as 128 hex digits/);
  });
});
