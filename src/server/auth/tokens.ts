/**
 * Secrets: admin tokens, user API tokens, enrollment tokens and agent credentials.
 *
 * A secret is `corral_<kind>_<43 chars of base64url>` (256 random bits).
 * Only its sha256 is stored; a plain hash is enough because the secret has
 * full entropy (nothing to brute-force as with a password).
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { NewTokenRecord, TokenKind } from '../store/index.js';

export type SecretKind = TokenKind | 'agent';

const PREFIX: Record<SecretKind, string> = {
  admin: 'corral_admin_',
  enrollment: 'corral_enroll_',
  agent: 'corral_agent_',
  user: 'corral_user_',
};

export function generateSecret(kind: SecretKind): string {
  return PREFIX[kind] + randomBytes(32).toString('base64url');
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Builds a token record for a secret (given, e.g. from CORRAL_ADMIN_TOKEN, or generated). */
export function newTokenRecord(kind: TokenKind, name: string, now: number, secret = generateSecret(kind)): { record: NewTokenRecord; secret: string } {
  return {
    secret,
    record: {
      id: randomUUID(),
      kind,
      name,
      hash: hashSecret(secret),
      prefix: secret.slice(0, PREFIX[kind].length + 4),
      createdAt: now,
      revokedAt: null,
    },
  };
}

/** Extracts the token from `Authorization: Bearer <token>`; null when absent or malformed. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}
