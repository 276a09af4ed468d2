import { it } from 'node:test';
import assert from 'node:assert/strict';
import { nextDelayMs } from './backoff.js';

const policy = { initialMs: 1000, maxMs: 30_000 };

it('grows exponentially up to the cap, with full jitter', () => {
  const max = (attempt: number) => nextDelayMs(attempt, policy, () => 0.999999);
  assert.deepEqual([0, 1, 2, 3, 4].map(max), [999, 1999, 3999, 7999, 15999]);
  assert.equal(max(5), 29_999);
  assert.equal(max(1000), 29_999, 'capped, and no overflow for huge attempt counts');
  assert.equal(nextDelayMs(3, policy, () => 0), 0);
  assert.equal(nextDelayMs(3, policy, () => 0.5), 4000);
});

it('never waits less than the server asked (Retry-After)', () => {
  assert.equal(nextDelayMs(0, policy, () => 0.1, 5000), 5000);
  assert.equal(nextDelayMs(5, policy, () => 0.9, 5000), 27_000);
});
