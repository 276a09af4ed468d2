import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ownTokenExpiry } from './own-token-expiry.js';
import { ValidationError } from '../errors.js';

const DAY = 24 * 3600_000;
const now = Date.parse('2026-01-01T00:00:00Z');

describe('ownTokenExpiry', () => {
  it('defaults to 90 days, or to when the creating token expires if sooner', () => {
    assert.equal(ownTokenExpiry({}, null, now), now + 90 * DAY);
    assert.equal(ownTokenExpiry({}, now + 10 * DAY, now), now + 10 * DAY);
    assert.equal(ownTokenExpiry({}, now + 200 * DAY, now), now + 90 * DAY);
  });

  it('takes an expiry within both caps', () => {
    assert.equal(ownTokenExpiry({ expiresIn: '365d' }, null, now), now + 365 * DAY);
    assert.equal(ownTokenExpiry({ expiresIn: '7d' }, now + 7 * DAY, now), now + 7 * DAY);
    assert.equal(ownTokenExpiry({ expiresAt: '2026-02-01T00:00:00Z' }, null, now), Date.parse('2026-02-01T00:00:00Z'));
  });

  it('refuses an expiry past a year, naming the bound', () => {
    assert.throws(() => ownTokenExpiry({ expiresIn: '366d' }, null, now), (e: unknown) => e instanceof ValidationError && /more than 365 days from now.*OWN_TOKEN_MAX_LIFETIME_DAYS/.test(e.message) && e.field === 'expiresIn');
  });

  it('refuses an expiry after the creating token expires, saying when that is', () => {
    assert.throws(
      () => ownTokenExpiry({ expiresAt: '2026-01-03T00:00:00Z' }, now + DAY, now),
      (e: unknown) => e instanceof ValidationError && /is after 2026-01-02T00:00:00.000Z, when the token you are using expires/.test(e.message) && e.field === 'expiresAt',
    );
  });

  it('refuses malformed and past expiries as for any token', () => {
    assert.throws(() => ownTokenExpiry({ expiresIn: 'forever' }, null, now), /not a duration/);
    assert.throws(() => ownTokenExpiry({ expiresAt: '2025-01-01T00:00:00Z' }, null, now), /in the past/);
  });
});
