/**
 * The chained-symlink package, end to end. Each link is harmless on its own
 * (`a/l0 -> ..`, `a/l1 -> l0/..`, …) but together they climb from the
 * unpacked version directory to the agent's data dir; the manifest then
 * renders the agent's 0600 identity file (its credential) into a config
 * file there. The server must refuse it at push; and an agent handed it
 * anyway (by a compromised server that signs it: the test signs it with the
 * server's own key, straight in the store) must refuse to unpack it, write
 * nothing outside the package, and report why.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { openStore } from '../../src/server/store/index.js';
import { loadSigningKey } from '../../src/server/packages/signing-key.js';

const MANIFEST = `apiVersion: corral.io/v1
name: evil
version: 1.0.0
platforms: [{os: linux, arch: any}]
run: {command: /bin/sleep, args: ["600"]}
config:
  files:
    - {path: a/l4/stolen-credential.json, template: a/l4/identity.json}
`;

describe('package safety: chained symlinks', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let agent: TestAgent;
  let archive: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-pkg-safety-'));
    fleet = await Fleet.start();
    agent = await fleet.startAgent({ name: 'target', labels: { env: 'prod' } });
    await fleet.awaitAgent(agent, (a) => a.status === 'online');
    // versions/<v>/a/l0 -> the version dir, l1 -> versions/, l2 -> the service dir, l3 -> services/, l4 -> the agent's data dir.
    const dir = join(work, 'evil');
    await mkdir(join(dir, 'a'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), MANIFEST);
    await symlink('..', join(dir, 'a', 'l0'));
    for (let i = 1; i <= 4; i++) await symlink(`l${i - 1}/..`, join(dir, 'a', `l${i}`));
    archive = join(work, 'evil-1.0.0.tar.gz');
    await tar.c({ gzip: true, cwd: dir, file: archive, portable: true }, ['corral.yaml', 'a/l0', 'a/l1', 'a/l2', 'a/l3', 'a/l4']);
  });
  after(async () => {
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('is refused at push, before signing, naming the entry', async () => {
    const pushed = await fleet.cli('package', 'push', archive);
    assert.equal(pushed.code, 1);
    assert.match(pushed.stderr, /unsafe package: link "a\/l1" → "l0\/\.\." resolves outside the package.*INVALID_PACKAGE/);
    const list = await fleet.api<{ packages: unknown[] }>('GET', '/api/v1/packages?name=evil');
    assert.deepEqual(list.body.packages, [], 'nothing stored');
  });

  it('is refused by the agent when a compromised server signs it anyway, and nothing outside the package is written', async () => {
    const bytes = await readFile(archive);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    // The compromised server: its own store and key, bypassing the push check.
    const store = await openStore({ database: '', dataDir: join(fleet.root, 'server') });
    try {
      const key = await loadSigningKey(store);
      await store.putArtifactContent(
        sha256,
        (async function* () {
          yield bytes;
        })(),
      );
      await store.putPackage({
        name: 'evil',
        version: '1.0.0',
        os: 'linux',
        arch: 'any',
        sha256,
        size: bytes.length,
        signature: key.signDigest(sha256),
        manifest: { name: 'evil', version: '1.0.0' },
        createdAt: Date.now(),
      });
    } finally {
      await store.close();
    }
    const deployed = await fleet.cli('deploy', 'evil', '--package', 'evil@1.0.0', '-s', 'env=prod');
    assert.equal(deployed.code, 0, deployed.stderr);
    const stolen = join(agent.dataDir, 'stolen-credential.json');
    // Whichever comes first: the attack landing, or the agent's refusal.
    const outcome = await eventually(
      async () => {
        if (existsSync(stolen)) return { stolen: await readFile(stolen, 'utf8') };
        const rows = (await fleet.api<{ agents: { service: { lastError: string } | null }[] }>('GET', '/api/v1/deployments/evil/status')).body.agents;
        const refused = rows.find((r) => r.service?.lastError.includes('resolves outside the package'));
        return refused ? { lastError: refused.service!.lastError } : undefined;
      },
      { timeoutMs: 30_000, what: 'the agent reporting the refused package' },
    );
    assert.equal(outcome.stolen, undefined, 'the agent copied its credential outside the package');
    assert.match(outcome.lastError!, /link "a\/l1"/);
    const versions = join(agent.dataDir, 'services', 'evil', 'versions');
    assert.deepEqual(existsSync(versions) ? await readdir(versions) : [], [], 'nothing unpacked, no staging left');
  });
});
