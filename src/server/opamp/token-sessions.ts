/**
 * Sessions that hold nothing but an enrollment token live only as long as
 * the token: revoking it ends them on every replica (the hub checks on each
 * fleet change, which revocation announces through the store's fleet
 * version, and when a WebSocket connection sends its first message).
 */
import type { Store } from '../store/index.js';
import type { Principal } from '../auth/principal.js';
import type { Session } from './session.js';

/** WebSocket close code for a session whose enrollment token was revoked. */
export const TOKEN_REVOKED_CLOSE_CODE = 4003;

/** Token ids looked up per store query. */
const HELD_CHUNK = 500;

/** The enrollment tokens held by `principals` that are no longer active (revoked or gone). */
export async function inactiveEnrollmentTokens(store: Store, principals: Iterable<Principal>): Promise<Set<string>> {
  const held = new Set<string>();
  for (const p of principals) if (p.kind === 'enrollment') held.add(p.tokenId);
  if (held.size === 0) return held;
  // Only the tokens held, a chunk at a time: never every enrollment token ever made.
  const ids = [...held];
  const active = new Set<string>();
  for (let i = 0; i < ids.length; i += HELD_CHUNK) for (const id of await store.tokens.unrevokedIds(ids.slice(i, i + HELD_CHUNK))) active.add(id);
  return new Set(ids.filter((id) => !active.has(id)));
}

/** The sessions that hold only an enrollment token that is no longer active. */
export async function sessionsOfRevokedTokens(store: Store, sessions: Iterable<Session>): Promise<Session[]> {
  const all = [...sessions];
  const revoked = await inactiveEnrollmentTokens(store, all.map((s) => s.principal));
  return all.filter((s) => s.principal.kind === 'enrollment' && revoked.has(s.principal.tokenId));
}
