/** `--since` / `--until` of corral audit: a duration ago or an ISO date-time; anything else is refused naming the flag. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { timeFlag } from './audit.js';

describe('corral audit time flags', () => {
  const now = Date.parse('2026-11-29T12:00:00.000Z');
  it('reads a duration as that long ago', () => {
    assert.equal(timeFlag('--since', '1h', now), '2026-11-29T11:00:00.000Z');
    assert.equal(timeFlag('--since', '7d', now), '2026-11-22T12:00:00.000Z');
    assert.equal(timeFlag('--since', '90s', now), '2026-11-29T11:58:30.000Z');
  });
  it('reads an ISO 8601 date-time', () => {
    assert.equal(timeFlag('--until', '2026-01-02T03:04:05Z', now), '2026-01-02T03:04:05.000Z');
    assert.equal(timeFlag('--until', '2026-01-02', now), '2026-01-02T00:00:00.000Z');
  });
  it('refuses anything else, naming the flag', () => {
    for (const bad of ['yesterday', '1w', '-1h', '12', '']) {
      assert.throws(() => timeFlag('--since', bad, now), (e: Error) => /--since must be a duration ago/.test(e.message), bad);
    }
  });
});
