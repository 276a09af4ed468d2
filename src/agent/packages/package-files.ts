/**
 * Reading and writing files inside an unpacked package without ever
 * following a link out of it. The agent runs as root: a package that could
 * point a config file or a template at `../../identity.json` or `/etc/cron.d`
 * would turn a package push into code running as root, or copy the agent's
 * credential into a world-readable file.
 *
 * - Writes walk the directories one by one (lstat: a link anywhere is
 *   refused), create the file exclusively with O_NOFOLLOW beside its final
 *   name, and rename it into place (a rename replaces a link, it never
 *   writes through one).
 * - Reads resolve the real path and refuse anything outside the package.
 */
import { constants } from 'node:fs';
import { lstat, mkdir, open, readFile, realpath, rename, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, sep } from 'node:path';

export class PackagePathError extends Error {
  readonly code = 'UNSAFE_PACKAGE_PATH';
}

function parts(rel: string): string[] {
  const list = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (rel.startsWith('/') || list.length === 0 || list.includes('..') || rel.includes('\0')) throw new PackagePathError(`"${rel}" is not a relative path inside the package`);
  return list;
}

/**
 * Writes `body` to `root/rel` (mode `mode`, owner `owner` when given), making
 * missing directories (0755). Throws PackagePathError when any directory on
 * the way is a link or not a directory; nothing outside `root` is touched.
 */
export async function writePackageFile(root: string, rel: string, body: string, opts: { mode?: number; owner?: { uid: number; gid: number } } = {}): Promise<void> {
  const list = parts(rel);
  let dir = root;
  const rootStat = await lstat(root);
  if (!rootStat.isDirectory()) throw new PackagePathError(`${root} is not a directory`);
  for (const part of list.slice(0, -1)) {
    dir = join(dir, part);
    const st = await lstat(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (st === null) await mkdir(dir, { mode: 0o755 });
    else if (st.isSymbolicLink()) throw new PackagePathError(`config file "${rel}": "${dir.slice(root.length + 1)}" is a link; config files are never written through links`);
    else if (!st.isDirectory()) throw new PackagePathError(`config file "${rel}": "${dir.slice(root.length + 1)}" is not a directory`);
  }
  const target = join(dir, list.at(-1)!);
  const tmp = `${target}.corral-${randomBytes(6).toString('hex')}`;
  const mode = opts.mode ?? 0o644;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
  try {
    await fh.writeFile(body);
    // The umask may have narrowed the mode; set it exactly.
    await fh.chmod(mode);
    if (opts.owner) await fh.chown(opts.owner.uid, opts.owner.gid);
    await fh.close();
    await rename(tmp, target);
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Reads `root/rel` as text; throws PackagePathError when it resolves (through links) outside `root`. */
export async function readPackageFile(root: string, rel: string): Promise<string> {
  parts(rel);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(root, rel));
  } catch (e) {
    throw new PackagePathError(`"${rel}" is missing from the package: ${(e as Error).message}`);
  }
  if (!real.startsWith(realRoot + sep)) throw new PackagePathError(`"${rel}" resolves outside the package`);
  return readFile(real, 'utf8');
}
