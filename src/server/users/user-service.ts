/**
 * Users and their API tokens: create, list, disable/enable, change roles,
 * delete; mint (shown once), list and revoke tokens. Validates every input
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
import { MAX_ACTIVE_TOKENS_PER_USER, MAX_ROLES_PER_USER, MAX_SELECTOR_CHARS, MAX_USERS, TOKEN_NAME, USER_NAME } from './limits.js';

export interface UserServiceDeps {
  store: Store;
  clock: { now(): number };
}

export interface NewApiToken {
  name: string;
  expiresIn?: string;
  expiresAt?: string;
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

  async tokens(name: string): Promise<TokenRecord[]> {
    return this.deps.store.users.listTokens((await this.get(name)).id);
  }

  async createToken(userName: string, input: NewApiToken): Promise<{ record: TokenRecord; secret: string }> {
    const user = await this.get(userName);
    if (!TOKEN_NAME.test(input.name)) throw new ValidationError(`token name "${input.name}": 1 to 64 letters, digits, spaces and ._-`, 'name');
    const now = this.deps.clock.now();
    const { expiresAt } = compileTokenScope({ expiresAt: input.expiresAt, expiresIn: input.expiresIn }, now);
    const active = (await this.deps.store.users.listTokens(user.id)).filter((t) => t.revokedAt === null && (t.expiresAt === null || t.expiresAt > now));
    if (active.length >= MAX_ACTIVE_TOKENS_PER_USER) {
      throw new ValidationError(`user ${user.name} has ${active.length} active tokens, the most allowed (MAX_ACTIVE_TOKENS_PER_USER); revoke one first`, 'name');
    }
    const { record, secret } = newTokenRecord('user', input.name, now);
    const full: TokenRecord = { ...record, labels: {}, expiresAt, maxAgents: null, enrolledAgents: 0, requireApproval: false, userId: user.id };
    await this.deps.store.createToken(full);
    return { record: full, secret };
  }

  async revokeToken(userName: string, tokenId: string): Promise<TokenRecord> {
    const user = await this.get(userName);
    const token = (await this.deps.store.users.listTokens(user.id)).find((t) => t.id === tokenId);
    if (!token) throw new TokenNotFoundError(`${tokenId} of user ${user.name}`);
    return this.deps.store.revokeToken(token.id, this.deps.clock.now());
  }
}

export function checkUserName(name: string): void {
  if (!USER_NAME.test(name)) throw new ValidationError(`user name "${name}": 1 to 64 letters, digits and ._@- starting with a letter or digit`, 'name');
  if (name === SYSTEM_ACTOR) throw new ValidationError(`user name "${name}" is reserved: events the server causes itself carry it`, 'name');
}

/** Validates role bindings: known roles, valid selectors (normalized by trimming), within the bounds. */
export function compileRoles(roles: RoleBinding[]): RoleBinding[] {
  if (roles.length > MAX_ROLES_PER_USER) throw new ValidationError(`at most ${MAX_ROLES_PER_USER} roles per user (MAX_ROLES_PER_USER)`, 'roles');
  return roles.map((b, i) => {
    if (!ROLES.includes(b.role)) throw new ValidationError(`roles[${i}].role: "${String(b.role)}" is not one of ${ROLES.join(', ')}`, 'roles');
    const selector = b.selector.trim();
    if (selector.length > MAX_SELECTOR_CHARS) throw new ValidationError(`roles[${i}].selector: over ${MAX_SELECTOR_CHARS} characters`, 'roles');
    try {
      parseSelector(selector);
    } catch (e) {
      if (e instanceof SelectorError) throw new ValidationError(`roles[${i}].selector: ${e.message}`, 'roles');
      throw e;
    }
    return { role: b.role as Role, selector };
  });
}
