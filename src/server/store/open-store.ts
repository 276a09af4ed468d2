/**
 * Opens the store the server was told to use: SQLite in the data dir by
 * default, PostgreSQL for a postgres:// URL. Returns it migrated.
 */
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Kysely, PostgresDialect, SqliteAdapter, SqliteDialect, type DialectAdapter } from 'kysely';
import type { Logger } from 'pino';
import type { Database } from './schema.js';
import type { Store } from './store.js';
import { KyselyStore } from './kysely-store.js';
import { StoreError } from '../errors.js';
import { prepareSqliteFile } from '../data-dir.js';

export interface OpenStoreOptions {
  /** Empty for SQLite in `dataDir`; a postgres:// URL for PostgreSQL. */
  database: string;
  dataDir: string;
  log?: Logger;
  /** PostgreSQL pool size. Default 10. */
  poolSize?: number;
}

const INT8_OID = 20;

/** Where a URL points, without its password, for error messages. */
export function describeDatabase(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || 5432}${u.pathname}`;
  } catch {
    return 'an unparseable URL';
  }
}

/**
 * SQLite, as Kysely's dialect for it but for migrations: SQLite runs DDL in a
 * transaction as PostgreSQL does, while Kysely's adapter says it cannot, so
 * its Migrator would run a migration statement by statement. One that failed
 * part-way (a full disk, an object in the way) would leave what it had done,
 * and every later start would fail on that (an index or column already
 * there). Saying so makes the migrations of a start all-or-nothing.
 */
class TransactionalDdlSqliteAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class TransactionalSqliteDialect extends SqliteDialect {
  override createAdapter(): DialectAdapter {
    return new TransactionalDdlSqliteAdapter();
  }
}

export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  let store: KyselyStore;
  if (/^postgres(ql)?:\/\//.test(opts.database)) {
    // bigint columns hold milliseconds and counters well inside 2^53: read them as numbers, on this pool only.
    const types = { getTypeParser: (oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? Number : pg.types.getTypeParser(oid, format)) };
    const pool = new pg.Pool({ connectionString: opts.database, max: opts.poolSize ?? 10, types: types as pg.CustomTypesConfig });
    pool.on('error', (err) => opts.log?.error({ err }, 'postgres pool error'));
    try {
      const client = await pool.connect();
      client.release();
    } catch (e) {
      await pool.end().catch(() => undefined);
      throw new StoreError(`cannot connect to PostgreSQL at ${describeDatabase(opts.database)}: ${(e as Error).message}`, { cause: e });
    }
    store = new KyselyStore('postgres', new Kysely<Database>({ dialect: new PostgresDialect({ pool }) }));
  } else {
    const file = prepareSqliteFile(opts.dataDir, opts.log);
    let sqlite: SqliteDatabase.Database;
    try {
      sqlite = new SqliteDatabase(file);
      sqlite.pragma('journal_mode = WAL');
      sqlite.pragma('synchronous = NORMAL');
      sqlite.pragma('busy_timeout = 5000');
      sqlite.pragma('foreign_keys = ON');
    } catch (e) {
      throw new StoreError(`cannot open SQLite store ${file}: ${(e as Error).message}`, { cause: e });
    }
    store = new KyselyStore('sqlite', new Kysely<Database>({ dialect: new TransactionalSqliteDialect({ database: sqlite }) }));
  }
  try {
    await store.migrate();
  } catch (e) {
    await store.close();
    throw e;
  }
  return store;
}
