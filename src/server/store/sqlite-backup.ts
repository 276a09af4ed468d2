/**
 * `corral server backup`: a consistent copy of the SQLite store taken with
 * SQLite's online backup API while the server keeps running (it copies pages
 * and restarts when the server writes meanwhile), checked, and written 0600
 * through a temp file, so a half-written backup never carries the final name.
 * The store holds everything the server cannot rebuild: the package-signing
 * key, tokens, agents' credentials, desired state, artifacts.
 */
import SqliteDatabase from 'better-sqlite3';
import { closeSync, existsSync, openSync, renameSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SQLITE_FILE } from '../data-dir.js';
import { StoreError } from '../errors.js';

export interface SqliteBackupResult {
  file: string;
  bytes: number;
}

/**
 * Backs up `<dataDir>/corral.db` to `to` (which must not exist). Refuses to run
 * as another user than the store file's owner: SQLite would leave files that
 * user owns beside the store (its -shm), which the server could not open.
 */
export async function backupSqliteStore(dataDir: string, to: string, uid = process.getuid?.()): Promise<SqliteBackupResult> {
  const source = join(resolve(dataDir), SQLITE_FILE);
  const target = resolve(to);
  if (!existsSync(source)) throw new StoreError(`no Corral store in ${resolve(dataDir)} (no ${SQLITE_FILE} there); pass the server's --data-dir`);
  if (existsSync(target)) throw new StoreError(`${target} exists: back up to a new file`);
  const owner = statSync(source).uid;
  if (uid !== undefined && uid !== owner) {
    throw new StoreError(`${source} belongs to uid ${owner}, not to this user (uid ${uid}): run the backup as the server's user (e.g. sudo -u corral corral server backup ...)`);
  }
  const tmp = `${target}.partial-${process.pid}`;
  rmSync(tmp, { force: true });
  // Created 0600 before SQLite writes a byte: the store holds the signing key and credentials.
  closeSync(openSync(tmp, 'wx', 0o600));
  try {
    const db = new SqliteDatabase(source, { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      await db.backup(tmp);
    } finally {
      db.close();
    }
    const copy = new SqliteDatabase(tmp, { readonly: true, fileMustExist: true });
    try {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new StoreError(`the backup in ${tmp} failed its integrity check: ${String(check)}`);
    } finally {
      copy.close();
    }
    renameSync(tmp, target);
  } catch (e) {
    rmSync(tmp, { force: true });
    if (e instanceof StoreError) throw e;
    throw new StoreError(`cannot back up ${source} to ${target}: ${(e as Error).message}`, { cause: e });
  }
  return { file: target, bytes: statSync(target).size };
}
