/**
 * `npm run bench -- agent-footprint [--agent checkout|bundle|sea] [--services N] [--idle-seconds S] [--node-flags='...']`
 *
 * A real agent supervising N services (a package whose service is
 * `sleep`), idle: its RSS and CPU, beside a bare `node -e "setInterval(()=>{},1e3)"`
 * measured over the same window. RSS is /proc's VmRSS, sampled every second
 * of the window: the last sample, and the lowest and highest.
 *
 * The agent runs with AGENT_NODE_FLAGS, as every supported way of starting
 * it does; `--node-flags` replaces them (`--node-flags=` for none).
 *
 * `--agent` picks the agent: `checkout` (default: dist/bin/corral.js of this
 * checkout), `bundle` (the one-file esbuild bundle of `npm run build:agent`,
 * run by the same node with the same flags) or `sea` (the single executable,
 * which takes no node flags). The bench builds the bundle or SEA itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { AGENT_NODE_FLAGS } from '../src/agent/index.js';
import { agentLaunch, buildAgent, AGENT_BUILDS, type AgentBuild } from '../src/testkit/agent-build.js';
import { cpuMs, rssBytes } from './proc-stats.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CORRAL = join(here, '..', 'dist', 'bin', 'corral.js');
const ADMIN = 'corral_admin_bench_footprint_0123456789';
const ENROLL = 'corral_enroll_bench_footprint_0123456789';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function run(args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CORRAL, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`corral ${args.join(' ')} exited ${code}: ${out}`))));
  });
}

function waitFor(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m);
    });
    child.once('exit', () => reject(new Error(`exited before ${pattern}`)));
  });
}

interface Idle {
  /** The last sample. */
  rss: number;
  minRss: number;
  maxRss: number;
  cpu: number;
}

async function idle(pid: number, seconds: number): Promise<Idle> {
  const c0 = cpuMs(pid);
  const samples: number[] = [];
  for (let i = 0; i < seconds; i++) {
    await sleep(1000);
    samples.push(rssBytes(pid));
  }
  return { rss: samples.at(-1)!, minRss: Math.min(...samples), maxRss: Math.max(...samples), cpu: ((cpuMs(pid) - c0) / (seconds * 1000)) * 100 };
}

const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
const line = (x: Idle) => `RSS ${mib(x.rss)} MiB (${mib(x.minRss)}–${mib(x.maxRss)}), CPU ${x.cpu.toFixed(2)} % of one core`;

export async function agentFootprintBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { agent: { type: 'string', default: 'checkout' }, services: { type: 'string', default: '10' }, 'idle-seconds': { type: 'string', default: '30' }, 'node-flags': { type: 'string' } },
  });
  const build = values.agent as AgentBuild;
  if (!AGENT_BUILDS.includes(build)) throw new Error(`--agent must be one of ${AGENT_BUILDS.join(', ')}, got "${values.agent}"`);
  const nodeFlags = build === 'sea' ? [] : values['node-flags'] === undefined ? [...AGENT_NODE_FLAGS] : values['node-flags'].split(' ').filter(Boolean);
  const n = Number(values.services);
  const seconds = Number(values['idle-seconds']);
  const dir = mkdtempSync(join(tmpdir(), 'corral-footprint-'));
  if (build !== 'checkout') await buildAgent({ outDir: join(dir, 'build'), sea: build === 'sea', noPackage: true });
  const launch = agentLaunch(build, join(dir, 'build'));
  // The launch's own node flags give way to --node-flags; its script (if any) stays.
  const agentCommand = build === 'sea' ? launch : { command: launch.command, args: [...nodeFlags, launch.args.at(-1)!] };
  const env = { CORRAL_ADMIN_TOKEN: ADMIN, CORRAL_ENROLLMENT_TOKEN: ENROLL, CORRAL_LOG_LEVEL: 'warn' };
  const server = spawn(process.execPath, [CORRAL, 'server', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'server'), '--heartbeat', '30'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = (await waitFor(server, /listening on (http:\/\/\S+)/))[1]!;
  const cli = { ...env, CORRAL_SERVER: url, CORRAL_TOKEN: ADMIN };

  const pkg = join(dir, 'pkg');
  mkdirSync(pkg);
  writeFileSync(join(pkg, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: sleeper\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
  await run(['package', 'build', pkg, '--out', join(dir, 'sleeper.tar.gz')], cli);
  await run(['package', 'push', join(dir, 'sleeper.tar.gz')], cli);

  // The agent enrolls with a token bound to bench=footprint, the (trusted) label the deployments select.
  const minted = await fetch(`${url}/api/v1/enrollment-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', labels: { bench: 'footprint' } }),
  });
  if (minted.status !== 201) throw new Error(`create the bench enrollment token: ${minted.status} ${await minted.text()}`);
  const token = ((await minted.json()) as { token: string }).token;
  const agent = spawn(agentCommand.command, [...agentCommand.args, 'agent', '--server', url, '--token', token, '--data-dir', join(dir, 'agent'), '--log-level', 'warn'], {
    stdio: 'ignore',
  });
  for (let i = 0; i < n; i++) await run(['deploy', `svc-${i}`, '--package', 'sleeper@1.0.0', '-s', 'bench=footprint'], cli);
  for (let i = 0; i < 120; i++) {
    const status = await Promise.all(Array.from({ length: n }, (_, k) => run(['deployment', 'status', `svc-${k}`, '-o', 'json'], cli)));
    const healthy = status.filter((s) => (JSON.parse(s) as { agents: { service: { healthy: boolean } | null }[] }).agents[0]?.service?.healthy).length;
    if (healthy === n) break;
    await sleep(1000);
  }
  await sleep(3000);
  const bare = spawn(process.execPath, ['-e', 'setInterval(()=>{},1e3)'], { stdio: 'ignore' });
  await sleep(1000);
  const [a, b] = await Promise.all([idle(agent.pid!, seconds), idle(bare.pid!, seconds)]);
  console.log(`agent footprint: ${n} services supervised, idle ${seconds}s, heartbeat 30s, agent: ${build}, node flags: ${nodeFlags.join(' ') || '(none)'}`);
  console.log(`  corral agent (${build}): ${line(a)}`);
  console.log(`  bare node:    ${line(b)}`);
  console.log(`  RSS ratio agent / bare node: ${(a.rss / b.rss).toFixed(2)}x (highest agent sample: ${(a.maxRss / b.rss).toFixed(2)}x)`);
  bare.kill();
  for (let i = 0; i < n; i++) await run(['undeploy', `svc-${i}`], cli);
  await sleep(3000);
  agent.kill('SIGTERM');
  server.kill('SIGTERM');
  await sleep(1000);
  rmSync(dir, { recursive: true, force: true });
}
