/**
 * Service output files are rotated by size with copy-and-truncate: the
 * service keeps its file descriptor (opened for append), so it never needs
 * a signal or a restart to let go of an old file. `stdout.log` becomes
 * `stdout.log.1`, older copies shift up, and at most `keep` are kept.
 */
import { copyFileSync, existsSync, renameSync, rmSync, statSync, truncateSync } from 'node:fs';

export interface RotationPolicy {
  maxBytes: number;
  keep: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/** Rotates `file` if it is over the limit; returns whether it did. */
export function rotateIfLarge(file: string, policy: RotationPolicy = DEFAULT_ROTATION): boolean {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return false;
  }
  if (size <= policy.maxBytes) return false;
  rmSync(`${file}.${policy.keep}`, { force: true });
  for (let i = policy.keep - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
  copyFileSync(file, `${file}.1`);
  truncateSync(file, 0);
  return true;
}
