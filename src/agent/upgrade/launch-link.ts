/**
 * `<data>/agent-current`: the stable launch path a service manager runs the
 * agent through (`ExecStart=node <data>/agent-current/dist/bin/corral.js agent …`).
 * It is a symlink to a package root (the directory holding dist/ and
 * node_modules/): the corral that `corral agent install` ran from, or an
 * upgraded version under `<data>/agent-versions/<version>`. An upgrade
 * points it at the new version and a revert points it back; either way the
 * service manager's next start runs what it names.
 */
import { closeSync, fsyncSync, lstatSync, openSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';

export const LAUNCH_LINK = 'agent-current';

export const launchLinkPath = (dataDir: string): string => join(dataDir, LAUNCH_LINK);

export class LaunchLinkError extends Error {
  readonly code = 'LAUNCH_LINK';
}

/** The link's target (absolute, as written), or null when there is no link. Throws LaunchLinkError when the path is not a symlink. */
export function readLaunchLink(link: string): string | null {
  let isLink: boolean;
  try {
    isLink = lstatSync(link).isSymbolicLink();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (!isLink) throw new LaunchLinkError(`${link} exists and is not a symlink; move it away (it must name the agent version to run)`);
  return resolve(dirname(link), readlinkSync(link));
}

/**
 * Points `link` at `target` (an absolute directory) atomically: a new
 * symlink beside it, renamed over it, then the directory fsynced, so a
 * service manager starting the agent at any moment (or after a power cut)
 * sees the old or the new target, never none. Throws LaunchLinkError when
 * `link` exists and is not a symlink, or `target` is relative.
 */
export function pointLaunchLink(link: string, target: string): void {
  if (!isAbsolute(target)) throw new LaunchLinkError(`the launch link target must be absolute, got "${target}"`);
  readLaunchLink(link);
  const tmp = `${link}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp, 'dir');
  renameSync(tmp, link);
  const fd = openSync(dirname(link), 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Whether `script` (a path as given, symlinks not resolved) is run through `link`, and its path inside the link. */
export function pathThroughLink(link: string, script: string): string | null {
  const rel = relative(link, resolve(script));
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? null : rel;
}
