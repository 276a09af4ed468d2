/**
 * A token bucket on an injected clock: `capacity` tokens at most (the
 * burst), refilled continuously at `refillPerSecond`. `take()` either takes
 * one token or says how long until one is there.
 */
import type { Clock } from '../clock.js';

export interface BucketPolicy {
  /** Most tokens held: the burst allowed after a quiet spell. */
  capacity: number;
  /** Tokens added per second: the sustained rate. */
  refillPerSecond: number;
}

export type TakeResult = { ok: true } | { ok: false; retryAfterMs: number };

export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly policy: BucketPolicy,
    private readonly clock: Clock,
  ) {
    this.tokens = policy.capacity;
    this.updatedAt = clock.now();
  }

  private refill(): void {
    const now = this.clock.now();
    const elapsedMs = Math.max(0, now - this.updatedAt);
    this.tokens = Math.min(this.policy.capacity, this.tokens + (elapsedMs / 1000) * this.policy.refillPerSecond);
    this.updatedAt = now;
  }

  take(): TakeResult {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) / this.policy.refillPerSecond) * 1000) };
  }

  /** Whether a token is there now, without taking it. */
  peek(): TakeResult {
    this.refill();
    return this.tokens >= 1 ? { ok: true } : { ok: false, retryAfterMs: Math.ceil(((1 - this.tokens) / this.policy.refillPerSecond) * 1000) };
  }

  /** True when the bucket is full again (it can be forgotten: a new one would be the same). */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.policy.capacity;
  }
}

/**
 * One bucket per key (a source address, a token), at most `maxKeys` of
 * them: when full, buckets that have refilled completely are forgotten, and
 * if none has, the oldest is — so a flood of new keys costs bounded memory
 * (at worst an old key's bucket starts over full).
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly policy: BucketPolicy,
    private readonly clock: Clock,
    private readonly maxKeys = 10_000,
  ) {}

  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict();
      b = new TokenBucket(this.policy, this.clock);
      this.buckets.set(key, b);
    }
    return b;
  }

  private evict(): void {
    for (const [k, b] of this.buckets) if (b.full) this.buckets.delete(k);
    if (this.buckets.size >= this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
  }

  take(key: string): TakeResult {
    return this.bucket(key).take();
  }

  peek(key: string): TakeResult {
    return this.buckets.get(key)?.peek() ?? { ok: true };
  }
}
