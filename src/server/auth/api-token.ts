/**
 * Who is calling the REST API: the user an API token belongs to. Admin
 * tokens (first start, `server rotate-admin-token`) belong to the built-in
 * user `admin`; user tokens (`corral user token create`) to their user.
 * Refusals say why (revoked, expired, user disabled), since only the
 * holder of the secret can learn it. A token narrowed to its own roles acts
 * with those within the user's roles as they are now (users/token-roles.ts).
 */
import type { Store, TokenRecord } from '../store/index.js';
import { BUILTIN_ADMIN, type Actor } from './actor.js';
import { bearerToken, hashSecret } from './tokens.js';
import { effectiveRoles } from '../users/token-roles.js';

export type ApiAuthentication = { ok: true; actor: Actor } | { ok: false; message: string };

const iso = (ms: number) => new Date(ms).toISOString();
const describe = (t: TokenRecord) => `API token "${t.name}" (${t.prefix}…)`;

export async function authenticateApiToken(store: Store, authorization: string | undefined, now: number): Promise<ApiAuthentication> {
  const secret = bearerToken(authorization);
  if (!secret) return { ok: false, message: 'missing "Authorization: Bearer <API token>" header (corral login, or --token / CORRAL_TOKEN)' };
  const token = await store.users.findTokenByHash(hashSecret(secret));
  if (!token) return { ok: false, message: 'invalid API token' };
  if (token.kind === 'enrollment') return { ok: false, message: 'this is an enrollment token (agents enroll with it); the API needs an API token (corral user token create)' };
  if (token.revokedAt !== null) return { ok: false, message: `${describe(token)} was revoked at ${iso(token.revokedAt)}` };
  if (token.expiresAt !== null && token.expiresAt <= now) return { ok: false, message: `${describe(token)} expired at ${iso(token.expiresAt)}` };
  const user = await store.users.get(token.userId ?? BUILTIN_ADMIN);
  if (!user) return { ok: false, message: `the user of ${describe(token)} no longer exists` };
  if (user.disabledAt !== null) return { ok: false, message: `user ${user.name} is disabled (since ${iso(user.disabledAt)}); an admin can enable it again` };
  return { ok: true, actor: { userId: user.id, name: user.name, tokenId: token.id, roles: effectiveRoles(user.roles, token.roles), tokenRoles: token.roles } };
}
