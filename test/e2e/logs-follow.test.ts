/**
 * `corral logs -f` end to end: a real service printing a numbered line every
 * 50 ms, a real agent rotating its output every few KiB, and the real CLI
 * reading a live stream through the server. Lines show up as they are
 * written, in order and without gaps across rotations; stderr is followed
 * too; stopping the CLI stops the agent's follower; an agent that goes away
 * ends the follow.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { processAlive } from '../../src/testkit/process-alive.js';

const MANIFEST = `apiVersion: corral.io/v1
name: ticker
version: 1.0.0
platforms: [{os: linux, arch: any}]
run:
  command: node
  args: [ticker.js]
restart: {policy: always, maxDelayMs: 1000}
`;

// ~220 bytes a line, 20 lines a second: with a 4 KiB limit the agent rotates stdout.log about once a second.
const TICKER_JS = `let n = 0;
setInterval(() => {
  n++;
  process.stdout.write('tick ' + n + ' ' + 'x'.repeat(200) + '\\n');
  if (n % 10 === 0) process.stderr.write('oops ' + n + '\\n');
}, 50);
`;

const ticks = (text: string) => [...text.matchAll(/^tick (\d+) x+$/gm)].map((m) => Number(m[1]));

describe('logs -f', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let agent: TestAgent;
  let agentId: string;

  const logs = () => join(agent.dataDir, 'services', 'ticker', 'logs');
  const servicePid = (): number | null => {
    try {
      const { pid } = JSON.parse(readFileSync(join(agent.dataDir, 'services', 'ticker', 'pid.json'), 'utf8')) as { pid: number };
      return processAlive(pid) ? pid : null;
    } catch {
      return null;
    }
  };
  const followers = async () => {
    const res = await fleet.api<{ services: { name: string; logFollowers?: number }[] }>('GET', `/api/v1/agents/${agentId}/services`);
    return res.body.services.find((s) => s.name === 'ticker')?.logFollowers;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-logs-e2e-'));
    fleet = await Fleet.start();
    agent = await fleet.startAgent({ name: 'host-1', labels: { env: 'prod' }, extraArgs: ['--log-max-bytes', '4096', '--log-check-interval', '0.2'] });
    await fleet.awaitAgent(agent, (x) => x.status === 'online');
    agentId = await agent.instanceUid();
    const dir = join(work, 'ticker');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), MANIFEST);
    await writeFile(join(dir, 'ticker.js'), TICKER_JS);
    const out = join(work, 'ticker-1.0.0.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
    const deployed = await fleet.cli('deploy', 'ticker', '--package', 'ticker@1.0.0', '-s', 'env=prod');
    assert.equal(deployed.code, 0, deployed.stderr);
    await eventually(() => servicePid() !== null && existsSync(join(logs(), 'stdout.log')), { what: 'the ticker running', timeoutMs: 30_000 });
  });

  after(async () => {
    if (agent?.process.running) {
      await fleet.cli('undeploy', 'ticker').catch(() => undefined);
      await eventually(() => servicePid() === null, { timeoutMs: 10_000 }).catch(() => undefined);
    }
    // Services outlive their agent by design: make sure this one does not outlive the test.
    const pid = agent ? servicePid() : null;
    if (pid !== null) process.kill(pid, 'SIGKILL');
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('streams lines as they are written, in order and without gaps across log rotations, and stderr too', async () => {
    const cli = fleet.cliProcess('logs', agentId.slice(-12), 'ticker', '--tail', '3', '-f');
    await cli.waitForOutput(/^tick \d+ x+$/m);
    const first = ticks(cli.stdout)[0]!;
    await eventually(async () => (await followers()) === 1, { what: 'one follower on the agent' });

    // Live: whatever the service has just written shows up, again and again.
    for (let i = 0; i < 3; i++) {
      const written = ticks(readFileSync(join(logs(), 'stdout.log'), 'utf8')).at(-1) ?? 0;
      await eventually(() => (ticks(cli.stdout).at(-1) ?? 0) >= written, { what: `tick ${written} on the CLI's stdout`, timeoutMs: 5_000 });
    }

    // Across rotations: wait for two copies made after we started, then for lines written after them.
    const rotatedPast = await eventually(
      () => {
        if (!existsSync(join(logs(), 'stdout.log.2'))) return undefined;
        const copied = ticks(readFileSync(join(logs(), 'stdout.log.1'), 'utf8'));
        const older = ticks(readFileSync(join(logs(), 'stdout.log.2'), 'utf8'));
        return older.length > 0 && older[0]! > first && copied.length > 0 ? copied.at(-1)! : undefined;
      },
      { what: 'two rotations after the follow started', timeoutMs: 20_000 },
    );
    await eventually(() => (ticks(cli.stdout).at(-1) ?? 0) > rotatedPast + 20, { what: 'lines after the rotation', timeoutMs: 10_000 });
    const seen = ticks(cli.stdout);
    assert.ok(seen.length > 40, `${seen.length} lines`);
    assert.deepEqual(seen, Array.from({ length: seen.length }, (_, i) => first + i), 'every line once, in order');
    assert.equal(cli.stdout.split('\n').filter((l) => l !== '' && !/^tick \d+ x+$/.test(l)).length, 0, 'nothing else on stdout');
    await eventually(() => /^oops \d+$/m.test(cli.stderr), { what: "the service's stderr on the CLI's stderr" });

    // Ctrl-C: the server sees the request close and tells the agent to stop following.
    await cli.signal('SIGINT');
    assert.equal(await eventually(async () => ((await followers()) === 0 ? 0 : undefined), { what: 'no follower left on the agent' }), 0);
    // The agent's log line reaches us through a pipe, possibly after the count dropped: wait for it.
    await eventually(() => /"reason":"cancelled".*"msg":"stopped following service log"/.test(agent.process.stderr), { what: 'the agent saying it stopped following (cancelled)' });
  });

  it('refuses a service the agent does not have', async () => {
    const res = await fleet.cli('logs', agentId.slice(-12), 'nope', '-f');
    assert.equal(res.code, 1);
    assert.match(res.stderr, /no service nope/);
  });

  it('ends the follow when the agent goes away', async () => {
    const cli = fleet.cliProcess('logs', agentId.slice(-12), 'ticker', '--tail', '0', '-f');
    await eventually(async () => (await followers()) === 1, { what: 'following' });
    const before = ticks(cli.stdout).length;
    await eventually(() => ticks(cli.stdout).length > before, { what: 'followed lines' });
    await agent.process.signal('SIGKILL');
    await cli.exited;
    assert.equal(cli.exitCode, 1);
    // 'exit' can come before the last of stderr is read.
    await eventually(() => /agent disconnected/.test(cli.stderr), { what: 'the CLI saying the agent disconnected' });
    // Back for the undeploy in after().
    await agent.restart();
    await fleet.awaitAgent(agent, (x) => x.status === 'online');
  });
});
