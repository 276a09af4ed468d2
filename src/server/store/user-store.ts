/** The UserStore over Kysely (see store.ts for the contract). */
import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { TokenRecord, UserRecord, UserStore } from './store.js';
import type { Role, RoleBinding } from '../auth/actor.js';
import { LastAdminError, UserExistsError, UserNotFoundError } from '../errors.js';
import { num, toToken } from './rows.js';

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
