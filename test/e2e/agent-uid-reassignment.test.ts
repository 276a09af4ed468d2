/**
 * OpAMP's duplicate-uid handling, end to end with the real agent: a host
 * whose identity.json lost its credential (or a VM cloned from an enrolled
 * host's image before the credential was written) restarts with the
 * enrollment token and presents an enrolled agent's uid. The server assigns
 * it a new uid (`agent_identification.new_instance_uid`); the agent adopts
 * it, persists it, enrolls under it and reports its full state, while the
 * enrolled agent keeps its uid, its connection and its running service.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, IMMEDIATE_ROLLOUTS, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid } from '../../src/testkit/process-alive.js';

const MANIFEST = `apiVersion: corral.io/v1
name: idle
version: 1.0.0
platforms: [{os: linux, arch: any}]
run:
  command: bin/idle.sh
restart: {policy: always, maxDelayMs: 1000}
`;

interface IdentityFile {
  instanceUid: string;
  credential: string | null;
}

const identityOf = async (agent: TestAgent): Promise<IdentityFile> => JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as IdentityFile;

describe('agent adopts the new instance uid the server assigns', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let a: TestAgent;
  let b: TestAgent | undefined;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-uid-e2e-'));
    fleet = await Fleet.start({ rolloutDefaults: IMMEDIATE_ROLLOUTS });
    a = await fleet.startAgent({ name: 'host-a', labels: { env: 'prod' } });
    await fleet.awaitAgent(a, (x) => x.status === 'online', 60_000);
    const dir = join(work, 'idle');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), MANIFEST);
    await writeFile(join(dir, 'bin', 'idle.sh'), '#!/bin/sh\nexec node -e "setInterval(() => {}, 60000)"\n', { mode: 0o755 });
    const out = join(work, 'idle-1.0.0.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
    const deployed = await fleet.cli('deploy', 'idle', '--package', 'idle@1.0.0', '-s', 'env=prod');
    assert.equal(deployed.code, 0, deployed.stderr);
    await eventually(() => servicePid(a.dataDir, 'idle') ?? undefined, { what: "host-a's service running", timeoutMs: 60_000 });
  });

  after(async () => {
    // Services outlive agents by design: stop them through the server before tearing down.
    await fleet?.cli('undeploy', 'idle').catch(() => undefined);
    for (const x of [a, b].filter((x): x is TestAgent => x !== undefined)) {
      await eventually(() => servicePid(x.dataDir, 'idle') === null, { timeoutMs: 15_000 }).catch(() => undefined);
    }
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('a clone presenting an enrolled uid with the enrollment token comes online under a new uid; the original is untouched', async () => {
    const original = await identityOf(a);
    assert.ok(original.credential, 'host-a enrolled and holds its own credential');
    const pidBefore = servicePid(a.dataDir, 'idle');
    assert.ok(pidBefore);

    // host-b: host-a's identity.json without its credential, and the same enrollment token.
    const { credential: _dropped, ...stripped } = JSON.parse(await readFile(join(a.dataDir, 'identity.json'), 'utf8')) as Record<string, unknown>;
    const bDir = join(fleet.root, 'host-b');
    await mkdir(bDir, { recursive: true, mode: 0o700 });
    await writeFile(join(bDir, 'identity.json'), `${JSON.stringify({ ...stripped, credential: null }, null, 2)}\n`, { mode: 0o600 });
    b = await fleet.startAgent({ name: 'host-b', labels: { env: 'prod' } });
    assert.equal(b.dataDir, bDir);

    const adopted = await eventually(
      async () => {
        const id = await identityOf(b!);
        return id.instanceUid !== original.instanceUid && id.credential ? id : undefined;
      },
      { what: 'host-b persisted a new uid and enrolled under it', timeoutMs: 60_000 },
    );
    assert.match(adopted.instanceUid, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.notEqual(adopted.credential, original.credential);
    const line = `server assigned a new instance uid ${adopted.instanceUid} (was ${original.instanceUid})`;
    await eventually(() => (b!.process.stdout + b!.process.stderr).includes(line) || undefined, { what: 'the log line naming both uids', timeoutMs: 10_000 });

    // The server registered host-b under its new uid with its full state (its description names it).
    const bRow = await fleet.awaitAgent(b, (x) => x.status === 'online' && x.name === 'host-b', 60_000);
    assert.equal(bRow.id, adopted.instanceUid);
    assert.equal(bRow.identifyingAttributes['service.instance.id'], adopted.instanceUid);

    // host-a: same uid, credential, connection and service process.
    const aRow = await fleet.awaitAgent(a, (x) => x.status === 'online', 30_000);
    assert.equal(aRow.id, original.instanceUid);
    assert.equal(aRow.name, 'host-a');
    assert.deepEqual(await identityOf(a), original);
    assert.equal(servicePid(a.dataDir, 'idle'), pidBefore, "host-a's service was not restarted");

    const agents = await fleet.listAgents();
    assert.deepEqual(agents.map((x) => x.name).sort(), ['host-a', 'host-b']);
    assert.deepEqual(agents.map((x) => x.id).sort(), [original.instanceUid, adopted.instanceUid].sort());
    // host-b enrolled with the deployment's selector's labels: it runs its own copy, in its own data dir.
    await eventually(() => servicePid(b!.dataDir, 'idle') ?? undefined, { what: "host-b's service running", timeoutMs: 60_000 });
    assert.equal(servicePid(a.dataDir, 'idle'), pidBefore);
  });
});
