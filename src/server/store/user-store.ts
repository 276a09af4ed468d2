/** The UserStore over Kysely (see store.ts for the contract). */
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { NewTokenRecord, TokenLimits, TokenRecord, UserRecord, UserStore } from './store.js';
import type { Role, RoleBinding } from '../auth/actor.js';
import { CorralError, LastAdminError, RateLimitedError, TokenLimitError, TokenNotFoundError, UserExistsError, UserNotFoundError } from '../errors.js';
import { num, toToken, tokenRow } from './rows.js';

const DAY_MS = 24 * 3600_000;
/** Parents looked up per query while walking a token tree. */
const TREE_CHUNK = 500;

type Run = <T>(what: string, fn: () => Promise<T>) => Promise<T>;
type Db = Kysely<Database> | Transaction<Database>;

export class KyselyUserStore implements UserStore {
  constructor(
    private readonly kind: 'sqlite' | 'postgres',
    private readonly db: Kysely<Database>,
    private readonly run: Run,
  ) {}

  create(user: UserRecord): Promise<UserRecord> {
    return this.run('create user', () =>
      this.db.transaction().execute(async (tx) => {
        const taken = await tx.selectFrom('users').select('id').where('name', '=', user.name).executeTakeFirst();
        if (taken) throw new UserExistsError(user.name);
        try {
          await tx.insertInto('users').values({ id: user.id, name: user.name, created_at: user.createdAt, disabled_at: user.disabledAt }).execute();
        } catch (e) {
          // Two creates racing for one name: the unique index decides.
          if (/unique|duplicate/i.test((e as Error).message)) throw new UserExistsError(user.name);
          throw e;
        }
        await insertRoles(tx, user.id, user.roles);
        return (await read(tx, user.id))!;
      }),
    );
  }

  get(id: string): Promise<UserRecord | null> {
    return this.run('get user', () => read(this.db, id));
  }

  findByName(name: string): Promise<UserRecord | null> {
    return this.run('find user', async () => {
      const r = await this.db.selectFrom('users').select('id').where('name', '=', name).executeTakeFirst();
      return r ? read(this.db, r.id) : null;
    });
  }

  list(): Promise<UserRecord[]> {
    return this.run('list users', async () => {
      const users = await this.db.selectFrom('users').selectAll().orderBy('created_at').orderBy('name').execute();
      const roles = await this.db.selectFrom('user_roles').selectAll().orderBy('role').orderBy('selector').execute();
      return users.map((u) => ({
        id: u.id,
        name: u.name,
        createdAt: num(u.created_at),
        disabledAt: u.disabled_at === null ? null : num(u.disabled_at),
        roles: roles.filter((r) => r.user_id === u.id).map((r) => ({ role: r.role as Role, selector: r.selector })),
      }));
    });
  }

  setDisabled(id: string, disabledAt: number | null, opts: { keepAdmin: boolean }): Promise<UserRecord> {
    return this.guarded('set user disabled', id, opts.keepAdmin, disabledAt === null ? 'enable' : 'disable', async (tx) => {
      await tx.updateTable('users').set({ disabled_at: disabledAt }).where('id', '=', id).execute();
    });
  }

  setRoles(id: string, roles: RoleBinding[], opts: { keepAdmin: boolean }): Promise<UserRecord> {
    return this.guarded('set user roles', id, opts.keepAdmin, 'change the roles of', async (tx) => {
      await tx.deleteFrom('user_roles').where('user_id', '=', id).execute();
      await insertRoles(tx, id, roles);
    });
  }

  delete(id: string, at: number, opts: { keepAdmin: boolean }): Promise<UserRecord> {
    let deleted: UserRecord | null = null;
    return this.guarded('delete user', id, opts.keepAdmin, 'delete', async (tx) => {
      deleted = await read(tx, id);
      await tx.updateTable('tokens').set({ revoked_at: at }).where('user_id', '=', id).where('revoked_at', 'is', null).execute();
      await tx.deleteFrom('user_roles').where('user_id', '=', id).execute();
      await tx.deleteFrom('users').where('id', '=', id).execute();
    }).then((after) => after ?? deleted!);
  }

  listTokens(userId: string): Promise<TokenRecord[]> {
    return this.run('list user tokens', async () => (await this.db.selectFrom('tokens').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id').execute()).map(toToken));
  }

  createToken(token: NewTokenRecord & { userId: string }, limits: TokenLimits): Promise<TokenRecord> {
    return this.run('create user token', () =>
      this.db.transaction().execute(async (tx) => {
        const user = await this.lockUser(tx, token.userId);
        if (!user) throw new UserNotFoundError(token.userId);
        const now = token.createdAt;
        if (token.parentId) {
          const parent = await tx.selectFrom('tokens').selectAll().where('id', '=', token.parentId).executeTakeFirst();
          // Authentication checked all this; checked again under the lock, so a revocation racing this create wins.
          if (!parent || parent.user_id !== user.id) throw new CorralError('UNAUTHENTICATED', 'the token creating this one does not belong to its user');
          if (parent.revoked_at !== null) throw new CorralError('UNAUTHENTICATED', 'the token creating this one has been revoked');
          if (parent.expires_at !== null && num(parent.expires_at) <= now) throw new CorralError('UNAUTHENTICATED', 'the token creating this one has expired');
          if (user.disabled_at !== null) throw new CorralError('UNAUTHENTICATED', `user ${user.name} is disabled`);
        }
        // Bounded reads: the count of the user's active tokens (tokens_user_live) and their 24-hour window (tokens_user_created).
        // Two index ranges of tokens_user_live (no expiry; expiry after now), so expired tokens are never counted through.
        const live = await sql<{ n: number | string }>`
          select (select count(*) from tokens where user_id = ${user.id} and revoked_at is null and expires_at is null)
               + (select count(*) from tokens where user_id = ${user.id} and revoked_at is null and expires_at > ${now}) as n`.execute(tx);
        const active = num(live.rows[0]?.n ?? 0);
        if (active >= limits.maxActive) {
          throw new TokenLimitError(`user ${user.name} has ${active} active API tokens, the most allowed (MAX_ACTIVE_TOKENS_PER_USER = ${limits.maxActive}); revoke one first`, 'MAX_ACTIVE_TOKENS_PER_USER');
        }
        if (token.parentId && limits.maxWithParentPerDay !== undefined) {
          // Revoked ones count too: each stays a row until the retention sweep.
          const recent = (
            await tx
              .selectFrom('tokens')
              .select('created_at')
              .where('user_id', '=', user.id)
              .where('created_at', '>', now - DAY_MS)
              .where('parent_id', 'is not', null)
              .orderBy('created_at', 'desc')
              .execute()
          ).map((r) => num(r.created_at));
          if (recent.length >= limits.maxWithParentPerDay) {
            // The window frees a place when the maxWithParentPerDay-th newest leaves it.
            const retryMs = recent[limits.maxWithParentPerDay - 1]! + DAY_MS - now;
            throw new RateLimitedError(
              `user ${user.name} created ${recent.length} tokens in the last 24 hours, the most allowed (MAX_OWN_TOKENS_PER_DAY = ${limits.maxWithParentPerDay}); try again in ${Math.ceil(retryMs / 60_000)} minutes`,
              Math.max(1, Math.ceil(retryMs / 1000)),
            );
          }
        }
        await tx.insertInto('tokens').values(tokenRow(token)).execute();
        return toToken((await tx.selectFrom('tokens').selectAll().where('id', '=', token.id).executeTakeFirstOrThrow()));
      }),
    );
  }

  revokeToken(userId: string, id: string, at: number): Promise<{ token: TokenRecord; alsoRevoked: TokenRecord[] }> {
    return this.run('revoke user token', () =>
      this.db.transaction().execute(async (tx) => {
        await this.lockUser(tx, userId);
        const target = await tx.selectFrom('tokens').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
        if (!target) throw new TokenNotFoundError(id);
        // The tree under `id`, a level at a time by parent (tokens_parent), dead tokens too: a token still
        // unrevoked under a revoked one (which a revocation down the tree never leaves, but an older store may
        // hold) is reached all the same. Only this user's tokens can be in it (a token only creates tokens for
        // its own user); the query names the parents only, so the planner picks tokens_parent for each level.
        const unrevoked = target.revoked_at === null ? [id] : [];
        const seen = new Set([id]);
        for (let level = [id]; level.length > 0; ) {
          const next: string[] = [];
          for (let i = 0; i < level.length; i += TREE_CHUNK) {
            const children = await tx.selectFrom('tokens').select(['id', 'user_id', 'revoked_at']).where('parent_id', 'in', level.slice(i, i + TREE_CHUNK)).execute();
            for (const c of children) {
              if (c.user_id !== userId || seen.has(c.id)) continue;
              seen.add(c.id);
              next.push(c.id);
              if (c.revoked_at === null) unrevoked.push(c.id);
            }
          }
          level = next;
        }
        const after: TokenRecord[] = [];
        const ids = unrevoked.includes(id) ? unrevoked : [id, ...unrevoked];
        for (let i = 0; i < ids.length; i += TREE_CHUNK) {
          const chunk = ids.slice(i, i + TREE_CHUNK);
          await tx.updateTable('tokens').set({ revoked_at: at }).where('id', 'in', chunk).where('revoked_at', 'is', null).execute();
          after.push(...(await tx.selectFrom('tokens').selectAll().where('id', 'in', chunk).execute()).map(toToken));
        }
        const others = new Set(unrevoked.filter((t) => t !== id));
        const token = after.find((t) => t.id === id)!;
        const alsoRevoked = after.filter((t) => others.has(t.id)).sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
        return { token, alsoRevoked };
      }),
    );
  }

  getToken(userId: string, id: string): Promise<TokenRecord | null> {
    return this.run('get user token', async () => {
      const r = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      return r ? toToken(r) : null;
    });
  }

  /** The user's row, locked until the transaction ends on PostgreSQL (SQLite runs one transaction at a time). */
  private async lockUser(tx: Transaction<Database>, id: string) {
    let q = tx.selectFrom('users').selectAll().where('id', '=', id);
    if (this.kind === 'postgres') q = q.forUpdate();
    return q.executeTakeFirst();
  }

  findTokenByHash(hash: string): Promise<TokenRecord | null> {
    return this.run('find token', async () => {
      const r = await this.db.selectFrom('tokens').selectAll().where('hash', '=', hash).executeTakeFirst();
      return r ? toToken(r) : null;
    });
  }

  /**
   * Runs `change` on user `id` in a transaction; with `keepAdmin`, refuses
   * (rolling back) when no enabled user is left with admin on the whole
   * fleet. On PostgreSQL the user rows are locked first, so two admins
   * disabling each other at once cannot both succeed.
   */
  private guarded(what: string, id: string, keepAdmin: boolean, verb: string, change: (tx: Transaction<Database>) => Promise<void>): Promise<UserRecord> {
    return this.run(what, () =>
      this.db.transaction().execute(async (tx) => {
        let rows = tx.selectFrom('users').select(['id', 'name']);
        if (this.kind === 'postgres') rows = rows.forUpdate();
        const all = await rows.execute();
        const target = all.find((u) => u.id === id);
        if (!target) throw new UserNotFoundError(id);
        const hadAdmin = await fleetAdmins(tx);
        await change(tx);
        if (keepAdmin && hadAdmin > 0 && (await fleetAdmins(tx)) === 0) throw new LastAdminError(target.name, verb);
        return (await read(tx, id))!;
      }),
    );
  }
}

/** Enabled users holding admin on the whole fleet. */
async function fleetAdmins(db: Db): Promise<number> {
  const r = await db
    .selectFrom('users')
    .innerJoin('user_roles', 'user_roles.user_id', 'users.id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('users.disabled_at', 'is', null)
    .where('user_roles.role', '=', 'admin')
    .where('user_roles.selector', '=', '')
    .executeTakeFirst();
  return num(r?.n ?? 0);
}

async function insertRoles(db: Db, userId: string, roles: RoleBinding[]): Promise<void> {
  const unique = new Map(roles.map((r) => [`${r.role}\n${r.selector}`, r]));
  if (unique.size === 0) return;
  await db
    .insertInto('user_roles')
    .values([...unique.values()].map((r) => ({ user_id: userId, role: r.role, selector: r.selector })))
    .execute();
}

async function read(db: Db, id: string): Promise<UserRecord | null> {
  const u = await db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
  if (!u) return null;
  const roles = await db.selectFrom('user_roles').select(['role', 'selector']).where('user_id', '=', id).orderBy('role').orderBy('selector').execute();
  return {
    id: u.id,
    name: u.name,
    createdAt: num(u.created_at),
    disabledAt: u.disabled_at === null ? null : num(u.disabled_at),
    roles: roles.map((r) => ({ role: r.role as Role, selector: r.selector })),
  };
}
