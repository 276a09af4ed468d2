/**
 * Reconnect backoff: exponential with full jitter (AWS's "full jitter"),
 * capped. Pure, so tests give it the random source.
 */
export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 30_000 };

/**
 * Delay before reconnect attempt `attempt` (0 = the first retry):
 * uniform in [0, min(max, initial * 2^attempt)], never below `floorMs`
 * (a server's Retry-After).
 */
export function nextDelayMs(attempt: number, policy: BackoffPolicy, random: () => number, floorMs = 0): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.min(attempt, 30));
  return Math.max(floorMs, Math.floor(random() * ceiling));
}
