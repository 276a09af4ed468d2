/** The supervisor with real child processes: restart after kill -9, crash loops, group stop. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { eventually } from '../../testkit/eventually.js';
import { processAlive } from '../../testkit/process-alive.js';
import { ManualTimers } from '../../testkit/manual-timers.js';
import { ServiceSupervisor, type ServiceSpec } from './supervisor.js';
import { requirement } from '../../testkit/requirement.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
const supervisors: ServiceSupervisor[] = [];

function supervise(name: string, script: string, overrides: Partial<ServiceSpec> = {}, timers?: ManualTimers): ServiceSupervisor {
  const dir = mkdtempSync(join(tmpdir(), 'corral-svc-'));
  dirs.push(dir);
  const s = new ServiceSupervisor(
    {
      name,
      command: '/bin/sh',
      args: ['-c', script],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      cwd: dir,
      stopSignal: 'SIGTERM',
      stopGraceMs: 500,
      restart: { policy: 'always', initialDelayMs: 0, maxDelayMs: 400, resetAfterMs: 60_000 },
      logDir: join(dir, 'logs'),
      ...overrides,
    },
    { log, ...(timers ? { timers } : {}) },
  );
  supervisors.push(s);
  return s;
}

const alive = processAlive;

after(async () => {
  await Promise.all(supervisors.map((s) => s.stop()));
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('service supervisor', () => {
  it('brings a service back at once after kill -9, and sends its output to files', async () => {
    const s = supervise('echoer', 'echo started $$; exec sleep 1000');
    s.start();
    const first = await eventually(() => s.status().state === 'running' && (s.status().pid ?? undefined), { what: 'running' });
    const logDir = join(dirs.at(-1)!, 'logs');
    const starts = () => readFileSync(join(logDir, 'stdout.log'), 'utf8').split('\n').filter((l) => l.startsWith('started')).length;
    // Kill it only once it has really started (printed), so the log must show two starts.
    await eventually(() => starts() === 1, { what: 'first start logged' });
    process.kill(first, 'SIGKILL');
    const second = await eventually(() => {
      const st = s.status();
      return st.state === 'running' && st.pid !== first && st.pid;
    }, { what: 'a new process' });
    assert.notEqual(second, first);
    assert.equal(s.status().restarts, 1);
    assert.equal(s.status().lastExit?.signal, 'SIGKILL');
    await eventually(() => starts() === 2, { what: 'two starts logged' });
  });

  it('reports a crash loop and keeps retrying at the capped backoff, and schedules nothing after stop', async () => {
    const timers = new ManualTimers();
    const s = supervise('crasher', 'echo boom >&2; exit 3', {}, timers);
    const states: string[] = [];
    s.on('state', (st: { state: string }) => states.push(st.state));
    s.start();
    // Each exit schedules one restart: the first at once, then backing off (250 ms doubled) capped at 400 ms.
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      await eventually(() => s.status().state === 'backoff' && timers.pending().length === 1, { what: `exit ${i + 1} waiting to restart` });
      delays.push(timers.pending()[0]!);
      timers.runNext();
    }
    assert.deepEqual(delays, [0, 400, 400, 400, 400]);
    const looping = await eventually(() => (s.status().state === 'backoff' ? s.status() : undefined), { what: 'the sixth exit' });
    assert.equal(looping.crashLoop, true);
    assert.equal(looping.restarts, 5);
    assert.equal(looping.failures, 6);
    assert.equal(looping.lastExit?.code, 3);
    assert.ok(looping.failingSince !== null && looping.failingSince <= looping.lastExit!.at);
    assert.ok(!states.includes('exited'), 'always-restart never gives up');
    await s.stop();
    assert.equal(s.status().state, 'stopped');
    assert.deepEqual(timers.pending(), [], 'the pending restart was called off: nothing can restart it');
    assert.equal(s.status().restarts, 5);
  });

  it('leaves a cleanly exited on-failure service exited', async () => {
    const s = supervise('oneshot', 'exit 0', { restart: { policy: 'on-failure', initialDelayMs: 0, maxDelayMs: 400, resetAfterMs: 60_000 } });
    s.start();
    await eventually(() => s.status().state === 'exited', { what: 'exited' });
    assert.equal(s.status().restarts, 0);
  });

  it('stops the whole process group: stop signal, grace period, then SIGKILL', async () => {
    // Ignores SIGTERM and has a child of its own.
    const timers = new ManualTimers();
    const s = supervise('stubborn', "trap '' TERM; sleep 1000 & echo $! > child.pid; wait", {}, timers);
    s.start();
    const pid = await eventually(() => s.status().state === 'running' && (s.status().pid ?? undefined), { what: 'running' });
    const childPid = await eventually(() => Number(readFileSync(join(dirs.at(-1)!, 'child.pid'), 'utf8')), { what: 'child pid' });
    assert.ok(alive(childPid));
    const stopped = s.stop();
    // SIGTERM is ignored: it stays stopping, with the grace period's SIGKILL scheduled, until that fires.
    assert.equal(s.status().state, 'stopping');
    assert.deepEqual(timers.pending(), [500]);
    assert.ok(alive(pid), 'still running within the grace period');
    timers.runNext();
    await stopped;
    assert.equal(s.status().state, 'stopped');
    await eventually(() => !alive(pid) && !alive(childPid), { what: 'group gone' });
  });

  it('starts the service as run.user', async (t) => {
    if (!requirement(t, process.getuid?.() === 0, 'needs root to switch users')) return;
    const s = supervise('as-nobody', 'id -u; exec sleep 1000', { runAs: { uid: 65534, gid: 65534 } });
    s.start();
    const logDir = join(dirs.at(-1)!, 'logs');
    await eventually(() => readFileSync(join(logDir, 'stdout.log'), 'utf8').trim() === '65534', { what: 'id -u printed 65534' });
    await s.stop();
  });

  it('reports a missing executable as a failure with the reason, and retries', async () => {
    const s = supervise('missing', '', { command: '/nonexistent/bin/app', args: [] });
    s.start();
    const st = await eventually(() => (s.status().lastError ? s.status() : undefined), { what: 'spawn error' });
    assert.match(st.lastError!, /ENOENT/);
    await eventually(() => s.status().restarts >= 1, { what: 'retry' });
  });
});
