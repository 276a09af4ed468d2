/**
 * Users and their API tokens: create, list, disable/enable, change roles,
 * delete; mint (shown once), list and revoke tokens, by an admin for any
 * user or by a user for themselves (bounded by the token they call with). Validates every input
 * (names, roles, selectors, expiry) and bounds counts (limits.ts).
 *
 * Guards: the last enabled user holding admin on the whole fleet cannot be
 * disabled, demoted or deleted (LAST_ADMIN); nobody disables or deletes
 * their own user (ask another admin: it keeps a lone admin from locking
 * themself out by mistake); the built-in `admin` can be disabled but not
 * deleted (`corral server rotate-admin-token` re-enables it: the way back in).
 */
import { randomUUID } from 'node:crypto';
import type { Store, TokenRecord, UserRecord } from '../store/index.js';
import { BUILTIN_ADMIN, ROLES, SYSTEM_ACTOR, type Actor, type Role, type RoleBinding } from '../auth/actor.js';
import { newTokenRecord } from '../auth/tokens.js';
import { compileTokenScope } from '../auth/enrollment-scope.js';
import { parseSelector, SelectorError } from '../fleet/selector.js';
import { CorralError, TokenNotFoundError, UserNotFoundError, ValidationError } from '../errors.js';
import { MAX_ACTIVE_TOKENS_PER_USER, MAX_OWN_TOKENS_PER_DAY, MAX_ROLES_PER_USER, MAX_SELECTOR_CHARS, MAX_USERS, TOKEN_NAME, USER_NAME } from './limits.js';
import { ownTokenExpiry } from './own-token-expiry.js';
import { uncoveredRoles } from './token-roles.js';
import { listTokenPage, type TokenListInput, type TokenListPage } from './token-list.js';
import { describeRoles } from '../api/scope.js';

export interface UserServiceDeps {
  store: Store;
  clock: { now(): number };
}

export interface NewApiToken {
  name: string;
  expiresIn?: string;
  expiresAt?: string;
  /** Narrows the token to these bindings (each within the creator's roles); absent: see createToken/createOwnToken. */
  roles?: RoleBinding[];
}

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  list(): Promise<UserRecord[]> {
    return this.deps.store.users.list();
  }

  async get(name: string): Promise<UserRecord> {
    const user = await this.deps.store.users.findByName(name);
    if (!user) throw new UserNotFoundError(name);
    return user;
  }

  async create(name: string, roles: RoleBinding[]): Promise<UserRecord> {
    checkUserName(name);
    const compiled = compileRoles(roles);
    if ((await this.deps.store.users.list()).length >= MAX_USERS) throw new ValidationError(`at most ${MAX_USERS} users (MAX_USERS)`, 'name');
    return this.deps.store.users.create({ id: randomUUID(), name, createdAt: this.deps.clock.now(), disabledAt: null, roles: compiled });
  }

  /** Disables or enables a user, and/or replaces its roles. */
  async update(actor: Actor, name: string, change: { disabled?: boolean; roles?: RoleBinding[] }): Promise<UserRecord> {
    const user = await this.get(name);
    const roles = change.roles === undefined ? undefined : compileRoles(change.roles);
    if (change.disabled === true && user.id === actor.userId) throw new CorralError('SELF', `you cannot disable your own user (${name}); ask another admin`);
    let after = user;
    if (roles !== undefined) after = await this.deps.store.users.setRoles(user.id, roles, { keepAdmin: true });
    if (change.disabled !== undefined) after = await this.deps.store.users.setDisabled(user.id, change.disabled ? this.deps.clock.now() : null, { keepAdmin: true });
    return after;
  }

  async delete(actor: Actor, name: string): Promise<UserRecord> {
    const user = await this.get(name);
    if (user.id === actor.userId) throw new CorralError('SELF', `you cannot delete your own user (${name}); ask another admin`);
    if (user.id === BUILTIN_ADMIN) throw new CorralError('BUILTIN_USER', `the built-in user ${BUILTIN_ADMIN} cannot be deleted (disable it instead; corral server rotate-admin-token enables it again)`);
    return this.deps.store.users.delete(user.id, this.deps.clock.now(), { keepAdmin: true });
  }

  /** One page of a user's API tokens, oldest or newest first (token-list.ts). */
  async tokens(name: string, page: TokenListInput = {}): Promise<TokenListPage> {
    return listTokenPage(this.deps.store, { userId: (await this.get(name)).id }, page, this.deps.clock.now());
  }

  /**
   * An admin creates a token for a user: any expiry (or none), no parent;
   * with `roles`, narrowed to those (each within the user's roles, else
   * ValidationError), without, acting with all of the user's roles.
   */
  async createToken(userName: string, input: NewApiToken): Promise<{ record: TokenRecord; secret: string }> {
    const user = await this.get(userName);
    checkTokenName(input.name);
    const roles = input.roles === undefined ? null : compileTokenRoles(input.roles, user.roles, `the roles of user ${user.name}`);
    const now = this.deps.clock.now();
    const { expiresAt } = compileTokenScope({ expiresAt: input.expiresAt, expiresIn: input.expiresIn }, now);
    return this.mint(user.id, input.name, now, expiresAt, null, roles);
  }

  /** Revokes one of a user's tokens and the tokens created with it (returned as `alsoRevoked`). */
  async revokeToken(userName: string, tokenId: string): Promise<{ token: TokenRecord; alsoRevoked: TokenRecord[] }> {
    const user = await this.get(userName);
    return this.revoke(user.id, `${tokenId} of user ${user.name}`, tokenId);
  }

  /** One page of the caller's own tokens, oldest or newest first (token-list.ts); never another user's, whatever the cursor. */
  ownTokens(actor: Actor, page: TokenListInput = {}): Promise<TokenListPage> {
    return listTokenPage(this.deps.store, { userId: actor.userId }, page, this.deps.clock.now());
  }

  /**
   * The caller creates a token for themselves with the token they call
   * with (its parent): it acts as the same user, expires no later than
   * its parent (own-token-expiry.ts), and counts against the user's
   * bounds (MAX_ACTIVE_TOKENS_PER_USER, MAX_OWN_TOKENS_PER_DAY). With
   * `roles`, narrowed to those, each within what the parent may do now
   * (`actor.roles`, else ValidationError); without, narrowed as its parent
   * is (so a narrowed token cannot mint a broader one).
   */
  async createOwnToken(actor: Actor, input: NewApiToken): Promise<{ record: TokenRecord; secret: string }> {
    checkTokenName(input.name);
    const requested = input.roles === undefined ? undefined : compileTokenRoles(input.roles, actor.roles, 'yours (the roles of the token you call with)');
    const now = this.deps.clock.now();
    const parent = await this.deps.store.users.getToken(actor.userId, actor.tokenId);
    // Authentication has just found this token for this user: missing only if something removed it since.
    if (!parent) throw new CorralError('UNAUTHENTICATED', 'the token you are using no longer exists');
    return this.mint(actor.userId, input.name, now, ownTokenExpiry(input, parent.expiresAt, now), parent.id, requested ?? parent.roles);
  }

  /** Revokes one of the caller's own tokens (and those created with it); another user's is not found. */
  revokeOwnToken(actor: Actor, tokenId: string): Promise<{ token: TokenRecord; alsoRevoked: TokenRecord[] }> {
    return this.revoke(actor.userId, `${tokenId} among your tokens`, tokenId);
  }

  private async mint(userId: string, name: string, now: number, expiresAt: number | null, parentId: string | null, roles: RoleBinding[] | null): Promise<{ record: TokenRecord; secret: string }> {
    const { record, secret } = newTokenRecord('user', name, now);
    const limits = { maxActive: MAX_ACTIVE_TOKENS_PER_USER, ...(parentId !== null ? { maxWithParentPerDay: MAX_OWN_TOKENS_PER_DAY } : {}) };
    const created = await this.deps.store.users.createToken({ ...record, userId, expiresAt, parentId, roles }, limits);
    return { record: created, secret };
  }

  private async revoke(userId: string, described: string, tokenId: string): Promise<{ token: TokenRecord; alsoRevoked: TokenRecord[] }> {
    try {
      return await this.deps.store.users.revokeToken(userId, tokenId, this.deps.clock.now());
    } catch (e) {
      if (e instanceof TokenNotFoundError) throw new TokenNotFoundError(described);
      throw e;
    }
  }
}

function checkTokenName(name: string): void {
  if (!TOKEN_NAME.test(name)) throw new ValidationError(`token name "${name}": 1 to 64 letters, digits, spaces and ._-`, 'name');
}

export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) throw new ValidationError(`user name "${name}": 1 to 64 letters, digits and ._@- starting with a letter or digit`, 'name');
  if (name === SYSTEM_ACTOR) throw new ValidationError(`user name "${name}" is reserved: events the server causes itself carry it`, 'name');
}

/**
 * A token's own roles: valid bindings (compileRoles), duplicates dropped,
 * each within `held` (users/token-roles.ts); else a ValidationError naming
 * the bindings that are not and what is held (`whose`).
 */
function compileTokenRoles(roles: RoleBinding[], held: RoleBinding[], whose: string): RoleBinding[] {
  const compiled = [...new Map(compileRoles(roles).map((b) => [`${b.role}\n${b.selector}`, b])).values()];
  const beyond = uncoveredRoles(compiled, held);
  if (beyond.length > 0) {
    throw new ValidationError(`roles must be within ${whose}: ${describeRoles(beyond)} ${beyond.length === 1 ? 'is' : 'are'} not within ${describeRoles(held)}`, 'roles');
  }
  return compiled;
}

/** Validates role bindings: known roles, valid selectors (normalized by trimming), within the bounds. */
export function compileRoles(roles: RoleBinding[]): RoleBinding[] {
  if (roles.length > MAX_ROLES_PER_USER) throw new ValidationError(`at most ${MAX_ROLES_PER_USER} roles per user (MAX_ROLES_PER_USER)`, 'roles');
  return roles.map((b, i) => {
    if (!ROLES.includes(b.role)) throw new ValidationError(`roles[${i}].role: "${String(b.role)}" is not one of ${ROLES.join(', ')}`, `roles.${i}.role`);
    const selector = b.selector.trim();
    if (selector.length > MAX_SELECTOR_CHARS) throw new ValidationError(`roles[${i}].selector: over ${MAX_SELECTOR_CHARS} characters`, `roles.${i}.selector`);
    try {
      parseSelector(selector);
    } catch (e) {
      if (e instanceof SelectorError) throw new ValidationError(`roles[${i}].selector: ${e.message}`, `roles.${i}.selector`);
      throw e;
    }
    return { role: b.role as Role, selector };
  });
}
