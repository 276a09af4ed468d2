/**
 * `run.user` end to end, as root with a real throwaway system user: the
 * service, its hooks and its health check run as that user; the user can
 * read its own package and rendered config and write its output files, and
 * can read neither the agent's credential nor another service's config.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { processAlive, servicePid } from '../../src/testkit/process-alive.js';

const isRoot = process.getuid?.() === 0;

const SCRIPT = `#!/bin/sh
echo "user=$(id -un)"
echo "config=$(cat app.conf)"
cat "$CORRAL_SERVICE_DIR/../../../../identity.json" >/dev/null 2>&1 && echo "identity=READABLE" || echo "identity=denied"
cat "$CORRAL_SERVICE_DIR/../../../other/current/secret.conf" >/dev/null 2>&1 && echo "other=READABLE" || echo "other=denied"
echo "home=$HOME"
exec sleep 600
`;

describe('run.user services', { concurrency: false, skip: isRoot ? false : 'needs root to create a system user and switch to it' }, () => {
  let fleet: Fleet;
  let agent: TestAgent;
  let trace: string;
  const user = `corral-t${randomBytes(4).toString('hex')}`;
  let uid: number;

  async function publish(name: string, manifest: string, files: Record<string, string>): Promise<void> {
    const dir = join(fleet.root, `pkg-${name}`);
    await mkdir(join(dir, 'templates'), { recursive: true });
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), manifest);
    for (const [path, body] of Object.entries(files)) await writeFile(join(dir, path), body, { mode: 0o755 });
    const out = join(fleet.root, `${name}.tar.gz`);
    const built = await fleet.cli('package', 'build', dir, '--out', out);
    assert.equal(built.code, 0, built.stderr);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
  }

  const status = async (name: string) =>
    (await fleet.api<{ agents: { service: { healthy: boolean; status: string; lastError: string } | null }[] }>('GET', `/api/v1/deployments/${name}/status`)).body.agents[0]?.service;

  before(async () => {
    execFileSync('useradd', ['--system', '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', user]);
    uid = Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim());
    fleet = await Fleet.start();
    // As /var/lib is on a real host: searchable by everyone. The agent opens its own data dir no further than needed.
    await chmod(fleet.root, 0o711);
    trace = join(fleet.root, 'trace');
    await mkdir(trace);
    await chmod(trace, 0o1777);
    agent = await fleet.startAgent({ name: 'host', labels: { env: 'prod' } });
    await fleet.awaitAgent(agent, (a) => a.status === 'online');
  });
  after(async () => {
    // Services outlive their agent by design: end the two this test started, by pid, before the user goes.
    const pids = agent ? ['mine', 'other'].map((name) => servicePid(agent.dataDir, name)).filter((p): p is number => p !== null) : [];
    await fleet?.close();
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    await eventually(() => pids.every((p) => !processAlive(p)), { what: 'the test services gone' });
    execFileSync('userdel', [user]);
  });

  it('runs the service, its hooks and its health check as the user, with access to its own files only', async () => {
    await publish(
      'other',
      `apiVersion: corral.io/v1
name: other
version: 1.0.0
run: {command: /bin/sleep, args: ["600"]}
config: {files: [{path: secret.conf, template: templates/secret.conf}]}
`,
      { 'templates/secret.conf': 'other-secret\n' },
    );
    assert.equal((await fleet.cli('deploy', 'other', '--package', 'other@1.0.0', '-s', 'env=prod')).code, 0);
    await eventually(async () => (await status('other'))?.status === 'running', { what: 'the root service running' });

    await publish(
      'mine',
      `apiVersion: corral.io/v1
name: mine
version: 1.0.0
run: {command: bin/run.sh, user: ${user}}
health: {type: command, command: sh, args: ["-c", "id -un > ${trace}/health-user"], intervalSeconds: 0.2}
config: {files: [{path: app.conf, template: templates/app.conf}]}
hooks:
  postInstall: {command: sh, args: ["-c", "id -un > ${trace}/postinstall-user"]}
  preStart: {command: sh, args: ["-c", "id -un > ${trace}/prestart-user"]}
`,
      { 'bin/run.sh': SCRIPT, 'templates/app.conf': 'greeting={{ greeting }}' },
    );
    assert.equal((await fleet.cli('deploy', 'mine', '--package', 'mine@1.0.0', '-s', 'env=prod', '--set', 'greeting=hi')).code, 0);
    const service = await eventually(async () => ((await status('mine'))?.healthy ? await status('mine') : undefined), {
      timeoutMs: 30_000,
      what: 'the run.user service healthy',
    }).catch(async (e: unknown) => {
      throw new Error(`${(e as Error).message}: last ${JSON.stringify(await status('mine'))}\n${agent.process.stderr.slice(-2000)}`);
    });
    assert.equal(service?.status, 'running');

    const serviceDir = join(agent.dataDir, 'services', 'mine');
    const stdout = join(serviceDir, 'logs', 'stdout.log');
    const out = await eventually(async () => {
      const text = await readFile(stdout, 'utf8').catch(() => '');
      return text.includes('home=') ? text : undefined;
    }, { what: 'the service output' });
    assert.match(out, new RegExp(`^user=${user}$`, 'm'));
    assert.match(out, /^config=greeting=hi$/m, 'the rendered config is readable');
    assert.match(out, /^identity=denied$/m, "the agent's credential is not readable");
    assert.match(out, /^other=denied$/m, "another service's config is not readable");
    assert.match(out, /^home=\/nonexistent$/m, "HOME is the user's");

    const pid = servicePid(agent.dataDir, 'mine')!;
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s+${uid}\\s+${uid}\\s+${uid}$`, 'm'));
    for (const hook of ['postinstall', 'prestart', 'health']) {
      const file = join(trace, `${hook}-user`);
      await eventually(async () => (await readFile(file, 'utf8').catch(() => '')).trim() === user, { what: `${hook} run as ${user}` });
    }
    assert.equal(statSync(stdout).uid, uid, 'the output files belong to the user');
    assert.equal(statSync(join(agent.dataDir, 'identity.json')).mode & 0o777, 0o600);
    assert.equal(statSync(serviceDir).mode & 0o777, 0o750);
    assert.equal(statSync(serviceDir).uid, 0, 'the user owns no directory the agent reads as root');
    assert.equal(statSync(join(agent.dataDir, 'services', 'other')).mode & 0o777, 0o700);
  });
});
