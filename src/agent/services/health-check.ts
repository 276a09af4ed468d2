/**
 * Service health checks from the manifest: an HTTP URL (2xx/3xx), a TCP
 * port that accepts, or a command that exits 0 — each with a timeout, run
 * every interval. A service turns healthy after `healthyThreshold`
 * successes in a row and unhealthy after `unhealthyThreshold` failures.
 * (`process` checks need nothing here: the supervisor knows.)
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import type { RenderedHealthCheck } from '../../protocol/index.js';
import { request } from '../http-request.js';

/** The manifest's check with deployment values filled in (renderHealthCheck). */
export type CheckSpec = RenderedHealthCheck;

/** Where a `command` check runs: the service's directory, environment and user. */
export interface ProbeOptions {
  cwd: string;
  env: Record<string, string>;
  runAs?: { uid: number; gid: number };
}

export interface CheckState {
  /** null until a threshold has been reached. */
  healthy: boolean | null;
  successes: number;
  failures: number;
  lastError: string;
}

export const INITIAL_CHECK_STATE: CheckState = { healthy: null, successes: 0, failures: 0, lastError: '' };

/** Pure: the state after one probe. */
export function nextCheckState(prev: CheckState, result: { ok: boolean; error?: string }, spec: { healthyThreshold: number; unhealthyThreshold: number }): CheckState {
  if (result.ok) {
    const successes = prev.successes + 1;
    return { healthy: successes >= spec.healthyThreshold ? true : prev.healthy, successes, failures: 0, lastError: '' };
  }
  const failures = prev.failures + 1;
  return { healthy: failures >= spec.unhealthyThreshold ? false : prev.healthy, successes: 0, failures, lastError: result.error ?? 'check failed' };
}

/** Runs one probe; never throws. */
export async function probe(spec: CheckSpec, opts: ProbeOptions): Promise<{ ok: boolean; error?: string }> {
  const timeoutMs = spec.timeoutSeconds * 1000;
  switch (spec.type) {
    case 'process':
      return { ok: true };
    case 'http': {
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        // A redirect is an answer (3xx counts as up) and is not followed.
        const res = await request(spec.url, { signal });
        res.destroy();
        const status = res.statusCode ?? 0;
        return status < 400 ? { ok: true } : { ok: false, error: `GET ${spec.url} answered ${status}` };
      } catch (e) {
        if (signal.aborted) return { ok: false, error: `GET ${spec.url} failed: timed out after ${timeoutMs} ms` };
        return { ok: false, error: `GET ${spec.url} failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}` };
      }
    }
    case 'tcp':
      return new Promise((resolve) => {
        const socket = connect({ host: spec.host, port: spec.port, timeout: timeoutMs });
        const done = (r: { ok: boolean; error?: string }) => {
          socket.destroy();
          resolve(r);
        };
        socket.once('connect', () => done({ ok: true }));
        socket.once('timeout', () => done({ ok: false, error: `tcp ${spec.host}:${spec.port}: timed out after ${timeoutMs} ms` }));
        socket.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: `tcp ${spec.host}:${spec.port}: ${e.code ?? e.message}` }));
      });
    case 'command':
      return new Promise((resolve) => {
        const user = opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {};
        execFile(spec.command, spec.args, { cwd: opts.cwd, env: opts.env, timeout: timeoutMs, ...user }, (err, _stdout, stderr) => {
          if (!err) return resolve({ ok: true });
          const why = err.killed ? `timed out after ${timeoutMs} ms` : `exit ${String(err.code)}`;
          resolve({ ok: false, error: `${spec.command}: ${why}${stderr ? `: ${stderr.trim().slice(0, 200)}` : ''}` });
        });
      });
  }
}

/** Probes on an interval while started; reports changes of `healthy`. */
export class HealthChecker {
  state: CheckState = INITIAL_CHECK_STATE;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  /** Bumped on every stop, so late probe results are dropped. */
  private generation = 0;

  constructor(
    private spec: CheckSpec,
    private readonly opts: ProbeOptions,
    private readonly onChange: (state: CheckState) => void,
  ) {}

  start(): void {
    if (this.timer || this.spec.type === 'process') return;
    this.state = INITIAL_CHECK_STATE;
    this.timer = setInterval(() => void this.tick(), this.spec.intervalSeconds * 1000);
    void this.tick();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    const generation = this.generation;
    try {
      const result = await probe(this.spec, this.opts);
      // A probe that started before a stop/start says nothing about the new process.
      if (generation !== this.generation) return;
      const before = this.state;
      this.state = nextCheckState(before, result, this.spec);
      if (this.state.healthy !== before.healthy) this.onChange(this.state);
    } finally {
      this.running = false;
    }
  }

  /** Probes `spec` from now on (deployment values changed what it renders to); a running checker starts over with it. */
  setSpec(spec: CheckSpec): void {
    const wasRunning = this.timer !== null;
    this.stop();
    this.spec = spec;
    if (wasRunning) this.start();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.generation++;
    this.state = INITIAL_CHECK_STATE;
  }
}
