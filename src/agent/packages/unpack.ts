/**
 * Safe unpacking of package archives. Every entry is checked before a
 * single byte is written (src/protocol/package-entries.ts): absolute paths,
 * `..`, links that resolve outside the package (also through chains of
 * links), hard links, device files and FIFOs, setuid/setgid bits, too many
 * entries or too many bytes are refused with an error naming the entry. Extraction then goes into a
 * fresh directory that only becomes visible (by rename) when it is
 * complete, so a failure — including a full disk — leaves nothing
 * half-installed and whatever was there before untouched.
 */
import { mkdir, rename, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tar from 'tar';
import { checkPackageEntries, DEFAULT_PACKAGE_ENTRY_LIMITS, UnsafePackageEntryError, type PackageEntryHeader } from '../../protocol/index.js';

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

const ALLOWED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink']);

/**
 * Checks every entry of `archive` (tar.gz) without extracting, by the same
 * rules the server applies at push (checkPackageEntries): links are resolved
 * through all the archive's other links. Throws UnsafeArchiveError naming the entry.
 */
export async function inspectArchive(archive: string, limits: UnpackLimits = DEFAULT_UNPACK_LIMITS): Promise<{ entries: number; bytes: number }> {
  const headers: PackageEntryHeader[] = [];
  try {
    await tar.t({
      file: archive,
      strict: true,
      onReadEntry: (e) => {
        // Stop collecting past the limit; checkPackageEntries reports it.
        if (headers.length <= limits.maxEntries) headers.push({ path: e.path, type: e.type, size: e.size ?? 0, ...(e.mode !== undefined ? { mode: e.mode } : {}), ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}) });
      },
    });
  } catch (e) {
    throw new UnsafeArchiveError(`not a valid tar.gz archive: ${(e as Error).message}`);
  }
  try {
    return checkPackageEntries(headers, { ...DEFAULT_PACKAGE_ENTRY_LIMITS, ...limits });
  } catch (e) {
    if (e instanceof UnsafePackageEntryError) throw new UnsafeArchiveError(e.message, e.entry);
    throw e;
  }
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
    // Links are made last, by us: tar writes files and directories only, so nothing is ever written through a link.
    const links: { path: string; target: string }[] = [];
    await tar.x({
      file: archive,
      cwd: staging,
      strict: true,
      preservePaths: false,
      preserveOwner: false,
      filter: (path, entry) => {
        const type = 'type' in entry ? (entry.type as string) : '';
        if (type === 'SymbolicLink' && 'linkpath' in entry) links.push({ path, target: String(entry.linkpath) });
        // A second line of defence: the inspection above already refused other types.
        return type !== 'SymbolicLink' && ALLOWED_TYPES.has(type);
      },
    });
    for (const link of links) {
      const at = join(staging, link.path);
      await mkdir(dirname(at), { recursive: true, mode: 0o755 });
      await symlink(link.target, at);
    }
    await rename(staging, dest);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    if (e instanceof UnsafeArchiveError) throw e;
    throw new UnsafeArchiveError(`could not unpack: ${(e as Error).message}`);
  }
}
