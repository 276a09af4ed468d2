/**
 * What a service's user may reach on disk, set on every install and change.
 * A service running as root keeps its directory to root (0700). A service
 * with `run.user` gets exactly what it needs, through group ownership and
 * never user ownership (a user who owned a directory on the way could swap
 * the package under the agent, which reads corral.yaml as root):
 *
 *   <data>                       root 0711   searchable, not listable; the
 *                                            agent's own files in it (identity,
 *                                            remote config, downloads, upgrades)
 *                                            are made private (no group/other bits)
 *   <data>/services              root 0711
 *   <data>/services/<name>       root:<gid> 0750   the package, rendered config (0640)
 *   <data>/services/<name>/logs  root:<gid> 0750
 *   …/logs/std{out,err}.log      <uid>:<gid> 0640  writable by the service
 *
 * Other services' directories stay 0700 (or their own user's group), so
 * the user can read neither the agent's credential nor another service.
 */
import { constants } from 'node:fs';
import { chmod, chown, lstat, mkdir, open, readdir, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RunAsError, type RunAsUser } from './run-as.js';

const OUTPUT_FILES = ['stdout.log', 'stderr.log'];

/** Whether `user` may search (x) a directory with these ownership and mode bits. */
function searchable(st: { uid: number; gid: number; mode: number }, user: RunAsUser): boolean {
  if (st.uid === user.uid) return (st.mode & 0o100) !== 0;
  if (st.gid === user.gid) return (st.mode & 0o010) !== 0;
  return (st.mode & 0o001) !== 0;
}

/** Drops group and other bits from everything directly in the data dir except services/. */
async function privatizeAgentFiles(dataDir: string): Promise<void> {
  for (const name of await readdir(dataDir)) {
    if (name === 'services') continue;
    const st = await lstat(join(dataDir, name));
    if (!st.isSymbolicLink() && (st.mode & 0o077) !== 0) await chmod(join(dataDir, name), st.mode & 0o7700);
  }
}

/**
 * Sets the modes and owners above for `serviceDir` (under
 * `<dataDir>/services`). `user` undefined: the service runs as the agent's
 * user. Throws RunAsError when the user could not reach the data dir
 * because of a directory above it, which the agent does not change.
 */
export async function grantServiceAccess(opts: { dataDir: string; serviceDir: string; user: RunAsUser | undefined }): Promise<void> {
  const { dataDir, serviceDir, user } = opts;
  await mkdir(serviceDir, { recursive: true, mode: 0o700 });
  if (!user) {
    await chmod(serviceDir, 0o700);
    // A previous version may have run as a user: take its group's access back.
    if (process.getuid?.() === 0) await chown(serviceDir, 0, 0);
    return;
  }
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    const st = await stat(dir);
    if (!searchable(st, user)) {
      throw new RunAsError(`run.user "${user.name}" cannot reach the agent's data dir: ${dir} (mode ${(st.mode & 0o777).toString(8)}) is not searchable by that user`);
    }
    if (dir === dirname(dir)) break;
  }
  await privatizeAgentFiles(dataDir);
  await chmod(dataDir, 0o711);
  await chmod(join(dataDir, 'services'), 0o711);
  await chown(serviceDir, 0, user.gid);
  await chmod(serviceDir, 0o750);
  const logs = join(serviceDir, 'logs');
  await mkdir(logs, { recursive: true });
  await chown(logs, 0, user.gid);
  await chmod(logs, 0o750);
  for (const name of OUTPUT_FILES) {
    // O_NOFOLLOW: never chown whatever a link would point at.
    const fh = await open(join(logs, name), constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o640);
    try {
      await fh.chown(user.uid, user.gid);
      await fh.chmod(0o640);
    } finally {
      await fh.close();
    }
  }
}
