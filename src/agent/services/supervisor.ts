/**
 * Supervises one service process: starts it in its own process group with
 * output appended to files (not piped through the agent), restarts it per
 * its restart policy, and stops it with the stop signal to the whole group,
 * a grace period, then SIGKILL to the group.
 *
 * States (changed only in `setState`, each change logged and emitted):
 *   starting → running → (exit) → backoff → starting …
 *                      → (exit, no restart) → exited
 *   any → stopping → stopped         (stop(): desired state "stopped")
 *
 * With a cgroup (spec.cgroup, services declaring `resources`): the child
 * waits at a gate (a shell reading fd 3) until the agent has moved it into
 * the cgroup, then execs the program, so nothing it runs ever starts
 * outside. Stop signals every process in the cgroup and SIGKILLs whatever is
 * left, whatever it did with process groups or sessions; when the main
 * process exits on its own, what it left behind is killed before a restart
 * (like systemd's KillMode=control-group). An exit by SIGKILL while the
 * cgroup's OOM-kill counter rose is reported as "killed: out of memory".
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isCrashLoop, nextFailureCount, nextRestartDelay, shouldRestart, type RestartPolicy } from './restart-policy.js';
import { systemTimers, type Timers } from './timers.js';
import type { ProcessCgroup } from '../cgroups/process-cgroup.js';
import { formatBytes } from '../../protocol/index.js';

export type ServiceState = 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped' | 'exited';

export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  stopSignal: NodeJS.Signals;
  stopGraceMs: number;
  restart: RestartPolicy;
  /** stdout.log and stderr.log go here. */
  logDir: string;
  /** Start the process as this user (the agent must be root). */
  runAs?: { uid: number; gid: number };
  /** The service's own cgroup: its processes (children included) start in it and stop with it. */
  cgroup?: ProcessCgroup;
}

/** How a process ended: its code or signal, and why in words where the agent knows more (an OOM kill). */
export interface ExitRecord {
  code: number | null;
  signal: string | null;
  at: number;
  /** e.g. "killed: out of memory (limit 256 MiB)". */
  reason?: string;
}

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  pid: number | null;
  startedAt: number | null;
  /** Restarts since the supervisor was created. */
  restarts: number;
  /** Consecutive failures (reset by a stable run). */
  failures: number;
  /** When the first of those consecutive failures happened; null with none. */
  failingSince: number | null;
  crashLoop: boolean;
  lastExit: ExitRecord | null;
  /** Why the last start failed, e.g. a missing executable. */
  lastError: string | null;
}

/** Starts the process; tests substitute one that fails on demand. */
export type Spawner = (spec: ServiceSpec) => ChildProcess;

/**
 * With a cgroup, /bin/sh waits here until the agent writes "go" to fd 3 (after
 * moving the shell into the cgroup), then closes fd 3 and becomes the
 * program; exit 125 when the agent went away instead.
 */
const CGROUP_GATE = 'read -r go <&3 && [ "$go" = go ] || exit 125; exec 3<&-; exec "$0" "$@"';
export const GATE_EXIT_CODE = 125;

/** argv for /bin/sh that runs `command args` once the gate opens. */
export function gatedArgs(command: string, args: readonly string[]): string[] {
  return ['-c', CGROUP_GATE, command, ...args];
}

export const spawnInOwnGroup: Spawner = (spec) => {
  mkdirSync(spec.logDir, { recursive: true });
  if (spec.cgroup && spec.command.includes('/')) {
    // The shell would report a missing program only in stderr.log; say it as spawn does.
    try {
      accessSync(spec.command, constants.X_OK);
    } catch (e) {
      throw new Error(`spawn ${spec.command} ${(e as NodeJS.ErrnoException).code ?? 'EACCES'}`);
    }
  }
  const out = openSync(join(spec.logDir, 'stdout.log'), 'a', 0o640);
  const err = openSync(join(spec.logDir, 'stderr.log'), 'a', 0o640);
  try {
    // detached: its own process group, so stop() reaches its children and it outlives an agent restart.
    if (spec.cgroup) {
      return spawn('/bin/sh', gatedArgs(spec.command, spec.args), { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', out, err, 'pipe'], ...(spec.runAs ?? {}) });
    }
    return spawn(spec.command, spec.args, { cwd: spec.cwd, env: spec.env, detached: true, stdio: ['ignore', out, err], ...(spec.runAs ?? {}) });
  } finally {
    closeSync(out);
    closeSync(err);
  }
};

const ADOPTED_POLL_MS = 200;

/**
 * The kernel's start time of a process (clock ticks since boot, /proc/<pid>/stat
 * field 22): with the pid it identifies the process, so a recycled pid is
 * never mistaken for our service. Null when the process is gone.
 */
export function processStartTicks(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19] ?? null;
  } catch {
    return null;
  }
}

/**
 * Moves the gated child into its cgroup and lets it exec. Returns why it
 * could not (the child is then killed at the gate, before the program ran).
 */
export function openGate(child: ChildProcess, cgroup: ProcessCgroup): string | null {
  const gate = child.stdio[3] as (NodeJS.WritableStream & { destroy(): void; on(e: 'error', f: () => void): unknown }) | undefined;
  gate?.on('error', () => undefined);
  try {
    cgroup.place(child.pid!);
  } catch (e) {
    gate?.destroy();
    child.kill('SIGKILL');
    return `could not join its cgroup: ${(e as Error).message}`;
  }
  gate?.end('go\n');
  return null;
}

function killGroup(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

export class ServiceSupervisor extends EventEmitter {
  private child: ChildProcess | null = null;
  private timer: unknown = null;
  private exitWaiters: (() => void)[] = [];
  private adopted: NodeJS.Timeout | null = null;
  private readonly st: ServiceStatus;
  /** Why the child could not join its cgroup (reported as its start error). */
  private gateError: string | null = null;
  /** The cgroup's OOM counter when the current process started. */
  private oomBase: number | null = null;

  constructor(
    private readonly spec: ServiceSpec,
    private readonly deps: { log: Logger; spawn?: Spawner; timers?: Timers },
  ) {
    super();
    this.st = { name: spec.name, state: 'stopped', pid: null, startedAt: null, restarts: 0, failures: 0, failingSince: null, crashLoop: false, lastExit: null, lastError: null };
  }

  private get timers(): Timers {
    return this.deps.timers ?? systemTimers;
  }

  status(): ServiceStatus {
    return { ...this.st };
  }

  private setState(state: ServiceState, fields: Partial<ServiceStatus> = {}): void {
    const from = this.st.state;
    Object.assign(this.st, fields, { state });
    this.deps.log.info({ service: this.spec.name, from, to: state, pid: this.st.pid, failures: this.st.failures }, 'service state');
    this.emit('state', this.status());
  }

  /** Desired state "running": starts now unless it already runs or waits to restart. */
  start(): void {
    if (this.st.state === 'running' || this.st.state === 'starting' || this.st.state === 'backoff') return;
    this.launch();
  }

  private launch(): void {
    this.timer = null;
    this.setState('starting');
    const cgroup = this.spec.cgroup;
    this.gateError = null;
    if (cgroup) {
      // Whatever an earlier run left behind goes first, so the new process starts alone.
      cgroup.signalAll('SIGKILL');
      this.oomBase = cgroup.oomCount();
    }
    let child: ChildProcess;
    try {
      child = (this.deps.spawn ?? spawnInOwnGroup)(this.spec);
    } catch (e) {
      return this.onExit(null, null, Date.now(), (e as Error).message);
    }
    this.child = child;
    if (cgroup && child.pid !== undefined) this.gateError = openGate(child, cgroup);
    const startedAt = Date.now();
    child.once('error', (e) => {
      // spawn failures (ENOENT, EACCES) arrive here without an exit event.
      if (child.pid === undefined) this.onExit(null, null, startedAt, e.message);
    });
    child.once('exit', (code, signal) => this.onExit(code, signal, startedAt, null));
    if (child.pid !== undefined) {
      child.unref();
      this.setState('running', { pid: child.pid, startedAt, lastError: null });
    }
  }

  /** "killed: out of memory (limit 256 MiB)" when the kernel's OOM killer ended it; null otherwise. */
  private oomReason(signal: string | null): string | null {
    const cgroup = this.spec.cgroup;
    if (!cgroup || signal !== 'SIGKILL' || this.st.state === 'stopping') return null;
    const now = cgroup.oomCount();
    if (now === null || this.oomBase === null || now <= this.oomBase) return null;
    const limit = cgroup.limits.memoryMaxBytes;
    return `killed: out of memory${limit !== undefined ? ` (limit ${formatBytes(limit)})` : ''}`;
  }

  private onExit(code: number | null, signal: string | null, startedAt: number, error: string | null): void {
    this.child = null;
    const now = Date.now();
    if (error === null && this.gateError !== null) error = this.gateError;
    const reason = this.oomReason(signal);
    // The main process is gone: so is everything it started (a stop kills them itself).
    if (this.spec.cgroup && this.st.state !== 'stopping') this.spec.cgroup.signalAll('SIGKILL');
    const exit = { code, signal, ranMs: now - startedAt };
    const fields: Partial<ServiceStatus> = { pid: null, lastExit: { code, signal, at: now, ...(reason ? { reason } : {}) }, lastError: error };
    if (reason) this.deps.log.warn({ service: this.spec.name, limitBytes: this.spec.cgroup?.limits.memoryMaxBytes ?? null }, 'service killed by the kernel: out of memory');
    for (const w of this.exitWaiters.splice(0)) w();
    if (this.st.state === 'stopping') return this.setState('stopped', fields);
    if (!shouldRestart(this.spec.restart, exit) && error === null) return this.setState('exited', fields);
    const failures = nextFailureCount(this.st.failures, this.spec.restart, exit);
    const delay = nextRestartDelay(failures, this.spec.restart);
    this.deps.log.warn({ service: this.spec.name, code, signal, error, failures, delayMs: delay }, 'service exited; restarting');
    const failingSince = failures === 1 ? now : (this.st.failingSince ?? now);
    this.setState('backoff', { ...fields, failures, failingSince, crashLoop: isCrashLoop(failures) });
    this.timer = this.timers.setTimeout(() => {
      this.st.restarts++;
      this.launch();
    }, delay);
  }

  /**
   * Takes over a process started by an earlier agent (same service, still
   * running), instead of starting a second copy. Its exit is noticed by
   * polling, since it is not our child.
   */
  adopt(pid: number, startedAt: number): void {
    const identity = processStartTicks(pid);
    this.oomBase = this.spec.cgroup?.oomCount() ?? null;
    this.setState('running', { pid, startedAt, lastError: null });
    this.adopted = setInterval(() => {
      if (processStartTicks(pid) === identity && identity !== null) return;
      clearInterval(this.adopted!);
      this.adopted = null;
      this.onExit(null, null, startedAt, null);
    }, ADOPTED_POLL_MS);
  }

  /** A stable run clears the crash-loop flag once the reset period has passed. */
  refreshHealth(now = Date.now()): void {
    if (this.st.state === 'running' && this.st.startedAt !== null && now - this.st.startedAt >= this.spec.restart.resetAfterMs && this.st.failures > 0) {
      this.setState('running', { failures: 0, failingSince: null, crashLoop: false });
    }
  }

  /**
   * Desired state "stopped": the stop signal to the process group, then
   * SIGKILL to the group after the grace period. Resolves when it has exited.
   */
  async stop(): Promise<void> {
    if (this.timer) this.timers.clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    if (this.adopted && this.st.pid !== null) return this.stopAdopted(this.st.pid);
    if (!child || child.pid === undefined) {
      // Nothing of ours runs, but a cgroup may still hold what an earlier run left.
      await this.spec.cgroup?.killAll();
      if (this.st.state !== 'stopped') this.setState('stopped', { pid: null });
      return;
    }
    const pid = child.pid;
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    // Keep the agent alive until the exit is seen (children are unref'd so they may outlive it otherwise).
    child.ref();
    this.setState('stopping');
    this.signal(pid, this.spec.stopSignal);
    const grace = this.timers.setTimeout(() => {
      this.deps.log.warn({ service: this.spec.name, pid }, 'grace period over; killing the process group');
      this.signal(pid, 'SIGKILL');
    }, this.spec.stopGraceMs);
    await exited;
    this.timers.clearTimeout(grace);
    await this.killRest(pid);
  }

  /** The stop signal or SIGKILL to the process group and, with a cgroup, to every process in it. */
  private signal(pid: number, signal: NodeJS.Signals): void {
    killGroup(pid, signal);
    this.spec.cgroup?.signalAll(signal);
  }

  /** After the main process: what outlived it, in its group and (with a cgroup) anywhere in the cgroup. */
  private async killRest(pid: number): Promise<void> {
    killGroup(pid, 'SIGKILL');
    try {
      await this.spec.cgroup?.killAll();
    } catch (e) {
      this.deps.log.error({ service: this.spec.name, err: (e as Error).message }, 'processes left in the service cgroup after stop');
    }
  }

  private async stopAdopted(pid: number): Promise<void> {
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve));
    this.setState('stopping');
    this.signal(pid, this.spec.stopSignal);
    const grace = this.timers.setTimeout(() => this.signal(pid, 'SIGKILL'), this.spec.stopGraceMs);
    await exited;
    this.timers.clearTimeout(grace);
    await this.killRest(pid);
  }
}
