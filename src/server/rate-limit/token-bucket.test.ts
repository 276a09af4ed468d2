import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { KeyedBuckets, TokenBucket } from './token-bucket.js';

function fakeClock(start = 1_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('TokenBucket', () => {
  it('allows a burst of capacity, then one per refill interval, and says when', () => {
    const clock = fakeClock();
    const b = new TokenBucket({ capacity: 3, refillPerSecond: 2 }, clock);
    for (let i = 0; i < 3; i++) assert.deepEqual(b.take(), { ok: true });
    assert.deepEqual(b.take(), { ok: false, retryAfterMs: 500 });
    clock.advance(250);
    assert.deepEqual(b.take(), { ok: false, retryAfterMs: 250 });
    clock.advance(250);
    assert.deepEqual(b.take(), { ok: true });
  });

  it('never holds more than its capacity however long it was idle', () => {
    const clock = fakeClock();
    const b = new TokenBucket({ capacity: 2, refillPerSecond: 10 }, clock);
    clock.advance(3600_000);
    assert.equal(b.full, true);
    assert.deepEqual([b.take().ok, b.take().ok, b.take().ok], [true, true, false]);
  });
});

describe('KeyedBuckets', () => {
  it('keeps keys apart and bounds how many it remembers', () => {
    const clock = fakeClock();
    const k = new KeyedBuckets({ capacity: 1, refillPerSecond: 1 }, clock, 100);
    assert.equal(k.take('a').ok, true);
    assert.equal(k.take('a').ok, false);
    assert.equal(k.take('b').ok, true, 'another key has its own bucket');
    for (let i = 0; i < 1000; i++) k.take(`flood-${i}`);
    assert.ok(k.size <= 100, `at most 100 keys, got ${k.size}`);
  });

  it('peeks without taking', () => {
    const clock = fakeClock();
    const k = new KeyedBuckets({ capacity: 1, refillPerSecond: 1 }, clock);
    assert.equal(k.peek('x').ok, true);
    assert.equal(k.take('x').ok, true);
    assert.deepEqual(k.peek('x'), { ok: false, retryAfterMs: 1000 });
  });
});
