/**
 * Safe unpacking of package archives. Every entry is checked before a
 * single byte is written: absolute paths, `..`, links that point outside
 * the package, device files and FIFOs, too many entries or too many bytes
 * are refused with an error naming the entry. Extraction then goes into a
 * fresh directory that only becomes visible (by rename) when it is
 * complete, so a failure — including a full disk — leaves nothing
 * half-installed and whatever was there before untouched.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar';

export interface UnpackLimits {
  /** Sum of all file sizes. Default 1 GiB. */
  maxBytes: number;
  /** Number of entries. Default 100,000. */
  maxEntries: number;
}

export const DEFAULT_UNPACK_LIMITS: UnpackLimits = { maxBytes: 1024 ** 3, maxEntries: 100_000 };

export class UnsafeArchiveError extends Error {
  readonly code = 'UNSAFE_ARCHIVE';
  constructor(
    message: string,
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'UnsafeArchiveError';
  }
}

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link']);

/** Normalizes an entry path, or returns null when it is absolute or climbs out. */
function insidePath(p: string): string | null {
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p) || p.includes('\0')) return null;
  const norm = posix.normalize(p);
  if (norm === '..' || norm.startsWith('../')) return null;
  return norm;
}

/** Checks every entry of `archive` (tar.gz) without extracting. Throws UnsafeArchiveError. */
export async function inspectArchive(archive: string, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS): Promise<{ entries: number; bytes: number }> {
  let entries = 0;
  let bytes = 0;
  let problem: UnsafeArchiveError | null = null;
  const fail = (msg: string, entry: string) => {
    problem ??= new UnsafeArchiveError(msg, entry);
  };
  try {
    await tar.t({
      file: archive,
      strict: true,
      onReadEntry: (e) => {
        entries++;
        bytes += e.size ?? 0;
        const path = e.path;
        if (!ALLOWED_TYPES.has(e.type)) return fail(`entry "${path}" is a ${e.type}: only files, directories and links are allowed`, path);
        const inside = insidePath(path);
        if (inside === null) return fail(`entry "${path}" points outside the package (absolute path or "..")`, path);
        if (e.type === 'SymbolicLink' || e.type === 'Link') {
          const target = e.linkpath ?? '';
          // Symlink targets are relative to the link's directory; hard links to the archive root.
          const resolved = e.type === 'SymbolicLink' && !target.startsWith('/') ? posix.join(posix.dirname(inside), target) : target;
          if (insidePath(resolved) === null) return fail(`link "${path}" → "${target}" points outside the package`, path);
        }
        if (entries > limits.maxEntries) return fail(`more than ${limits.maxEntries} entries`, path);
        if (bytes > limits.maxBytes) return fail(`unpacked size over ${limits.maxBytes} bytes`, path);
      },
    });
  } catch (e) {
    throw new UnsafeArchiveError(`not a valid tar.gz archive: ${(e as Error).message}`);
  }
  if (problem) throw problem;
  return { entries, bytes };
}

/**
 * Inspects, then extracts `archive` into `dest` (which must not exist yet).
 * On any error nothing is left at `dest`.
 */
export async function unpackArchive(archive: string, dest: string, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS): Promise<void> {
  await inspectArchive(archive, limits);
  const staging = join(dirname(dest), `.unpack-${randomBytes(6).toString('hex')}`);
  await mkdir(staging, { recursive: true, mode: 0o755 });
  try {
    await tar.x({
      file: archive,
      cwd: staging,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      // A second line of defence: the inspection above already refused these.
      filter: (_path, entry) => 'type' in entry && ALLOWED_TYPES.has(entry.type as string),
    });
    await rename(staging, dest);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    if (e instanceof UnsafeArchiveError) throw e;
    throw new UnsafeArchiveError(`could not unpack: ${(e as Error).message}`);
  }
}
