/**
 * When to restart a service that exited, and after how long. Pure: tested
 * without processes.
 *
 * - `always` restarts after any exit, `on-failure` after a non-zero exit
 *   or a signal, `never` leaves it exited.
 * - Consecutive failures back off exponentially from `initialDelayMs`
 *   (or 250 ms when that is 0) up to `maxDelayMs`; the first restart waits
 *   `initialDelayMs` (0 = at once).
 * - A run that lasted `resetAfterMs` or longer resets the count.
 * - Nothing ever gives up: a crash loop keeps being retried at the cap and
 *   is reported unhealthy from `CRASH_LOOP_FAILURES` consecutive failures on.
 */
export interface RestartPolicy {
  policy: 'always' | 'on-failure' | 'never';
  initialDelayMs: number;
  maxDelayMs: number;
  resetAfterMs: number;
}

export interface ExitInfo {
  code: number | null;
  signal: string | null;
  /** How long the process ran, ms. */
  ranMs: number;
}

export const CRASH_LOOP_FAILURES = 3;
const BACKOFF_BASE_MS = 250;

export function shouldRestart(policy: RestartPolicy, exit: ExitInfo): boolean {
  if (policy.policy === 'always') return true;
  if (policy.policy === 'never') return false;
  return exit.code !== 0 || exit.signal !== null;
}

/** Consecutive failures after this exit (0 after a long enough run). */
export function nextFailureCount(previous: number, policy: RestartPolicy, exit: ExitInfo): number {
  return exit.ranMs >= policy.resetAfterMs ? 1 : previous + 1;
}

/** Delay before the restart that follows the `failures`-th consecutive failure (1-based). */
export function nextRestartDelay(failures: number, policy: RestartPolicy): number {
  if (failures <= 1) return Math.min(policy.initialDelayMs, policy.maxDelayMs);
  const base = Math.max(policy.initialDelayMs, BACKOFF_BASE_MS);
  return Math.min(policy.maxDelayMs, base * 2 ** Math.min(failures - 1, 30));
}

export function isCrashLoop(failures: number): boolean {
  return failures >= CRASH_LOOP_FAILURES;
}
