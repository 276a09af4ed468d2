/**
 * The upgrade watcher's rules, as a pure function of what it has seen and
 * the time (tested without processes; see watch-policy.test.ts).
 *
 * - success: the new agent reported healthy (connected to the server and had
 *   a message accepted) while the watcher ran it;
 * - failure: no success within `graceMs` of the first start, or more than
 *   `maxExits` exits within `crashWindowMs` (the watcher restarts it in
 *   between, `restartDelayMs` after each exit).
 * Every path ends: the grace period bounds the whole watch.
 */

export interface WatchPolicy {
  /** How long the new agent has to report healthy. Default 60 s. */
  graceMs: number;
  /** Exits counted within this window. Default 60 s. */
  crashWindowMs: number;
  /** More exits than this within the window revert. Default 2. */
  maxExits: number;
  /** Wait after an exit before starting again. Default 1 s. */
  restartDelayMs: number;
}

export const DEFAULT_WATCH_POLICY: WatchPolicy = { graceMs: 60_000, crashWindowMs: 60_000, maxExits: 2, restartDelayMs: 1000 };

export interface AgentExit {
  at: number;
  code: number | null;
  signal: string | null;
}

export interface WatchState {
  /** When the new agent was first started; null before. */
  startedAt: number | null;
  running: boolean;
  exits: AgentExit[];
  /** When the new agent reported healthy; null until it does. */
  healthyAt: number | null;
}

export type WatchDecision =
  | { action: 'start' }
  | { action: 'wait' }
  | { action: 'succeed' }
  | { action: 'revert'; reason: string };

const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;

export function describeExit(e: AgentExit): string {
  return e.signal ? `killed by ${e.signal}` : `exit code ${e.code}`;
}

/** What the watcher does next. */
export function nextWatchStep(state: WatchState, now: number, policy: WatchPolicy): WatchDecision {
  if (state.healthyAt !== null) return { action: 'succeed' };
  if (state.startedAt === null) return { action: 'start' };
  const recent = state.exits.filter((e) => now - e.at <= policy.crashWindowMs);
  const last = state.exits[state.exits.length - 1];
  if (recent.length > policy.maxExits) {
    return { action: 'revert', reason: `the new agent exited ${recent.length} times within ${seconds(policy.crashWindowMs)} (last: ${describeExit(last!)})` };
  }
  if (now - state.startedAt >= policy.graceMs) {
    return {
      action: 'revert',
      reason: `the new agent did not connect and report healthy within ${seconds(policy.graceMs)}${last ? ` (it exited ${state.exits.length} times, last: ${describeExit(last)})` : ''}`,
    };
  }
  if (!state.running && (!last || now - last.at >= policy.restartDelayMs)) return { action: 'start' };
  return { action: 'wait' };
}

/** The new agent's runs as a service manager's restart counter shows them. */
export interface SupervisedProgress {
  /** The manager has started the new version (at least once). */
  started: boolean;
  /** A main process runs now. */
  running: boolean;
  /** How many times the new version has exited so far. */
  exits: number;
}

/**
 * Under a service manager the watcher starts nothing: the old agent exits 0
 * and the manager (Restart=always) starts the new version through the launch
 * link, and again after each exit. `baseline` is the unit's automatic-restart
 * count read while the old agent still ran, so the first restart after it is
 * the new version's first start, every further one followed an exit of it,
 * and no main process after a start is an exit whose restart is pending.
 * Counting restarts rather than watching pids sees exits faster than any poll.
 */
export function supervisedProgress(baseline: number, unit: { mainPid: number; restarts: number }): SupervisedProgress {
  const starts = Math.max(0, unit.restarts - baseline);
  if (starts === 0) return { started: false, running: false, exits: 0 };
  const running = unit.mainPid > 0;
  return { started: true, running, exits: starts - 1 + (running ? 0 : 1) };
}
