/**
 * The upgrade watcher: a small process (`corral agent watch --handover FILE`,
 * started detached by the old agent from its own code) that keeps the new
 * agent or reverts it by the rules in watch-policy.ts. Two modes:
 *
 * Unsupervised (nothing restarts the agent): wait for the old agent to exit
 * (at most 30 s, then SIGKILL to that pid alone) → start the new agent with
 * the same arguments → watch (restarting it after exits) → either
 *   succeed: leave it running, keep the previous version on disk and delete
 *            older ones, remove the handover file, exit;
 *   revert:  stop the new agent (SIGTERM to its pid, 5 s, SIGKILL; never a
 *            process group, so services are untouched), record the failure
 *            (the restored agent reports INSTALL_FAILED and does not retry
 *            the same offer), start the previous version, exit.
 * Agents it starts are detached (their own session) with output appended to
 * agent-upgrade/agent.log, so they outlive the watcher.
 *
 * Supervised (supervised.json present: systemd runs the agent through the
 * launch link `<data>/agent-current` with Restart=always): the watcher starts
 * no agent. It first checks that it can see the unit and that its main
 * process is the old agent, and says so in watcher-ready.json (the old agent
 * points the link at the new version and exits only on that go); then it
 * waits for the old agent to exit, and watches the unit's main pid and
 * automatic-restart count (see supervisedProgress) and the healthy marker
 * (accepted from the unit's current main process only) →
 *   succeed: as above;
 *   revert:  point the link back at the previous version, stop the new agent
 *            (its pid only), record the failure, `systemctl restart` the unit
 *            (if that fails, Restart=always starts the previous version
 *            through the link anyway);
 *   abort:   the unit was stopped by someone meanwhile: point the link back,
 *            record nothing, start nothing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { Logger } from 'pino';
import { processStartTicks } from '../services/supervisor.js';
import {
  HandoverSchema,
  HealthyMarkerSchema,
  agentCommand,
  agentFile,
  SupervisedHandoverSchema,
  WatcherReadySchema,
  healthyFile,
  readJson,
  recordUpgradeFailure,
  supervisedFile,
  upgradeDir,
  versionsDir,
  watcherReadyFile,
  writeJson,
  type Handover,
  type SupervisedHandover,
} from './upgrade-files.js';
import { pointLaunchLink } from './launch-link.js';
import { systemdManager, type ServiceManager, type UnitStatus } from './service-manager.js';
import { DEFAULT_WATCH_POLICY, nextWatchStep, supervisedProgress, type WatchPolicy, type WatchState } from './watch-policy.js';

const POLL_MS = 200;
/** `systemctl show` runs a process per poll: a little slower than the unsupervised poll. */
const SUPERVISED_POLL_MS = 250;
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
    const [command, args] = agentCommand(exec, h.argv);
    const child = spawn(command, args, { cwd: h.cwd, detached: true, stdio: ['ignore', out, out] });
    child.on('error', () => undefined);
    return child;
  } finally {
    closeSync(out);
  }
}

/** Deletes versions other than the running one and the previous one (kept for one more upgrade). */
function pruneVersions(dataDir: string, files: string[], log: Logger): void {
  const dir = versionsDir(dataDir);
  if (!existsSync(dir)) return;
  // The version directory each agent runs from, when it is one of ours.
  const keep = new Set(files.map((s) => relative(dir, s).split(sep)[0]!));
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
export type WatchOutcome = 'succeeded' | 'reverted' | 'aborted';

export interface WatcherDeps {
  log: Logger;
  policy?: Partial<WatchPolicy>;
  /** The service manager of a supervised upgrade (default: systemd, through `systemctl` on PATH). */
  serviceManager?: (unit: string) => ServiceManager;
}

export async function runUpgradeWatcher(handoverPath: string, deps: WatcherDeps): Promise<WatchOutcome> {
  const h = readJson(handoverPath, HandoverSchema);
  if (!h) throw new WatcherError(`${handoverPath}: missing or invalid handover file`);
  // <data>/agent-upgrade/handover.json
  const dataDir = dirname(dirname(handoverPath));
  const policy: WatchPolicy = { ...DEFAULT_WATCH_POLICY, graceMs: h.graceMs, ...deps.policy };
  const log = deps.log.child({ from: h.previous.version, to: h.next.version });
  const supervised = readJson(supervisedFile(dataDir), SupervisedHandoverSchema);
  log.info({ policy, supervisor: supervised?.unit ?? null }, 'watching an agent upgrade');
  if (supervised) {
    const manager = (deps.serviceManager ?? systemdManager)(supervised.unit);
    return runSupervisedWatch({ h, sup: supervised, dataDir, handoverPath, policy, log, manager });
  }

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
      log.info({ pid: c.pid, file: agentFile(h.next), attempt: state.exits.length + 1 }, 'started the new agent');
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
      pruneVersions(dataDir, [agentFile(h.next), agentFile(h.previous)], log);
      finish(dataDir, handoverPath);
      return 'succeeded';
    } else {
      log.error({ reason: decision.reason }, 'upgrade failed: reverting to the previous version');
      if (child?.pid !== undefined) await stopProcess(child.pid, childTicks, log);
      recordUpgradeFailure(dataDir, { hash: h.offerHash, version: h.next.version, error: `upgrade to ${h.next.version} reverted: ${decision.reason}`, at: Date.now() });
      finish(dataDir, handoverPath);
      const restored = startAgent(h.previous, h, dataDir);
      await new Promise((r) => setImmediate(r));
      log.info({ pid: restored.pid, version: h.previous.version }, 'started the previous version');
      restored.unref();
      return 'reverted';
    }
  }
  throw new WatcherError('watch loop did not end');
}

/** Removes what only a running watch needs. */
function finish(dataDir: string, handoverPath: string): void {
  for (const f of [handoverPath, healthyFile(dataDir), supervisedFile(dataDir), watcherReadyFile(dataDir)]) rmSync(f, { force: true });
}

interface SupervisedWatch {
  h: Handover;
  sup: SupervisedHandover;
  dataDir: string;
  handoverPath: string;
  policy: WatchPolicy;
  log: Logger;
  manager: ServiceManager;
}

async function runSupervisedWatch(w: SupervisedWatch): Promise<WatchOutcome> {
  const { h, sup, dataDir, handoverPath, policy, log, manager } = w;
  const ready = (r: { ok: boolean; error: string; baselineRestarts: number }) =>
    writeJson(watcherReadyFile(dataDir), WatcherReadySchema.parse({ pid: process.pid, ...r }));

  // The go/no-go the old agent waits for before it points the link at the new version and exits.
  let baseline: number;
  try {
    const unit = await manager.status();
    if (unit.mainPid !== h.oldPid) {
      throw new WatcherError(`the main process of ${manager.description} is ${unit.mainPid || 'none'}, not the agent that handed over (${h.oldPid})`);
    }
    baseline = unit.restarts;
  } catch (e) {
    const error = `cannot watch under ${manager.description}: ${(e as Error).message}`;
    log.error({ err: error }, 'not watching: the old agent keeps running');
    ready({ ok: false, error, baselineRestarts: 0 });
    return 'aborted';
  }
  ready({ ok: true, error: '', baselineRestarts: baseline });
  log.info({ unit: sup.unit, baseline }, 'watching through the service manager');

  if (!(await waitGone(h.oldPid, h.oldStartTicks, OLD_AGENT_EXIT_MS))) {
    log.warn({ pid: h.oldPid }, 'the old agent did not exit; killing it (its pid only)');
    await stopProcess(h.oldPid, h.oldStartTicks, log);
  }

  const marker = healthyFile(dataDir);
  const state: WatchState = { startedAt: Date.now(), running: false, exits: [], healthyAt: null };
  let unit: UnitStatus | null = null;
  // Bounded: the grace period ends every watch; the count is a second guard.
  for (let i = 0; i < 1_000_000; i++) {
    const now = Date.now();
    try {
      unit = await manager.status();
    } catch (e) {
      // Transient (a busy systemd): the grace period still bounds the watch.
      log.warn({ err: (e as Error).message }, 'cannot read the unit');
    }
    if (unit?.activeState === 'inactive') {
      pointLaunchLink(sup.link, sup.previousTarget);
      finish(dataDir, handoverPath);
      log.warn({ unit: sup.unit }, 'the unit was stopped during the watch: pointed the launch link back at the previous version and started nothing');
      return 'aborted';
    }
    if (unit) {
      const p = supervisedProgress(baseline, unit);
      for (let n = state.exits.length; n < p.exits; n++) {
        state.exits.push({ at: now, code: unit.lastExit?.code ?? null, signal: unit.lastExit?.signal ?? null });
        log.warn({ exits: p.exits, lastExit: unit.lastExit }, 'the new agent exited');
      }
      state.running = p.running;
      const m = readJson(marker, HealthyMarkerSchema);
      if (m && p.running && m.pid === unit.mainPid && m.version === h.next.version) state.healthyAt = now;
    }
    const decision = nextWatchStep(state, now, policy);
    if (decision.action === 'succeed') {
      log.info({ pid: unit?.mainPid }, 'the new agent reported healthy: upgrade done');
      pruneVersions(dataDir, [agentFile(h.next), agentFile(h.previous)], log);
      finish(dataDir, handoverPath);
      return 'succeeded';
    }
    if (decision.action === 'revert') {
      log.error({ reason: decision.reason }, 'upgrade failed: reverting to the previous version');
      pointLaunchLink(sup.link, sup.previousTarget);
      // Stopped before the failure is recorded, so it cannot overwrite the record.
      if (unit && unit.mainPid > 0 && unit.mainPid !== h.oldPid) await stopProcess(unit.mainPid, processStartTicks(unit.mainPid), log);
      recordUpgradeFailure(dataDir, { hash: h.offerHash, version: h.next.version, error: `upgrade to ${h.next.version} reverted: ${decision.reason}`, at: Date.now() });
      finish(dataDir, handoverPath);
      try {
        await manager.restart();
        log.info({ unit: sup.unit, version: h.previous.version }, 'restarted the unit on the previous version');
      } catch (e) {
        log.error({ err: (e as Error).message }, 'cannot restart the unit; Restart=always starts the previous version through the launch link');
      }
      return 'reverted';
    }
    // 'start' too: the service manager starts the new version, not us.
    await sleep(SUPERVISED_POLL_MS);
  }
  throw new WatcherError('watch loop did not end');
}
