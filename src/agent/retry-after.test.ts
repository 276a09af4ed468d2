import { it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RETRY_AFTER_MS, MIN_RETRY_DELAY_MS, parseRetryAfterMs, retryDelayMs } from './retry-after.js';

const policy = { initialMs: 1000, maxMs: 30_000 };
const now = Date.parse('2026-11-25T12:00:00Z');

it('reads Retry-After as seconds or as an HTTP date', () => {
  assert.equal(parseRetryAfterMs('3', now), 3000);
  assert.equal(parseRetryAfterMs(' 0 ', now), 0);
  assert.equal(parseRetryAfterMs('Wed, 25 Nov 2026 12:00:07 GMT', now), 7000);
  assert.equal(parseRetryAfterMs('Wed, 25 Nov 2026 11:00:00 GMT', now), 0, 'a date in the past means now');
  assert.equal(parseRetryAfterMs(null, now), null);
  assert.equal(parseRetryAfterMs('', now), null);
  assert.equal(parseRetryAfterMs('-5', now), null);
  assert.equal(parseRetryAfterMs('soon', now), null);
});

it('waits at least what the server asked, plus jitter', () => {
  assert.equal(retryDelayMs(3000, 0, policy, () => 0), 3000);
  assert.equal(retryDelayMs(3000, 0, policy, () => 0.5), 3500);
  assert.equal(retryDelayMs(20_000, 0, policy, () => 0.5), 22_500, 'jitter is up to a quarter of the wait');
});

it('caps a long Retry-After at a minute, and keeps the jitter', () => {
  assert.equal(retryDelayMs(3_600_000, 0, policy, () => 0), MAX_RETRY_AFTER_MS);
  assert.ok(retryDelayMs(3_600_000, 0, policy, () => 0.99) > MAX_RETRY_AFTER_MS);
  assert.ok(retryDelayMs(3_600_000, 0, policy, () => 0.99) <= MAX_RETRY_AFTER_MS * 1.25);
});

it('never retries in a tight loop, even when told to retry at once', () => {
  assert.equal(retryDelayMs(0, 0, policy, () => 0), MIN_RETRY_DELAY_MS);
  assert.equal(retryDelayMs(null, 0, policy, () => 0), MIN_RETRY_DELAY_MS);
});

it('falls back to the exponential backoff without a Retry-After', () => {
  assert.equal(retryDelayMs(null, 0, policy, () => 0.999999), 999);
  assert.equal(retryDelayMs(null, 3, policy, () => 0.5), 4000);
  assert.equal(retryDelayMs(null, 100, policy, () => 0.999999), 29_999);
});
