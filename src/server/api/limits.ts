/**
 * REST API edge limits, in one place. Rates are token buckets: `capacity`
 * is the burst, `refillPerSecond` the sustained rate.
 */
import type { BucketPolicy } from '../rate-limit/token-bucket.js';

/** Requests from one source address (authenticated or not). */
export const REST_REQUESTS_PER_ADDRESS: BucketPolicy = { capacity: 400, refillPerSecond: 100 };
/** Requests with one bearer token (keyed by the token's hash, so wrong tokens count too). */
export const REST_REQUESTS_PER_TOKEN: BucketPolicy = { capacity: 200, refillPerSecond: 50 };
/** Bytes of a JSON request body; package uploads (POST /api/v1/packages) stream and have their own bound (1 GiB). */
export const MAX_REST_BODY_BYTES = 4 * 1024 * 1024;
/** Distinct addresses and tokens remembered for rate limiting. */
export const MAX_RATE_LIMIT_KEYS = 10_000;
/** Live event streams (GET /api/v1/stream) open at once with one token, per server process; more get 429. */
export const MAX_STREAMS_PER_TOKEN = 8;
/** Live event streams open at once on one server process, all tokens together; more get 429. */
export const MAX_STREAMS = 500;
/** A live event stream ends after this long; the client reconnects with Last-Event-ID and misses nothing. */
export const MAX_STREAM_MS = 3600_000;
