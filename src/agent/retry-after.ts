/**
 * Waiting politely after a server refused with 503 or 429: honour its
 * `Retry-After` (seconds or an HTTP date), within bounds, with jitter so a
 * fleet refused together does not come back together. Pure; tests give it
 * the clock and the random source.
 */
import { nextDelayMs, type BackoffPolicy } from './backoff.js';

/** A server asking for longer than this is waited on for this long (plus jitter). */
export const MAX_RETRY_AFTER_MS = 60_000;
/** Never retry sooner than this, whatever the server or the backoff says: no tight loops. */
export const MIN_RETRY_DELAY_MS = 500;

/**
 * The wait a `Retry-After` header asks for, in ms: `"120"` (seconds) or an
 * HTTP date (a date in the past means 0). Null when absent or unreadable.
 */
export function parseRetryAfterMs(header: string | null | undefined, nowMs: number): number | null {
  const v = header?.trim();
  if (!v) return null;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // HTTP dates name the month ("Wed, 25 Nov 2026 12:00:07 GMT"); Date.parse alone would take "-5" as a year.
  if (!/[a-z]/i.test(v)) return null;
  const at = Date.parse(v);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}

/**
 * How long to wait before asking again after refusal number `attempt`
 * (0 = the first). With a Retry-After: never sooner than asked (capped at
 * MAX_RETRY_AFTER_MS), plus up to a quarter of it (at least 1 s) of jitter.
 * Without one: the exponential full-jitter backoff of `policy`. Always at
 * least MIN_RETRY_DELAY_MS.
 */
export function retryDelayMs(retryAfterMs: number | null, attempt: number, policy: BackoffPolicy, random: () => number): number {
  if (retryAfterMs === null) return nextDelayMs(attempt, policy, random, MIN_RETRY_DELAY_MS);
  const base = Math.min(Math.max(retryAfterMs, MIN_RETRY_DELAY_MS), MAX_RETRY_AFTER_MS);
  return base + Math.floor(random() * Math.max(1000, base / 4));
}
