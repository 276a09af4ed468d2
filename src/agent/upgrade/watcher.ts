/**
 * The upgrade watcher: a small process (`corral agent watch --handover FILE`,
 * started detached by the old agent from its own code) that starts the new
 * agent with the same arguments and keeps it or reverts it by the rules in
 * watch-policy.ts.
 *
 * Lifecycle: wait for the old agent to exit (at most 30 s, then SIGKILL to
 * that pid alone) → start the new agent → watch (restarting it after exits)
 * → either
 *   succeed: leave it running, keep the previous version on disk and delete
 *            older ones, remove the handover file, exit;
 *   revert:  stop the new agent (SIGTERM to its pid, 5 s, SIGKILL; never a
 *            process group, so services are untouched), record the failure
 *            (the restored agent reports INSTALL_FAILED and does not retry
 *            the same offer), start the previous version, exit.
 * Agents it starts are detached (their own session) with output appended to
 * agent-upgrade/agent.log, so they outlive the watcher.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { processStartTicks } from '../services/supervisor.js';
import {
  HandoverSchema,
  HealthyMarkerSchema,
  healthyFile,
  readJson,
  recordUpgradeFailure,
  upgradeDir,
  versionsDir,
  type Handover,
} from './upgrade-files.js';
import { DEFAULT_WATCH_POLICY, nextWatchStep, type WatchPolicy, type WatchState } from './watch-policy.js';

const POLL_MS = 200;
const OLD_AGENT_EXIT_MS = 30_000;
const STOP_GRACE_MS = 5000;

export class WatcherError extends Error {
  readonly code = 'UPGRADE_WATCHER';
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function alive(pid: number, startTicks: string | null): boolean {
  const ticks = processStartTicks(pid);
  return ticks !== null && (startTicks === null || ticks === startTicks);
}

/** Waits up to `ms` for the process to be gone; true when it is. */
async function waitGone(pid: number, startTicks: string | null, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!alive(pid, startTicks)) return true;
    await sleep(100);
  }
  return !alive(pid, startTicks);
}

/** SIGTERM to this one pid, a grace period, then SIGKILL. Never a process group. */
async function stopProcess(pid: number, startTicks: string | null, log: Logger): Promise<void> {
  if (!alive(pid, startTicks)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch (err) {
    log.debug({ pid, err: (err as Error).message }, 'SIGTERM failed');
  }
  if (await waitGone(pid, startTicks, STOP_GRACE_MS)) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch (err) {
    log.debug({ pid, err: (err as Error).message }, 'SIGKILL failed');
  }
  await waitGone(pid, startTicks, STOP_GRACE_MS);
}

function startAgent(exec: Handover['next'], h: Handover, dataDir: string): ChildProcess {
  const out = openSync(join(upgradeDir(dataDir), 'agent.log'), 'a', 0o640);
  try {
    const child = spawn(exec.node, [...exec.nodeArgs, exec.script, ...h.argv], { cwd: h.cwd, detached: true, stdio: ['ignore', out, out] });
    child.on('error', () => undefined);
    return child;
  } finally {
    closeSync(out);
  }
}

/** Deletes versions other than the running one and the previous one (kept for one more upgrade). */
function pruneVersions(dataDir: string, scripts: string[], log: Logger): void {
  const dir = versionsDir(dataDir);
  if (!existsSync(dir)) return;
  // The version directory each script runs from, when it is one of ours.
  const keep = new Set(scripts.map((s) => relative(dir, s).split(sep)[0]!));
  for (const name of readdirSync(dir)) {
    if (keep.has(name)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    log.info({ version: name }, 'removed an old agent version');
  }
}

/**
 * Runs the watch described by `handoverPath` (in `<data>/agent-upgrade/`).
 * Resolves with the outcome; throws WatcherError for an unreadable handover.
 */
export async function runUpgradeWatcher(handoverPath: string, deps: { log: Logger; policy?: Partial<WatchPolicy> }): Promise<'succeeded' | 'reverted'> {
  const h = readJson(handoverPath, HandoverSchema);
  if (!h) throw new WatcherError(`${handoverPath}: missing or invalid handover file`);
  // <data>/agent-upgrade/handover.json
  const dataDir = dirname(dirname(handoverPath));
  const policy: WatchPolicy = { ...DEFAULT_WATCH_POLICY, graceMs: h.graceMs, ...deps.policy };
  const log = deps.log.child({ from: h.previous.version, to: h.next.version });
  log.info({ policy }, 'watching an agent upgrade');

  if (!(await waitGone(h.oldPid, h.oldStartTicks, OLD_AGENT_EXIT_MS))) {
    log.warn({ pid: h.oldPid }, 'the old agent did not exit; killing it (its pid only)');
    await stopProcess(h.oldPid, h.oldStartTicks, log);
  }

  const marker = healthyFile(dataDir);
  rmSync(marker, { force: true });
  const state: WatchState = { startedAt: null, running: false, exits: [], healthyAt: null };
  let child: ChildProcess | null = null;
  let childTicks: string | null = null;
  // Bounded: the grace period ends every watch; the count is a second guard.
  for (let i = 0; i < 1_000_000; i++) {
    const now = Date.now();
    const decision = nextWatchStep(state, now, policy);
    if (decision.action === 'start') {
      const c = startAgent(h.next, h, dataDir);
      child = c;
      state.startedAt ??= now;
      state.running = true;
      await new Promise((r) => setImmediate(r));
      childTicks = c.pid !== undefined ? processStartTicks(c.pid) : null;
      log.info({ pid: c.pid, script: h.next.script, attempt: state.exits.length + 1 }, 'started the new agent');
      c.once('exit', (code, signal) => {
        state.exits.push({ at: Date.now(), code, signal });
        state.running = false;
        log.warn({ pid: c.pid, code, signal }, 'the new agent exited');
      });
    } else if (decision.action === 'wait') {
      await sleep(POLL_MS);
      const m = readJson(marker, HealthyMarkerSchema);
      if (m && child && m.pid === child.pid && state.running) state.healthyAt = Date.now();
    } else if (decision.action === 'succeed') {
      log.info({ pid: child?.pid }, 'the new agent reported healthy: upgrade done');
      child?.unref();
      pruneVersions(dataDir, [h.next.script, h.previous.script], log);
      rmSync(handoverPath, { force: true });
      rmSync(marker, { force: true });
      return 'succeeded';
    } else {
      log.error({ reason: decision.reason }, 'upgrade failed: reverting to the previous version');
      if (child?.pid !== undefined) await stopProcess(child.pid, childTicks, log);
      recordUpgradeFailure(dataDir, { hash: h.offerHash, version: h.next.version, error: `upgrade to ${h.next.version} reverted: ${decision.reason}`, at: Date.now() });
      rmSync(handoverPath, { force: true });
      rmSync(marker, { force: true });
      const restored = startAgent(h.previous, h, dataDir);
      await new Promise((r) => setImmediate(r));
      log.info({ pid: restored.pid, version: h.previous.version }, 'started the previous version');
      restored.unref();
      return 'reverted';
    }
  }
  throw new WatcherError('watch loop did not end');
}
