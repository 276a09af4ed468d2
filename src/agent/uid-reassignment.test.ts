import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { uuidStringToBytes } from '../protocol/index.js';
import { LogThrottle, ReassignmentBudget, judgeNewInstanceUid } from './uid-reassignment.js';

const CURRENT = '0190f1c2-7b3a-7c41-9e2d-5a6b7c8d9e0f';
const OTHER = '4b1e7c0a-52f3-4d6e-8a9b-0c1d2e3f4a5b';

describe('judgeNewInstanceUid', () => {
  it('accepts 16 bytes, not all zero, other than the uid in use', () => {
    assert.deepEqual(judgeNewInstanceUid(CURRENT, uuidStringToBytes(OTHER)), { accept: true, uid: OTHER });
  });

  it('refuses a uid of the wrong length, naming the length', () => {
    assert.deepEqual(judgeNewInstanceUid(CURRENT, new Uint8Array(0)), { accept: false, reason: 'new_instance_uid must be 16 bytes, got 0' });
    assert.deepEqual(judgeNewInstanceUid(CURRENT, new Uint8Array(17).fill(1)), { accept: false, reason: 'new_instance_uid must be 16 bytes, got 17' });
  });

  it('refuses the all-zero uid and the uid already in use', () => {
    assert.deepEqual(judgeNewInstanceUid(CURRENT, new Uint8Array(16)), { accept: false, reason: 'new_instance_uid is all zero' });
    assert.deepEqual(judgeNewInstanceUid(CURRENT, uuidStringToBytes(CURRENT)), { accept: false, reason: `new_instance_uid ${CURRENT} is the uid already in use` });
  });
});

describe('ReassignmentBudget', () => {
  it('allows at most max adoptions in any window, then again once the oldest leaves it', () => {
    const budget = new ReassignmentBudget({ max: 3, windowMs: 60_000 });
    assert.equal(budget.take(0), true);
    assert.equal(budget.take(10_000), true);
    assert.equal(budget.take(20_000), true);
    assert.equal(budget.take(30_000), false, 'a fourth within the minute is refused');
    assert.equal(budget.retryInMs(30_000), 30_000);
    assert.equal(budget.take(59_999), false);
    assert.equal(budget.take(60_000), true, 'the first left the window');
    assert.equal(budget.take(60_001), false, 'refusals are not counted, but the window is still full');
    assert.equal(budget.retryInMs(60_001), 9_999);
  });

  it('defaults to 3 per minute', () => {
    const budget = new ReassignmentBudget();
    const taken = Array.from({ length: 10 }, () => budget.take(1000)).filter(Boolean).length;
    assert.equal(taken, 3);
  });
});

describe('LogThrottle', () => {
  it('lets the first occurrence through, then one per window, counting those it held back', () => {
    const throttle = new LogThrottle(60_000);
    assert.deepEqual(throttle.note(1000), { log: true, suppressed: 0 });
    for (let t = 2000; t < 61_000; t += 1000) assert.deepEqual(throttle.note(t), { log: false });
    assert.deepEqual(throttle.note(61_000), { log: true, suppressed: 59 }, 'a window after the last line');
    assert.deepEqual(throttle.note(61_001), { log: false });
    assert.deepEqual(throttle.note(500_000), { log: true, suppressed: 1 });
    assert.deepEqual(throttle.note(700_000), { log: true, suppressed: 0 }, 'a quiet spell: nothing held back');
  });
});
