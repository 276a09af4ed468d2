/**
 * Authentication edge limits (REST and OpAMP alike), in one place.
 */
import type { BucketPolicy } from '../rate-limit/token-bucket.js';

/**
 * Failed authentications one source address may have: a burst of 20, then
 * one every 2 s. Past it, every request from that address is answered 429 +
 * Retry-After before its credential is even looked at, until the bucket refills.
 */
export const FAILED_AUTH_PER_ADDRESS: BucketPolicy = { capacity: 20, refillPerSecond: 0.5 };
/** At most one log line per source address per this interval, counting what happened in between. */
export const FAILED_AUTH_LOG_INTERVAL_MS = 60_000;
/** Source addresses remembered for failed authentication (bounded memory under a spread-out attack). */
export const MAX_TRACKED_ADDRESSES = 10_000;

/**
 * New agents one enrollment token, and one source address, may enroll: a
 * burst of ten seconds' worth, then 100 a second (so 10,000 hosts enroll in
 * under two minutes, and a leaked token cannot mint agents faster). Changed
 * with --max-enrollments-per-second (the fleet benchmark uses 1000).
 */
export const DEFAULT_ENROLLMENTS_PER_SECOND_PER_TOKEN = 100;
export const ENROLLMENT_BURST_SECONDS = 10;
