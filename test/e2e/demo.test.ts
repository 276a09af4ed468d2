/**
 * `npm run demo` stops everything on Ctrl-C: its server and agents, an agent
 * that upgraded itself during the demo (started by the upgrade watcher, not
 * by the demo), and the services the agents run (their own process groups,
 * which outlive an agent by design).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '../../src/testkit/eventually.js';
import { runCorral } from '../../src/testkit/processes.js';
import { pidsMentioning } from '../../src/testkit/proc-scan.js';
import { processAlive, servicePid } from '../../src/testkit/process-alive.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENTS = ['web-1', 'web-2', 'api-1'];

describe('the demo', { concurrency: false }, () => {
  let dir: string;
  let demo: ChildProcess;
  let output = '';
  let exited: Promise<number | null>;
  let env: Record<string, string> = {};
  const cli = (...args: string[]) => runCorral(args, env, 90_000);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-demo-e2e-'));
    demo = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.mjs')], {
      cwd: dir,
      env: { ...process.env, CORRAL_DEMO_DIR: join(dir, 'data'), CORRAL_DEMO_LISTEN: '127.0.0.1:0', CORRAL_SERVER: undefined, CORRAL_TOKEN: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    demo.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    exited = new Promise((resolve) => demo.on('exit', (code) => resolve(code)));
  });

  after(async () => {
    // Whatever a failed run left behind: every process naming the demo's data dir, and the services.
    const kill = (pid: number) => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone between the scan and the kill.
      }
    };
    for (const pid of pidsMentioning(dir)) kill(pid);
    for (const name of AGENTS) {
      const pid = servicePid(join(dir, 'data', name), 'hello');
      if (pid !== null) kill(-pid);
    }
    if (demo.exitCode === null && demo.signalCode === null) demo.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('leaves no process behind on Ctrl-C, also after a deploy and an agent self-upgrade', async () => {
    const running = await eventually(() => /server \/ API:\s+(http:\/\/\S+)[\s\S]*admin token:\s+(\S+)/.exec(output) ?? undefined, {
      timeoutMs: 60_000,
      what: `the demo to start; output so far:\n${output}`,
    });
    env = { CORRAL_SERVER: running[1]!, CORRAL_TOKEN: running[2]!, XDG_CONFIG_HOME: join(dir, 'xdg') };
    await eventually(async () => {
      const res = await cli('agents', '-o', 'json');
      return res.code === 0 && (JSON.parse(res.stdout) as { agents: { status: string }[] }).agents.filter((a) => a.status === 'online').length === 3;
    }, { timeoutMs: 60_000, what: 'three demo agents online' });
    // The sample is published by the demo as it starts; deploy it as its header says.
    await eventually(async () => (await cli('package', 'list')).stdout.includes('2.0.0'), { timeoutMs: 60_000, what: 'the sample package published' });
    const deployed = await cli('deploy', 'hello', '--package', 'hello@1.0.0', '-s', 'role in (web,api)', '--set', 'greeting=hi', '--max-in-flight', '100%', '--wait');
    assert.equal(deployed.code, 0, deployed.stderr);
    const services = AGENTS.map((name) => servicePid(join(dir, 'data', name), 'hello'));
    assert.ok(services.every((pid) => pid !== null), `every agent runs the sample: ${JSON.stringify(services)}`);

    // web-1 upgrades itself: its new agent process is started by the upgrade watcher, not by the demo.
    const pkg = join(dir, 'agent.tar.gz');
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package-agent.mjs'), '--version', '9.9.9-demo', '--out', pkg], { encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    assert.equal((await cli('package', 'push', pkg)).code, 0);
    const upgraded = await cli('deploy', 'agent-upgrade', '--package', 'corral-agent@9.9.9-demo', '-s', 'env=dev', '--wait');
    assert.equal(upgraded.code, 0, upgraded.stderr);
    const web1 = join(dir, 'data', 'web-1');
    await eventually(() => !existsSync(join(web1, 'agent-upgrade', 'handover.json')), { timeoutMs: 30_000, what: 'the upgrade watcher to finish' });
    assert.equal(pidsMentioning(join(web1, 'agent-versions', '9.9.9-demo')).length, 1, 'the upgraded agent runs');

    demo.kill('SIGINT');
    const code = await Promise.race([exited, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 30_000).unref())]);
    assert.equal(code, 0, `demo exit; output:\n${output.slice(-3000)}`);
    assert.deepEqual(pidsMentioning(dir), [], 'no server, agent or watcher of the demo is left');
    for (const pid of services) assert.equal(processAlive(pid!), false, `service ${pid} stopped`);
  });
});
