/**
 * `npm run bench -- rollout [--agents 1000] [--batches 10] [--min-healthy 10] [--database URL]`
 *
 * A real `corral server` and N simulated Corral agents (they report a
 * deployment in effect and healthy the moment it is offered, so the only
 * waiting is the rollout's own). One deployment is installed at once, then
 * changed with a policy of B batches, every agent of a batch at once, each
 * healthy for S seconds before it counts. Prints the rollout's wall time
 * against the sum of its health gates (B × S): the overhead ratio, target
 * ≤ 1.1 — and the server's CPU and RSS during it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADMIN, ENROLL, startSims, waitForLine } from './fleet.js';
import { cpuMs, rssBytes } from './proc-stats.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const CORRAL = join(here, '..', 'dist', 'bin', 'corral.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function corral(args: string[], env: Record<string, string>): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [CORRAL, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`corral ${args.join(' ')}: ${err}`))));
  });
}

export async function rolloutBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      agents: { type: 'string', default: '1000' },
      batches: { type: 'string', default: '10' },
      'min-healthy': { type: 'string', default: '10' },
      procs: { type: 'string', default: '2' },
      database: { type: 'string' },
    },
  });
  const n = Number(values.agents);
  const batches = Number(values.batches);
  const minHealthy = Number(values['min-healthy']);
  const dir = mkdtempSync(join(tmpdir(), 'corral-bench-rollout-'));
  const store = values.database ? `postgres (${new URL(values.database).host})` : 'sqlite';
  console.log(`rollout benchmark: ${n} simulated agents, ${batches} batches, min healthy ${minHealthy}s, store ${store}`);
  const server = spawn(
    process.execPath,
    [CORRAL, 'server', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'server'), '--heartbeat', '30', '--max-connections', String(n + 1000), '--log-level', 'warn', ...(values.database ? ['--database', values.database] : [])],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, CORRAL_ENROLLMENT_TOKEN: ENROLL, CORRAL_ADMIN_TOKEN: ADMIN } },
  );
  try {
    const url = (await waitForLine(server, /listening on (http:\/\/\S+)/))[1]!;
    const cli = { CORRAL_SERVER: url, CORRAL_TOKEN: ADMIN };
    const pkg = join(dir, 'pkg');
    mkdirSync(pkg);
    writeFileSync(join(pkg, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: bench\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
    await corral(['package', 'build', pkg, '--out', join(dir, 'bench.tar.gz')], cli);
    await corral(['package', 'push', join(dir, 'bench.tar.gz')], cli);

    const sims = await startSims(url, n, Number(values.procs), 30_000, 'corral');
    const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
      const res = await fetch(url + path, { method, headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
      if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    };
    const finish = async (id: string, deadlineMs: number) => {
      const until = Date.now() + deadlineMs;
      while (Date.now() < until) {
        const s = await api<{ state: string; reason: string; totals: Record<string, number> }>('GET', `/api/v1/rollouts/${id}`);
        if (s.state === 'succeeded') return Date.now();
        if (s.state !== 'running') throw new Error(`rollout ${s.state}: ${s.reason}`);
        await sleep(100);
      }
      throw new Error(`rollout ${id} did not finish in ${deadlineMs} ms`);
    };
    const deploy = (values: Record<string, string>, rollout: Record<string, unknown>) =>
      api<{ rollout: string }>('POST', '/api/v1/deployments', { name: 'bench', package: 'bench', version: '1.0.0', selector: 'bench=fleet', values, rollout });

    // Install everywhere at once, so the measured rollout is a change.
    const first = await deploy({ round: '1' }, { maxInFlight: '100%', minHealthySeconds: 0 });
    await finish(first.rollout, 120_000);
    await sleep(2000);

    const cpu0 = cpuMs(server.pid!);
    const t0 = Date.now();
    const change = await deploy({ round: '2' }, { batches, maxInFlight: '100%', minHealthySeconds: minHealthy, canary: '0' });
    const t1 = await finish(change.rollout, (batches * minHealthy + 120) * 1000);
    const wall = (t1 - t0) / 1000;
    const cpu = ((cpuMs(server.pid!) - cpu0) / (t1 - t0)) * 100;
    const gates = batches * minHealthy;
    console.log(`  rollout wall time:        ${wall.toFixed(1)} s`);
    console.log(`  sum of health gates:      ${gates} s (${batches} batches x ${minHealthy} s)`);
    console.log(`  overhead ratio:           ${(wall / gates).toFixed(3)} (target <= 1.1)`);
    console.log(`  server CPU during it:     ${cpu.toFixed(1)} % of one core`);
    console.log(`  server RSS after it:      ${(rssBytes(server.pid!) / 1048576).toFixed(0)} MiB`);
    await sims.close();
  } finally {
    server.kill('SIGTERM');
    await sleep(500);
    rmSync(dir, { recursive: true, force: true });
  }
}
