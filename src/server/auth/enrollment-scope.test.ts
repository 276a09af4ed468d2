import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileTokenScope, enrollmentRefusal, parseDurationMs, refusalFor } from './enrollment-scope.js';
import { ValidationError } from '../errors.js';

const NOW = Date.parse('2026-01-01T00:00:00Z');

describe('enrollment token scope', () => {
  it('reads durations in seconds, minutes, hours and days, and nothing else', () => {
    assert.equal(parseDurationMs('90s'), 90_000);
    assert.equal(parseDurationMs('30m'), 1_800_000);
    assert.equal(parseDurationMs('24h'), 86_400_000);
    assert.equal(parseDurationMs('7d'), 604_800_000);
    for (const bad of ['', '24', 'h', '1.5h', '-1h', '1w', '24 hours']) assert.equal(parseDurationMs(bad), null, bad);
  });

  it('compiles labels, expiry, cap and approval, with no scope by default', () => {
    assert.deepEqual(compileTokenScope({}, NOW), { labels: {}, expiresAt: null, maxAgents: null, requireApproval: false });
    assert.deepEqual(compileTokenScope({ labels: { env: 'prod' }, expiresIn: '24h', maxAgents: 5, requireApproval: true }, NOW), {
      labels: { env: 'prod' },
      expiresAt: NOW + 86_400_000,
      maxAgents: 5,
      requireApproval: true,
    });
    assert.equal(compileTokenScope({ expiresAt: '2026-02-01T00:00:00Z' }, NOW).expiresAt, Date.parse('2026-02-01T00:00:00Z'));
  });

  it('names the field that is wrong', () => {
    const bad: [Parameters<typeof compileTokenScope>[0], RegExp][] = [
      [{ labels: { 'claim.env': 'x' } }, /claim\./],
      [{ labels: { env: 'a b' } }, /label env: value "a b"/],
      [{ expiresIn: '1h', expiresAt: '2026-02-01T00:00:00Z' }, /not both/],
      [{ expiresAt: 'tomorrow' }, /expiresAt: "tomorrow"/],
      [{ expiresIn: '100000d' }, /ten years/],
      [{ maxAgents: 1.5 }, /maxAgents/],
    ];
    for (const [input, message] of bad) assert.throws(() => compileTokenScope(input, NOW), (e: unknown) => e instanceof ValidationError && message.test(e.message));
  });

  it('refuses an expired token with 401 and a full one with 403, saying which', () => {
    assert.equal(enrollmentRefusal({ id: 't', name: 'n', expiresAt: null }, NOW), null);
    assert.equal(enrollmentRefusal({ id: 't', name: 'n', expiresAt: NOW + 1 }, NOW), null);
    const expired = enrollmentRefusal({ id: 't', name: 'rack-4', expiresAt: NOW }, NOW);
    assert.equal(expired?.status, 401);
    assert.match(expired!.message, /rack-4 \(t\) expired at 2026-01-01T00:00:00.000Z/);
    const full = refusalFor('token-exhausted', { id: 't', name: 'rack-4', maxAgents: 3 });
    assert.equal(full?.status, 403);
    assert.match(full!.message, /maximum of 3 agents/);
    assert.equal(refusalFor('enrolled', { id: 't' }), null);
    assert.equal(refusalFor('exists', { id: 't' }), null);
  });
});
