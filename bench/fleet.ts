/**
 * `npm run bench -- fleet --agents N [--database URL] [--procs P] [--idle-seconds S]`
 *
 * Starts a real `corral server` (SQLite by default, PostgreSQL with
 * --database) and P processes of simulated OpAMP agents over WebSocket, then
 * prints: time until all N are registered online, server RSS per agent,
 * server CPU while idle at a 30 s heartbeat, and the time from one config
 * change until all N report APPLIED (p50, p99, all). Then the same idle
 * figures for a bare `ws` echo server holding N sockets: the floor.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { cpuMs, percentile, rssBytes } from './proc-stats.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CORRAL = join(here, '..', 'dist', 'bin', 'corral.js');
export const ENROLL = 'corral_enroll_bench_fleet_0123456789';
export const ADMIN = 'corral_admin_bench_fleet_0123456789';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs = 60_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms: ${out}`)), timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code} before ${pattern}`)));
  });
}

interface Sims {
  children: ChildProcess[];
  firstReplyAt: number[];
  close(): Promise<void>;
  collectApplied(): Promise<number[]>;
}

export async function startSims(url: string, total: number, procs: number, heartbeatMs: number, mode: 'opamp' | 'floor' | 'corral'): Promise<Sims> {
  const children: ChildProcess[] = [];
  const firstReplyAt: number[] = [];
  const per = Math.ceil(total / procs);
  let connected = 0;
  await Promise.all(
    Array.from({ length: procs }, (_, index) => {
      const count = Math.min(per, total - index * per);
      const child = fork(join(here, 'sim-agents.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      return new Promise<void>((resolve, reject) => {
        child.on('message', (m: { type: string; n?: number; firstReplyAt?: number[] }) => {
          if (m.type === 'connected') {
            connected += 500;
            if (connected % 2000 === 0) process.stderr.write(`  ${mode}: ${connected}/${total} connected\n`);
          }
          if (m.type === 'ready') {
            firstReplyAt.push(...m.firstReplyAt!);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`simulator ${index} exited with ${code}`)));
        // Spread source addresses so no single address runs out of ephemeral ports.
        child.send({ url, token: ENROLL, count, index, heartbeatMs, mode, localAddress: `127.0.${1 + Math.floor(index / 250)}.${2 + (index % 250)}` });
      });
    }),
  );
  return {
    children,
    firstReplyAt,
    async collectApplied() {
      const all = await Promise.all(
        children.map(
          (c) =>
            new Promise<number[]>((resolve) => {
              c.once('message', (m: { type: string; at: number[] }) => resolve(m.at));
              c.send({ type: 'report-applied' });
            }),
        ),
      );
      return all.flat();
    },
    async close() {
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              c.removeAllListeners('exit');
              c.once('exit', () => resolve());
              c.send({ type: 'close' });
            }),
        ),
      );
    },
  };
}

async function idleCpuPercent(pid: number, seconds: number): Promise<number> {
  const before = cpuMs(pid);
  await sleep(seconds * 1000);
  return ((cpuMs(pid) - before) / (seconds * 1000)) * 100;
}

const kb = (b: number) => (b / 1024).toFixed(1);

export async function fleetBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string', default: '1000' },
      procs: { type: 'string', default: '4' },
      database: { type: 'string' },
      'idle-seconds': { type: 'string', default: '30' },
      'heartbeat-seconds': { type: 'string', default: '30' },
      'skip-floor': { type: 'boolean', default: false },
    },
  });
  const n = Number(values.agents);
  const procs = Number(values.procs);
  const idleSeconds = Number(values['idle-seconds']);
  const heartbeatMs = Number(values['heartbeat-seconds']) * 1000;
  const dataDir = mkdtempSync(join(tmpdir(), 'corral-bench-'));
  const store = values.database ? `postgres (${new URL(values.database).host})` : 'sqlite';
  console.log(`fleet benchmark: ${n} agents in ${procs} processes, store ${store}, heartbeat ${heartbeatMs / 1000}s`);

  const server = spawn(
    process.execPath,
    [
      CORRAL,
      'server',
      '--listen',
      '127.0.0.1:0',
      '--data-dir',
      dataDir,
      '--heartbeat',
      String(heartbeatMs / 1000),
      '--max-connections',
      String(n + 1000),
      // The whole fleet enrolls at once with one token: allow it (the default, 100 a second, would take minutes).
      '--max-enrollments-per-second',
      '1000',
      '--log-level',
      'warn',
      ...(values.database ? ['--database', values.database] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CORRAL_ENROLLMENT_TOKEN: ENROLL, CORRAL_ADMIN_TOKEN: ADMIN } },
  );
  const url = (await waitForLine(server, /listening on (http:\/\/\S+)/))[1]!;
  await sleep(1000);
  const baseRss = rssBytes(server.pid!);

  const t0 = Date.now();
  const sims = await startSims(url, n, procs, heartbeatMs, 'opamp');
  const registeredMs = Math.max(...sims.firstReplyAt) - t0;
  // Confirm through the API that the store has them all online.
  for (let i = 0; i < 120; i++) {
    const res = await fetch(`${url}/api/v1/agents?selector=bench%3Dfleet`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await res.json()) as { agents: { status: string }[] };
    if (body.agents.filter((a) => a.status === 'online').length >= n) break;
    await sleep(1000);
  }
  const allOnlineMs = Date.now() - t0;
  await sleep(3000);
  const rss = rssBytes(server.pid!);
  const idleCpu = await idleCpuPercent(server.pid!, idleSeconds);
  const rssAfterIdle = rssBytes(server.pid!);

  const changeAt = Date.now();
  const put = await fetch(`${url}/api/v1/configs/bench`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ selector: 'bench=fleet', files: { 'bench.yaml': { contentType: 'application/yaml', body: `changed: ${changeAt}\n` } } }),
  });
  if (put.status !== 200) throw new Error(`config PUT failed: ${put.status} ${await put.text()}`);
  let applied: number[] = [];
  for (let i = 0; i < 600 && applied.length < n; i++) {
    await sleep(250);
    applied = applied.concat(await sims.collectApplied());
  }
  // The agents' acknowledgements are in; now wait for the server to show all APPLIED.
  let serverApplied = 0;
  let serverAllMs = NaN;
  for (let i = 0; i < 240; i++) {
    const res = await fetch(`${url}/api/v1/configs/bench/status`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const body = (await res.json()) as { counts: Record<string, number> };
    serverApplied = body.counts.APPLIED ?? 0;
    if (serverApplied >= n) {
      serverAllMs = Date.now() - changeAt;
      break;
    }
    await sleep(250);
  }
  const lat = applied.map((t) => t - changeAt).sort((a, b) => a - b);

  await sims.close();
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  rmSync(dataDir, { recursive: true, force: true });

  console.log('\ncorral server');
  console.log(`  registered (first reply to all ${n}):  ${(registeredMs / 1000).toFixed(2)} s`);
  console.log(`  all online in the store (via API):     ${(allOnlineMs / 1000).toFixed(2)} s`);
  console.log(`  server RSS: base ${kb(baseRss)} KiB, with agents ${kb(rss)} KiB, after idle ${kb(rssAfterIdle)} KiB`);
  console.log(`  RSS per agent: ${kb((rss - baseRss) / n)} KiB added (${kb(rss / n)} KiB total/agent)`);
  console.log(`  idle CPU over ${idleSeconds}s: ${idleCpu.toFixed(2)} % of one core`);
  console.log(
    `  config change → APPLIED at the agents: p50 ${percentile(lat, 50)} ms, p99 ${percentile(lat, 99)} ms, all ${lat.at(-1)} ms (${lat.length}/${n})`,
  );
  console.log(`  config change → API shows all APPLIED: ${Number.isNaN(serverAllMs) ? `not reached (${serverApplied}/${n})` : `${serverAllMs} ms`}`);

  if (!values['skip-floor']) {
    const floor = spawn(process.execPath, ['--import', 'tsx', join(here, 'ws-floor.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const floorUrl = (await waitForLine(floor, /listening on (http:\/\/\S+)/))[1]!;
    await sleep(1000);
    const floorBase = rssBytes(floor.pid!);
    const f0 = Date.now();
    const floorSims = await startSims(floorUrl, n, procs, heartbeatMs, 'floor');
    const floorConnectMs = Date.now() - f0;
    await sleep(3000);
    const floorRss = rssBytes(floor.pid!);
    const floorCpu = await idleCpuPercent(floor.pid!, Math.min(idleSeconds, 10));
    await floorSims.close();
    floor.kill('SIGTERM');
    console.log('\nfloor: bare ws echo server, same sockets');
    console.log(`  connected all ${n}: ${(floorConnectMs / 1000).toFixed(2)} s`);
    console.log(`  RSS: base ${kb(floorBase)} KiB, with sockets ${kb(floorRss)} KiB; per socket ${kb((floorRss - floorBase) / n)} KiB added`);
    console.log(`  idle CPU: ${floorCpu.toFixed(2)} % of one core`);
  }
}
