import { it } from 'node:test';
import assert from 'node:assert/strict';
import { isCrashLoop, nextFailureCount, nextRestartDelay, shouldRestart, type RestartPolicy } from './restart-policy.js';

const policy: RestartPolicy = { policy: 'always', initialDelayMs: 0, maxDelayMs: 10_000, resetAfterMs: 60_000 };

it('restarts by policy: always, on-failure (non-zero or signal), never', () => {
  const clean = { code: 0, signal: null, ranMs: 5 };
  const crash = { code: 1, signal: null, ranMs: 5 };
  const killed = { code: null, signal: 'SIGKILL', ranMs: 5 };
  assert.equal(shouldRestart(policy, clean), true);
  const onFailure = { ...policy, policy: 'on-failure' as const };
  assert.equal(shouldRestart(onFailure, clean), false);
  assert.equal(shouldRestart(onFailure, crash), true);
  assert.equal(shouldRestart(onFailure, killed), true);
  assert.equal(shouldRestart({ ...policy, policy: 'never' }, killed), false);
});

it('restarts at once the first time, then backs off exponentially to the cap, forever', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map((n) => nextRestartDelay(n, policy)), [0, 500, 1000, 2000, 4000, 8000, 10_000]);
  assert.equal(nextRestartDelay(10_000, policy), 10_000);
  const slow = { ...policy, initialDelayMs: 1000 };
  assert.deepEqual([1, 2, 3].map((n) => nextRestartDelay(n, slow)), [1000, 2000, 4000]);
});

it('forgets past failures after a stable run, and calls three quick failures a crash loop', () => {
  assert.equal(nextFailureCount(5, policy, { code: 1, signal: null, ranMs: 59_999 }), 6);
  assert.equal(nextFailureCount(5, policy, { code: 1, signal: null, ranMs: 60_000 }), 1);
  assert.equal(isCrashLoop(2), false);
  assert.equal(isCrashLoop(3), true);
});
