/**
 * `npm run bench -- restart-latency [--rounds N]`
 *
 * Restart latency after a crash (process dead → new process running, no
 * backoff), Corral's supervisor beside supervisord from Debian's packages,
 * on the same machine in the same run. Both supervise the same service: a
 * shell that writes its pid to a file and then execs `sleep`. The bench
 * SIGKILLs the service and polls the pid file every millisecond for the
 * new pid, so both are measured the same way, from outside.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { ServiceSupervisor } from '../src/agent/services/supervisor.js';
import { percentile } from './proc-stats.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function readPid(file: string): number | null {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(n) && n > 0 ? n : null;
  } catch {
    return null;
  }
}

async function waitForPid(file: string, not: number | null, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = readPid(file);
    if (pid !== null && pid !== not) return pid;
    if (Date.now() > deadline) throw new Error(`no new pid in ${file} within ${timeoutMs} ms`);
    await sleep(1);
  }
}

/** Kills the service `rounds` times; returns the latencies in ms. */
async function measure(pidFile: string, rounds: number): Promise<number[]> {
  const latencies: number[] = [];
  let pid = await waitForPid(pidFile, null);
  for (let i = 0; i < rounds; i++) {
    await sleep(50);
    const t0 = performance.now();
    process.kill(pid, 'SIGKILL');
    pid = await waitForPid(pidFile, pid);
    latencies.push(performance.now() - t0);
  }
  return latencies;
}

const fmt = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 50).toFixed(1)} ms, p99 ${percentile(s, 99).toFixed(1)} ms, max ${s.at(-1)!.toFixed(1)} ms (${s.length} restarts)`;
};

export async function restartLatencyBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { rounds: { type: 'string', default: '30' } } });
  const rounds = Number(values.rounds);
  const dir = mkdtempSync(join(tmpdir(), 'corral-restart-'));
  const script = (pidFile: string) => `echo $$ > ${pidFile}.tmp && mv ${pidFile}.tmp ${pidFile}; exec sleep 100000`;
  console.log(`restart latency: ${rounds} SIGKILLs each, service = sh writing its pid, then exec sleep`);

  const corralPid = join(dir, 'corral.pid');
  const sup = new ServiceSupervisor(
    {
      name: 'bench',
      command: '/bin/sh',
      args: ['-c', script(corralPid)],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      cwd: dir,
      stopSignal: 'SIGTERM',
      stopGraceMs: 1000,
      restart: { policy: 'always', initialDelayMs: 0, maxDelayMs: 0, resetAfterMs: 1 },
      logDir: join(dir, 'corral-logs'),
    },
    { log: pino({ level: 'silent' }) },
  );
  sup.start();
  const corral = await measure(corralPid, rounds);
  await sup.stop();
  console.log(`  corral supervisor: ${fmt(corral)}`);

  if (!existsSync('/usr/bin/supervisord')) {
    console.log('  supervisord: not installed (apt-get install -y supervisor) — skipped');
  } else {
    const supPid = join(dir, 'supervisord.pid');
    const conf = join(dir, 'supervisord.conf');
    writeFileSync(
      conf,
      `[supervisord]
nodaemon=true
logfile=${join(dir, 'supervisord.log')}
pidfile=${join(dir, 'supervisord.self.pid')}
[unix_http_server]
file=${join(dir, 'supervisor.sock')}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
[program:bench]
command=/bin/sh -c '${script(supPid)}'
autorestart=true
startsecs=0
startretries=1000000
`,
    );
    const daemon = spawn('/usr/bin/supervisord', ['-c', conf], { stdio: 'ignore' });
    try {
      const theirs = await measure(supPid, rounds);
      console.log(`  supervisord ${execFileSync('/usr/bin/supervisord', ['--version']).toString().trim()}: ${fmt(theirs)}`);
      const ratio = percentile([...theirs].sort((a, b) => a - b), 50) / percentile([...corral].sort((a, b) => a - b), 50);
      console.log(`  median ratio supervisord / corral: ${ratio.toFixed(1)}x`);
    } finally {
      daemon.kill('SIGTERM');
      await new Promise((r) => daemon.once('exit', r));
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
