/**
 * Artifact access, attacked with a real agent's credential against a real
 * server: an agent downloads only the artifacts currently offered to it
 * (its deployments' packages, its own upgrade package); anything else is
 * 403 whether or not it exists. The admin token downloads anything.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';

async function credentialOf(agent: TestAgent): Promise<string> {
  return eventually(
    async () => (JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string | null }).credential ?? undefined,
    { what: `${agent.name} credential` },
  );
}

describe('artifact downloads are limited to what is offered to the agent', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';
  let a: TestAgent;
  let b: TestAgent;
  let sha256 = '';

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-artifact-access-'));
    a = await fleet.startAgent({ name: 'a-1', labels: { role: 'a' } });
    b = await fleet.startAgent({ name: 'b-1', labels: { role: 'b' } });
    for (const x of [a, b]) await fleet.awaitAgent(x, (s) => s.status === 'online');
    const dir = join(work, 'secret-tool');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: secret-tool\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
    const out = join(work, 'secret-tool.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.api<{ packages: { sha256: string }[] }>('GET', '/api/v1/packages?name=secret-tool');
    assert.equal(pushed.body.packages.length, 0);
    assert.equal((await fleet.cli('package', 'push', out)).code, 0);
    sha256 = (await fleet.api<{ packages: { sha256: string }[] }>('GET', '/api/v1/packages?name=secret-tool')).body.packages[0]!.sha256;
    const deployed = await fleet.cli('deploy', 'secret', '--package', 'secret-tool@1.0.0', '-s', 'role=b');
    assert.equal(deployed.code, 0, deployed.stderr);
  });
  after(async () => {
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const download = (token: string, sha = sha256) => fetch(`${fleet.url}/api/v1/artifacts/${sha}`, { headers: { authorization: `Bearer ${token}` } });

  it("refuses agent A's credential a package offered only to agent B; B and the admin token download it", async () => {
    const credentialB = await credentialOf(b);
    await eventually(async () => (await download(credentialB)).status === 200, { what: 'agent B may download its package' });

    const refused = await download(await credentialOf(a));
    assert.equal(refused.status, 403);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ARTIFACT_NOT_OFFERED');
    assert.match(body.error.message, new RegExp(`${sha256} is not offered to agent`));
    // The same answer for an artifact that does not exist: no oracle for which ones do.
    assert.equal((await download(await credentialOf(a), 'f'.repeat(64))).status, 403);

    const admin = await download(fleet.adminToken);
    assert.equal(admin.status, 200);
    assert.equal(Buffer.from(await admin.arrayBuffer()).length > 0, true);
  });

  it('lets an agent download a package as soon as it is offered to it, and not after it is withdrawn', async () => {
    const credentialA = await credentialOf(a);
    const label = await fleet.cli('label', (await a.instanceUid()).slice(-12), 'role=b');
    assert.equal(label.code, 0, label.stderr);
    await eventually(async () => (await download(credentialA)).status === 200, { what: 'agent A may download once it matches' });
    assert.equal((await fleet.cli('undeploy', 'secret')).code, 0);
    await eventually(async () => (await download(credentialA)).status === 403, { what: 'refused once the deployment is gone' });
  });
});
