/**
 * When a token a user creates for themselves expires: never later than
 * the token creating it (a stolen token cannot mint one that outlives it),
 * never more than OWN_TOKEN_MAX_LIFETIME_DAYS from now, and by default
 * OWN_TOKEN_DEFAULT_LIFETIME_DAYS from now, or with its creator if sooner.
 */
import { compileTokenScope } from '../auth/enrollment-scope.js';
import { ValidationError } from '../errors.js';
import { OWN_TOKEN_DEFAULT_LIFETIME_DAYS, OWN_TOKEN_MAX_LIFETIME_DAYS } from './limits.js';

const DAY_MS = 24 * 3600_000;
const iso = (ms: number) => new Date(ms).toISOString();

export interface OwnTokenExpiryInput {
  /** ISO 8601 date-time. */
  expiresAt?: string | undefined;
  /** A duration from now: `90s`, `30m`, `24h`, `7d`. */
  expiresIn?: string | undefined;
}

/**
 * The expiry (ms) of a token created at `now` by a token expiring at
 * `creatorExpiresAt` (null: never). Throws ValidationError naming the
 * field and the bound when the asked expiry is malformed, past, or beyond
 * either cap; an expiry left out is cut to the creator's instead.
 */
export function ownTokenExpiry(input: OwnTokenExpiryInput, creatorExpiresAt: number | null, now: number): number {
  const asked = compileTokenScope({ expiresAt: input.expiresAt, expiresIn: input.expiresIn }, now).expiresAt;
  if (asked === null) {
    const byDefault = now + OWN_TOKEN_DEFAULT_LIFETIME_DAYS * DAY_MS;
    return creatorExpiresAt === null ? byDefault : Math.min(byDefault, creatorExpiresAt);
  }
  const field = input.expiresIn !== undefined ? 'expiresIn' : 'expiresAt';
  const what = `${field}: ${input.expiresIn ?? input.expiresAt} (${iso(asked)})`;
  if (asked - now > OWN_TOKEN_MAX_LIFETIME_DAYS * DAY_MS) {
    throw new ValidationError(`${what} is more than ${OWN_TOKEN_MAX_LIFETIME_DAYS} days from now, the longest a token you create may live (OWN_TOKEN_MAX_LIFETIME_DAYS); an admin can create a longer-lived one`, field);
  }
  if (creatorExpiresAt !== null && asked > creatorExpiresAt) {
    throw new ValidationError(`${what} is after ${iso(creatorExpiresAt)}, when the token you are using expires: a token cannot outlive the token that creates it`, field);
  }
  return asked;
}
