/**
 * `npm run bench -- agent-footprint [--services N] [--idle-seconds S]`
 *
 * A real agent supervising N services (a package whose service is
 * `sleep`), idle: its RSS and CPU, beside a bare `node -e "setInterval(()=>{},1e3)"`
 * measured over the same window.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
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

async function idle(pid: number, seconds: number): Promise<{ rss: number; cpu: number }> {
  const c0 = cpuMs(pid);
  await sleep(seconds * 1000);
  return { rss: rssBytes(pid), cpu: ((cpuMs(pid) - c0) / (seconds * 1000)) * 100 };
}

export async function agentFootprintBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { services: { type: 'string', default: '10' }, 'idle-seconds': { type: 'string', default: '30' }, 'node-flags': { type: 'string', default: '' } } });
  const nodeFlags = values['node-flags'].split(' ').filter(Boolean);
  const n = Number(values.services);
  const seconds = Number(values['idle-seconds']);
  const dir = mkdtempSync(join(tmpdir(), 'corral-footprint-'));
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

  const agent = spawn(process.execPath, [...nodeFlags, CORRAL, 'agent', '--server', url, '--token', ENROLL, '--data-dir', join(dir, 'agent'), '--label', 'bench=footprint', '--log-level', 'warn'], {
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
  console.log(`agent footprint: ${n} services supervised, idle ${seconds}s, heartbeat 30s`);
  console.log(`  corral agent: RSS ${(a.rss / 1024 / 1024).toFixed(1)} MiB, CPU ${a.cpu.toFixed(2)} % of one core`);
  console.log(`  bare node:    RSS ${(b.rss / 1024 / 1024).toFixed(1)} MiB, CPU ${b.cpu.toFixed(2)} % of one core`);
  console.log(`  RSS ratio agent / bare node: ${(a.rss / b.rss).toFixed(2)}x`);
  bare.kill();
  for (let i = 0; i < n; i++) await run(['undeploy', `svc-${i}`], cli);
  await sleep(3000);
  agent.kill('SIGTERM');
  server.kill('SIGTERM');
  await sleep(1000);
  rmSync(dir, { recursive: true, force: true });
}
