/**
 * The rate of new agents per enrollment token and per source address, each
 * with the same policy (--max-enrollments-per-second, burst ten seconds' worth; the
 * NUMBER of agents a token may enroll is the token's own scope). Past it the
 * enrolling agent is told to retry later: 429 + Retry-After over HTTP, an
 * Unavailable error response with RetryInfo over WebSocket.
 */
import type { Clock } from '../clock.js';
import { RateLimitedError } from '../errors.js';
import { KeyedBuckets } from '../rate-limit/token-bucket.js';
import { ENROLLMENT_BURST_SECONDS, MAX_TRACKED_ADDRESSES } from './limits.js';

export class EnrollmentLimiter {
  private readonly perToken: KeyedBuckets;
  private readonly perAddress: KeyedBuckets;

  constructor(
    private readonly opts: { perSecondPerToken: number; clock: Clock; onLimited?: () => void },
  ) {
    const policy = { capacity: opts.perSecondPerToken * ENROLLMENT_BURST_SECONDS, refillPerSecond: opts.perSecondPerToken };
    this.perToken = new KeyedBuckets(policy, opts.clock, MAX_TRACKED_ADDRESSES);
    this.perAddress = new KeyedBuckets(policy, opts.clock, MAX_TRACKED_ADDRESSES);
  }

  /** Counts one new agent for `tokenId` (and `address`); throws RateLimitedError when either is over its rate. */
  admit(tokenId: string, address: string | undefined): void {
    const byAddress = address === undefined ? ({ ok: true } as const) : this.perAddress.peek(address);
    if (!byAddress.ok) throw this.limited(`more than ${this.opts.perSecondPerToken} enrollments a second from this address`, byAddress.retryAfterMs);
    const byToken = this.perToken.take(tokenId);
    if (!byToken.ok) throw this.limited(`more than ${this.opts.perSecondPerToken} enrollments a second with this enrollment token`, byToken.retryAfterMs);
    if (address !== undefined) this.perAddress.take(address);
  }

  private limited(why: string, retryAfterMs: number): RateLimitedError {
    this.opts.onLimited?.();
    return new RateLimitedError(`${why}; retry later`, Math.max(1, Math.ceil(retryAfterMs / 1000)));
  }
}
