/** The live stream's head: contiguous ids pass, a hole holds it until it is old enough to be for good. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { advanceHead } from './event-feed.js';

describe('advanceHead', () => {
  it('moves over contiguous ids', () => {
    assert.deepEqual(advanceHead({ head: 3, gap: null }, [4, 5, 6], 0, 2000), { head: 6, gap: null, skipped: false });
  });

  it('holds at a hole (an insert not yet committed) until it has waited gapWaitMs, then passes it', () => {
    let s = advanceHead({ head: 3, gap: null }, [4, 6, 7], 1000, 2000);
    assert.deepEqual(s, { head: 4, gap: { after: 4, since: 1000 }, skipped: false }, '5 is missing: 6 and 7 wait');
    s = advanceHead(s, [6, 7], 2999, 2000);
    assert.equal(s.head, 4, 'still waiting');
    assert.deepEqual(advanceHead(s, [5, 6, 7], 2999, 2000), { head: 7, gap: null, skipped: false }, '5 committed: all pass, nothing skipped');
    assert.deepEqual(advanceHead(s, [6, 7], 3000, 2000), { head: 7, gap: null, skipped: true }, 'after gapWaitMs the hole is for good');
  });

  it('times each hole from when it was first seen', () => {
    let s = advanceHead({ head: 0, gap: null }, [2], 0, 100);
    s = advanceHead(s, [2, 4], 100, 100);
    assert.deepEqual(s, { head: 2, gap: { after: 2, since: 100 }, skipped: true }, 'the first hole passed; the next starts its own wait');
  });
});
