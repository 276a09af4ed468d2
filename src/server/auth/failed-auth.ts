/**
 * Failed authentication, per source address, for every edge (REST,
 * /metrics, OpAMP over HTTP and WebSocket): logged as one structured line
 * per address per interval (not one per request), and slowed: past a burst
 * of failures an address gets 429 + Retry-After for everything until its
 * budget refills (see limits.ts).
 */
import type { Logger } from 'pino';
import type { Clock } from '../clock.js';
import { KeyedBuckets, type TakeResult } from '../rate-limit/token-bucket.js';
import { FAILED_AUTH_LOG_INTERVAL_MS, FAILED_AUTH_PER_ADDRESS, MAX_TRACKED_ADDRESSES } from './limits.js';

export type AuthEdge = 'rest' | 'metrics' | 'opamp';

interface LogState {
  loggedAt: number;
  failures: number;
  refused: number;
}

export class FailedAuthGuard {
  private readonly buckets: KeyedBuckets;
  private readonly logs = new Map<string, LogState>();

  constructor(private readonly deps: { log: Logger; clock: Clock; onFailure?: (edge: AuthEdge) => void; onRefused?: (edge: AuthEdge) => void }) {
    this.buckets = new KeyedBuckets(FAILED_AUTH_PER_ADDRESS, deps.clock, MAX_TRACKED_ADDRESSES);
  }

  /** Whether a request from `address` may try to authenticate; when not, how long it should wait. Counts refusals for the log. */
  admit(address: string, edge: AuthEdge): TakeResult {
    const r = this.buckets.peek(address);
    if (!r.ok) {
      this.deps.onRefused?.(edge);
      this.note(address, edge, 'refused');
    }
    return r;
  }

  /** A request from `address` presented no valid credential. */
  failed(address: string, edge: AuthEdge): void {
    this.buckets.take(address);
    this.deps.onFailure?.(edge);
    this.note(address, edge, 'failures');
  }

  private note(address: string, edge: AuthEdge, what: 'failures' | 'refused'): void {
    const now = this.deps.clock.now();
    let s = this.logs.get(address);
    if (!s) {
      if (this.logs.size >= MAX_TRACKED_ADDRESSES) this.logs.delete(this.logs.keys().next().value!);
      s = { loggedAt: -Infinity, failures: 0, refused: 0 };
      this.logs.set(address, s);
    }
    s[what]++;
    if (now - s.loggedAt < FAILED_AUTH_LOG_INTERVAL_MS) return;
    this.deps.log.warn(
      { address, edge, failures: s.failures, refused: s.refused, sinceMs: Number.isFinite(s.loggedAt) ? now - s.loggedAt : 0, intervalMs: FAILED_AUTH_LOG_INTERVAL_MS },
      'authentication failed',
    );
    s.loggedAt = now;
    s.failures = 0;
    s.refused = 0;
  }
}

/** The peer address of a request (the socket's; proxies are not trusted for this). */
export function sourceAddress(socket: { remoteAddress?: string | undefined }): string {
  return socket.remoteAddress ?? 'unknown';
}
