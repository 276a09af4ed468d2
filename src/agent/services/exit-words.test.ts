import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crashLoopReason, describeExit } from './exit-words.js';

describe('exits in words', () => {
  it('says how one exit ended: a code, a signal, or a start that failed', () => {
    assert.equal(describeExit({ code: 3, signal: null, at: 0 }, null), 'exited with code 3');
    assert.equal(describeExit({ code: null, signal: 'SIGKILL', at: 0 }, null), 'killed by SIGKILL');
    assert.equal(describeExit({ code: null, signal: null, at: 0 }, 'spawn bin/x ENOENT'), 'could not start: spawn bin/x ENOENT');
    assert.equal(describeExit(null, null), '');
  });

  it('says a crash loop as the last exit, how many times in a row, and over how long', () => {
    assert.equal(crashLoopReason({ lastExit: { code: 3, signal: null, at: 61_000 }, lastError: null, failures: 4, failingSince: 1_000 }), 'exited with code 3, 4 times in 60 s');
    assert.equal(crashLoopReason({ lastExit: { code: null, signal: 'SIGSEGV', at: 1_400 }, lastError: null, failures: 3, failingSince: 1_000 }), 'killed by SIGSEGV, 3 times in under 1 s');
  });
});
