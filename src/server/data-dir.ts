/**
 * The server's data dir holds the SQLite store (with the package-signing
 * private key, tokens and config bodies) and local copies of artifacts: only
 * the server's user may read it. `secureDataDir` creates it 0700, and on an
 * existing install takes away any group/other bits from the dir and the
 * SQLite files (logging each change once); `prepareSqliteFile` creates the
 * database file 0600 before SQLite opens it, so its -wal and -shm files,
 * which SQLite creates with the database file's mode, are 0600 too.
 */
import { chmodSync, closeSync, lstatSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

export const SQLITE_FILE = 'corral.db';
const SQLITE_FILES = [SQLITE_FILE, `${SQLITE_FILE}-wal`, `${SQLITE_FILE}-shm`, `${SQLITE_FILE}-journal`];

/** Sets `mode` on `path` if it has bits outside it; logs the change. No-op for a missing path or a link. */
function tighten(path: string, mode: number, log: Logger | undefined): void {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (st.isSymbolicLink() || (st.mode & 0o777 & ~mode) === 0) return;
  chmodSync(path, mode);
  log?.warn({ path, from: (st.mode & 0o777).toString(8), to: mode.toString(8) }, 'tightened file mode: only the server may read its data');
}

/** Creates `dataDir` (0700) or tightens it and the SQLite files in it. Call before opening the store. */
export function secureDataDir(dataDir: string, log?: Logger): void {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  tighten(dataDir, 0o700, log);
  for (const name of SQLITE_FILES) tighten(join(dataDir, name), 0o600, log);
}

/** Secures the data dir and makes sure the SQLite database file exists with mode 0600; returns its path. */
export function prepareSqliteFile(dataDir: string, log?: Logger): string {
  secureDataDir(dataDir, log);
  const file = join(dataDir, SQLITE_FILE);
  closeSync(openSync(file, 'a', 0o600));
  return file;
}
