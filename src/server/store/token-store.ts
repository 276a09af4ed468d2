/**
 * The TokenStore over Kysely (contract in token-records.ts): token pages by
 * keyset on (created_at, id) either way, served by the 0023 indexes, and
 * the retention sweep's conditional DELETE. Ids compare bytewise on both
 * dialects (COLLATE "C" on PostgreSQL), as the indexes do.
 */
import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import type { Database } from './schema.js';
import type { DeletedToken, TokenPage, TokenPageQuery, TokenState, TokenStore } from './token-records.js';
import { MAX_TOKEN_DELETE_BATCH } from './token-records.js';
import type { TokenKind, TokenRecord } from './store.js';
import { num, toToken } from './rows.js';

type Run = <T>(what: string, fn: () => Promise<T>) => Promise<T>;
type Eb = ExpressionBuilder<Database, 'tokens'>;

/** The rows of `state` at `now`; spelled so tokens_user_live serves the active ones of a user. */
export function tokenStateWhere(eb: Eb, state: TokenState, now: number): Expression<SqlBool> {
  switch (state) {
    case 'active':
      return eb.and([eb('tokens.revoked_at', 'is', null), eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)])]);
    case 'revoked':
      return eb('tokens.revoked_at', 'is not', null);
    case 'expired':
      return eb.and([eb('tokens.revoked_at', 'is', null), eb('tokens.expires_at', '<=', now)]);
    case 'all':
      return sql<SqlBool>`1 = 1`;
  }
}

export class KyselyTokenStore implements TokenStore {
  constructor(
    private readonly kind: 'sqlite' | 'postgres',
    private readonly db: Kysely<Database>,
    private readonly run: Run,
  ) {}

  query(q: TokenPageQuery): Promise<TokenPage> {
    return this.run('list tokens', async () => {
      const id = this.kind === 'postgres' ? sql`tokens.id collate "C"` : sql`tokens.id`;
      const base = this.db
        .selectFrom('tokens')
        .where((eb) => ('userId' in q.owner ? eb('tokens.user_id', '=', q.owner.userId) : eb('tokens.kind', '=', q.owner.kind)))
        .where((eb) => tokenStateWhere(eb, q.state, q.now));
      let page = base.selectAll();
      const [cmp, dir] = q.descending ? [sql.raw('<'), sql.raw('desc')] : [sql.raw('>'), sql.raw('asc')];
      if (q.after) page = page.where(sql<SqlBool>`(tokens.created_at, ${id}) ${cmp} (${q.after.createdAt}, ${q.after.id})`);
      const [rows, count] = await Promise.all([
        page.orderBy(sql`tokens.created_at ${dir}`).orderBy(sql`${id} ${dir}`).limit(q.limit + 1).execute(),
        base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirst(),
      ]);
      return { tokens: rows.slice(0, q.limit).map(toToken), total: num(count?.n ?? 0), hasMore: rows.length > q.limit };
    });
  }

  get(id: string): Promise<TokenRecord | null> {
    return this.run('get token', async () => {
      const r = await this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
      return r ? toToken(r) : null;
    });
  }

  unrevokedIds(ids: readonly string[]): Promise<Set<string>> {
    return this.run('find unrevoked tokens', async () => {
      if (ids.length === 0) return new Set<string>();
      const rows = await this.db.selectFrom('tokens').select('id').where('id', 'in', [...ids].slice(0, 1000)).where('revoked_at', 'is', null).execute();
      return new Set(rows.map((r) => r.id));
    });
  }

  deleteDead(before: number, now: number, limit: number, opts: { enrollment: boolean }): Promise<DeletedToken[]> {
    const n = Math.min(Math.max(Math.floor(limit), 1), MAX_TOKEN_DELETE_BATCH);
    const due = (eb: Eb) =>
      eb.and([
        eb.or([
          eb.and([eb('tokens.revoked_at', 'is not', null), eb('tokens.revoked_at', '<', before)]),
          eb.and([eb('tokens.expires_at', 'is not', null), eb('tokens.expires_at', '<', before)]),
        ]),
        eb.or([
          eb('tokens.kind', 'in', ['admin', 'user']),
          ...(opts.enrollment
            ? [eb.and([eb('tokens.kind', '=', 'enrollment'), eb.not(eb.exists(eb.selectFrom('agents').select('agents.id').whereRef('agents.enrollment_token_id', '=', 'tokens.id')))])]
            : []),
        ]),
        // The newest admin token marks the store as set up (bootstrap.ts): without it the next start would mint new first-start tokens.
        eb.not(
          eb.and([
            eb('tokens.kind', '=', 'admin'),
            eb('tokens.id', '=', eb.selectFrom('tokens as newest').select('newest.id').where('newest.kind', '=', 'admin').orderBy('newest.created_at', 'desc').orderBy('newest.id', 'desc').limit(1)),
          ]),
        ),
        // A live token never has a dead parent (users/user-service.ts); should one, its parent stays, so revoking up the tree still reaches it.
        eb.not(
          eb.exists(
            eb
              .selectFrom('tokens as child')
              .select('child.id')
              .whereRef('child.parent_id', '=', 'tokens.id')
              .where('child.revoked_at', 'is', null)
              .where((c) => c.or([c('child.expires_at', 'is', null), c('child.expires_at', '>', now)])),
          ),
        ),
      ]);
    return this.run('delete dead tokens', async () => {
      // One statement: on PostgreSQL a second replica deleting at once waits for these rows, re-checks and skips them.
      const rows = await this.db
        .deleteFrom('tokens')
        .where('tokens.id', 'in', this.db.selectFrom('tokens').select('tokens.id').where(due).orderBy('tokens.created_at').orderBy('tokens.id').limit(n))
        .where(due)
        .returning(['tokens.id', 'tokens.kind', 'tokens.name', 'tokens.user_id', 'tokens.revoked_at', 'tokens.expires_at', 'tokens.created_at'])
        .execute();
      // RETURNING has no order of its own.
      rows.sort((a, b) => num(a.created_at) - num(b.created_at) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      return rows.map((r) => ({
        id: r.id,
        kind: r.kind as TokenKind,
        name: r.name,
        userId: r.user_id,
        revokedAt: r.revoked_at === null ? null : num(r.revoked_at),
        expiresAt: r.expires_at === null ? null : num(r.expires_at),
      }));
    });
  }
}
