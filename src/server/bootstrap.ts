/**
 * First start: create an admin token and an enrollment token, store only
 * their hashes and hand the secrets back once for printing. Automation can
 * choose them with CORRAL_ADMIN_TOKEN / CORRAL_ENROLLMENT_TOKEN.
 */
import type { Store } from './store/index.js';
import { newTokenRecord } from './auth/tokens.js';
import { CorralError, ValidationError } from './errors.js';
import { BUILTIN_ADMIN } from './auth/actor.js';

export interface BootstrapSecrets {
  adminToken: string;
  enrollmentToken: string;
}

const MIN_CHOSEN_TOKEN_LENGTH = 16;

function chosen(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (value.length < MIN_CHOSEN_TOKEN_LENGTH || /\s/.test(value)) {
    throw new ValidationError(`${name} must be at least ${MIN_CHOSEN_TOKEN_LENGTH} characters without spaces`, name);
  }
  return value;
}

/** Returns the new secrets on first start, null when the store was already set up. */
export async function bootstrapTokens(store: Store, env: Record<string, string | undefined>, now: number): Promise<BootstrapSecrets | null> {
  if ((await store.listTokens('admin')).length > 0) return null;
  const admin = newTokenRecord('admin', 'initial admin', now, chosen('CORRAL_ADMIN_TOKEN', env.CORRAL_ADMIN_TOKEN));
  const enrollment = newTokenRecord('enrollment', 'initial enrollment', now, chosen('CORRAL_ENROLLMENT_TOKEN', env.CORRAL_ENROLLMENT_TOKEN));
  await store.createToken(enrollment.record);
  // The admin token goes last: its presence marks the store as set up.
  await store.createToken({ ...admin.record, userId: BUILTIN_ADMIN });
  return { adminToken: admin.secret, enrollmentToken: enrollment.secret };
}

/**
 * Replaces every admin token with a new one (for `corral server rotate-admin-token`).
 * It is the way back in when no admin is left: the built-in user `admin` is
 * enabled again and holds admin on the whole fleet afterwards.
 * Throws STORE_NOT_SET_UP on a store no server has started on (no admin token ever made):
 * that is a wrong --data-dir/--database, and a token made there would work nowhere.
 */
export async function rotateAdminToken(store: Store, now: number, secret?: string): Promise<string> {
  const existing = await store.listTokens('admin');
  if (existing.length === 0) throw new CorralError('STORE_NOT_SET_UP', 'no Corral store here: no server has started on it (it has no admin token); pass the server\'s --data-dir or --database');
  // With the tokens created with them (a leaked admin token's children go too).
  for (const t of existing) if (t.revokedAt === null) await store.users.revokeToken(t.userId ?? BUILTIN_ADMIN, t.id, now);
  const admin = newTokenRecord('admin', 'rotated admin', now, chosen('CORRAL_ADMIN_TOKEN', secret));
  const user = await store.users.get(BUILTIN_ADMIN);
  if (!user) throw new CorralError('STORE_NOT_SET_UP', `the built-in user ${BUILTIN_ADMIN} is missing from this store`);
  await store.users.setDisabled(BUILTIN_ADMIN, null, { keepAdmin: false });
  if (!user.roles.some((r) => r.role === 'admin' && r.selector === '')) await store.users.setRoles(BUILTIN_ADMIN, [...user.roles, { role: 'admin', selector: '' }], { keepAdmin: false });
  await store.createToken({ ...admin.record, userId: BUILTIN_ADMIN });
  return admin.secret;
}
