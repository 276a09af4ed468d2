/**
 * What the agent allows, whatever the server asks: exec gets a clean
 * environment (never the agent's own secrets), and a root-owned local
 * policy file decides whether exec runs, which commands, for how long, and
 * who services may run as. Refusals reach the server as clear failures.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';

interface JobJson {
  status: string;
  hosts: { agentName: string; status: string; exitCode: number | null; output: string; error: string }[];
}

const LOCKED_POLICY = `version: 1
exec:
  allow: [uptime, [sh, -c, echo allowed]]
  maxTimeoutSeconds: 30
services:
  allowRoot: false
`;

describe('agent-side policy', { concurrency: false }, () => {
  let fleet: Fleet;
  let plain: TestAgent;
  let locked: TestAgent;

  /** The stored job a CLI run reported (`job <id>: ...` on stderr). */
  const jobOf = async (run: { stderr: string }): Promise<JobJson> => {
    const id = /job ([0-9a-f-]{36}):/.exec(run.stderr)?.[1];
    assert.ok(id, `no job id in: ${run.stderr}`);
    return (await fleet.api<JobJson>('GET', `/api/v1/jobs/${id}`)).body;
  };

  const policyFile = async (name: string, text: string, mode = 0o644): Promise<string> => {
    const file = join(fleet.root, name);
    await writeFile(file, text);
    await chmod(file, mode);
    return file;
  };

  before(async () => {
    fleet = await Fleet.start();
    // The token in the agent's environment, as `corral agent install`'s env file puts it there.
    plain = await fleet.startAgent({ name: 'plain', labels: { role: 'plain' }, env: { CORRAL_TOKEN: fleet.enrollmentToken, SOME_AGENT_SECRET: 'hunter2' } });
    locked = await fleet.startAgent({ name: 'locked', labels: { role: 'locked' }, extraArgs: ['--policy', await policyFile('locked.yaml', LOCKED_POLICY)] });
    for (const a of [plain, locked]) await fleet.awaitAgent(a, (x) => x.status === 'online');
  });
  after(async () => fleet?.close());

  it('runs exec with a clean environment: no enrollment token, nothing of the agent\'s own', async () => {
    const res = await fleet.cli('exec', '-s', 'role=plain', '--', 'env');
    assert.equal(res.code, 0, res.stderr);
    assert.ok(!res.stdout.includes(fleet.enrollmentToken), `the enrollment token leaked into job output:\n${res.stdout}`);
    assert.ok(!res.stdout.includes('hunter2'), 'the agent\'s environment leaked into job output');
    const vars = Object.fromEntries(
      res.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^plain \| /, ''))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.deepEqual(Object.keys(vars).sort(), ['HOME', 'LANG', 'PATH']);
    assert.equal(vars.PATH, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.equal(vars.LANG, 'C.UTF-8');
  });

  it("runs services and hooks with a clean environment plus their own, never the agent's", async () => {
    const dir = join(fleet.root, 'pkg-envdump');
    await mkdir(dir, { recursive: true });
    const dump = join(fleet.root, 'hook-env');
    await writeFile(
      join(dir, 'corral.yaml'),
      `apiVersion: corral.io/v1
name: envdump
version: 1.0.0
run: {command: /bin/true, env: {APP_MODE: demo}}
restart: {policy: never}
hooks:
  postInstall: {command: sh, args: ["-c", "env > ${dump}"]}
`,
    );
    const out = join(fleet.root, 'envdump-1.0.0.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    assert.equal((await fleet.cli('package', 'push', out)).code, 0);
    assert.equal((await fleet.cli('deploy', 'envdump', '--package', 'envdump@1.0.0', '-s', 'role=plain')).code, 0);
    const env = await eventually(async () => (await readFile(dump, 'utf8').catch(() => '')) || undefined, { timeoutMs: 30_000, what: 'the hook environment' });
    assert.ok(!env.includes(fleet.enrollmentToken) && !env.includes('hunter2'), `the agent's environment leaked into a hook:\n${env}`);
    assert.match(env, /^CORRAL_SERVICE=envdump$/m);
    assert.match(env, /^APP_MODE=demo$/m);
    assert.match(env, /^PATH=\/usr\/local\/sbin:\/usr\/local\/bin:\/usr\/sbin:\/usr\/bin:\/sbin:\/bin$/m);
    assert.equal((await fleet.cli('undeploy', 'envdump')).code, 0);
  });

  it('runs only allow-listed commands, within the maximum timeout, and says why it refused', async () => {
    const ok = await fleet.cli('exec', '-s', 'role=locked', '--timeout', '20', '--', 'sh', '-c', 'echo allowed');
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^locked \| allowed$/m);
    assert.equal((await fleet.cli('exec', '-s', 'role=locked', '--timeout', '30', '--', 'uptime')).code, 0);

    const other = await fleet.cli('exec', '-s', 'role=locked', '--timeout', '20', '--', 'sh', '-c', 'cat /etc/shadow');
    assert.equal(other.code, 1);
    const refused = (await jobOf(other)).hosts[0]!;
    assert.equal(refused.status, 'failed');
    assert.match(refused.error, /"sh -c cat \/etc\/shadow" is not in the exec allow-list of this agent's policy \(.*locked\.yaml\)/);
    assert.equal(refused.output, '', 'nothing ran');

    const long = await fleet.cli('exec', '-s', 'role=locked', '--timeout', '600', '--', 'uptime');
    assert.equal(long.code, 1);
    assert.match((await jobOf(long)).hosts[0]!.error, /exec timeout 600 s is over the maximum of 30 s/);
  });

  it('refuses to install a service that would run as root when the policy forbids it, naming the reason', async () => {
    const dir = join(fleet.root, 'pkg-root');
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(
      join(dir, 'corral.yaml'),
      `apiVersion: corral.io/v1
name: as-root
version: 1.0.0
platforms: [{os: linux, arch: any}]
run: {command: /bin/sleep, args: ["600"]}
hooks:
  postInstall: {command: sh, args: ["-c", "touch ${join(fleet.root, 'hook-ran-as-root')}"]}
`,
    );
    const out = join(fleet.root, 'as-root-1.0.0.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    assert.equal((await fleet.cli('package', 'push', out)).code, 0);
    assert.equal((await fleet.cli('deploy', 'as-root', '--package', 'as-root@1.0.0', '-s', 'role=locked')).code, 0);
    const row = await eventually(
      async () => {
        const rows = (await fleet.api<{ agents: { service: { healthy: boolean; lastError: string } | null }[] }>('GET', '/api/v1/deployments/as-root/status')).body.agents;
        return rows.find((r) => r.service?.lastError.includes('run as root'));
      },
      { timeoutMs: 30_000, what: 'the refusal reported to the server' },
    );
    assert.match(row.service!.lastError, /service as-root would run as root \(no run.user\), which this agent's policy \(.*locked\.yaml\) does not allow/);
    assert.equal(row.service!.healthy, false);
    assert.equal(existsSync(join(fleet.root, 'hook-ran-as-root')), false, 'the postInstall hook did not run');
    assert.equal((await fleet.cli('undeploy', 'as-root')).code, 0);
  });

  it('refuses to start with an invalid policy file, or one that non-root users can change', async () => {
    const invalid = await fleet.startAgent({ name: 'invalid', extraArgs: ['--policy', await policyFile('invalid.yaml', 'version: 1\nexec: {enabled: false, allowlist: [ls]}\n')] });
    await invalid.process.exited;
    assert.equal(invalid.process.exitCode, 1);
    assert.match(invalid.process.stderr, /agent policy .*invalid\.yaml is invalid: exec: .*allowlist.*\(INVALID_POLICY\)/);

    const writable = await fleet.startAgent({ name: 'writable', extraArgs: ['--policy', await policyFile('writable.yaml', 'version: 1\n', 0o666)] });
    await writable.process.exited;
    assert.equal(writable.process.exitCode, 1);
    assert.match(writable.process.stderr, /writable\.yaml is writable by group or others \(mode 666\)/);
  });
});
