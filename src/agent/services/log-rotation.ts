/**
 * Service output files are rotated by size with copy-and-truncate: the
 * service keeps its file descriptor (opened for append), so it never needs
 * a signal or a restart to let go of an old file. `stdout.log` becomes
 * `stdout.log.1`, older copies shift up, and at most `keep` are kept.
 *
 * Copy-and-truncate has a window: a line the service writes after the copy
 * and before the truncation is in neither file. logrotate's `copytruncate`
 * loses whatever arrives while it copies; here the copy catches up with what
 * was written meanwhile and truncates right after a size check that found
 * nothing new, so the window is two system calls wide instead of a whole copy.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';

export interface RotationPolicy {
  maxBytes: number;
  keep: number;
}

export const DEFAULT_ROTATION: RotationPolicy = { maxBytes: 10 * 1024 * 1024, keep: 3 };

/** Catch-up rounds before truncating anyway (a service out-writing the copy loses what it wrote during the last round). */
const MAX_CATCH_UP_ROUNDS = 8;
const COPY_CHUNK_BYTES = 1024 * 1024;

/** Copies bytes [from, to) of `src` to the end of `dst`; returns how many it copied (less if the file shrank). */
function copyRange(src: number, dst: number, from: number, to: number, buf: Buffer): number {
  let at = from;
  while (at < to) {
    const n = readSync(src, buf, 0, Math.min(buf.length, to - at), at);
    if (n === 0) break;
    writeSync(dst, buf, 0, n);
    at += n;
  }
  return at - from;
}

/**
 * Rotates `file` if it is over the limit; returns whether it did.
 * `afterCopy` runs after each copy round, before the size check: a test's
 * way to write into the window.
 */
export function rotateIfLarge(file: string, policy: RotationPolicy = DEFAULT_ROTATION, afterCopy?: () => void): boolean {
  let live: number;
  try {
    live = openSync(file, 'r+');
  } catch {
    return false;
  }
  try {
    const st = fstatSync(live);
    if (st.size <= policy.maxBytes) return false;
    rmSync(`${file}.${policy.keep}`, { force: true });
    for (let i = policy.keep - 1; i >= 1; i--) if (existsSync(`${file}.${i}`)) renameSync(`${file}.${i}`, `${file}.${i + 1}`);
    const copy = openSync(`${file}.1`, 'w', st.mode & 0o777);
    try {
      const buf = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
      let copied = copyRange(live, copy, 0, st.size, buf);
      for (let round = 0; round < MAX_CATCH_UP_ROUNDS; round++) {
        afterCopy?.();
        const size = fstatSync(live).size;
        if (size <= copied) break;
        copied += copyRange(live, copy, copied, size, buf);
      }
      ftruncateSync(live, 0);
    } finally {
      closeSync(copy);
    }
    return true;
  } finally {
    closeSync(live);
  }
}
