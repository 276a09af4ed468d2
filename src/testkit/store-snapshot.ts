/**
 * Everything a store's database holds — its schema (tables, columns,
 * indexes) and every row of every table, migration bookkeeping included —
 * as plain data, so a test can show that something (migrating again) changed
 * nothing at all. SQLite: the `corral.db` in a data dir; PostgreSQL: the
 * schema a test URL's search_path names.
 */
import SqliteDatabase from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';

export interface StoreSnapshot {
  schema: unknown[];
  rows: Record<string, string[]>;
}

const sortedRows = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).sort();

export function snapshotSqlite(dataDir: string): StoreSnapshot {
  const db = new SqliteDatabase(join(dataDir, 'corral.db'), { readonly: true, fileMustExist: true });
  try {
    const schema = db.prepare("select type, name, tbl_name, sql from sqlite_master where name not like 'sqlite_%' order by type, name").all();
    const tables = (schema as { type: string; name: string }[]).filter((s) => s.type === 'table').map((s) => s.name);
    const rows = Object.fromEntries(tables.map((t) => [t, sortedRows(db.prepare(`select * from "${t.replace(/"/g, '""')}"`).all())]));
    return { schema, rows };
  } finally {
    db.close();
  }
}

export async function snapshotPostgres(url: string, schemaName: string): Promise<StoreSnapshot> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const columns = await client.query(
      'select table_name, column_name, data_type, is_nullable, column_default from information_schema.columns where table_schema = $1 order by table_name, ordinal_position',
      [schemaName],
    );
    const indexes = await client.query('select tablename, indexname, indexdef from pg_indexes where schemaname = $1 order by indexname', [schemaName]);
    const constraints = await client.query(
      'select conrelid::regclass::text as table_name, conname, pg_get_constraintdef(c.oid) as def from pg_constraint c join pg_namespace n on n.oid = c.connamespace where n.nspname = $1 order by conname',
      [schemaName],
    );
    const tables = [...new Set(columns.rows.map((r: { table_name: string }) => r.table_name))];
    const rows: Record<string, string[]> = {};
    for (const t of tables) rows[t] = sortedRows((await client.query(`select * from "${schemaName}"."${t.replace(/"/g, '""')}"`)).rows);
    return { schema: [...columns.rows, ...indexes.rows, ...constraints.rows], rows };
  } finally {
    await client.end();
  }
}
