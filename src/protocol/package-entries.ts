/**
 * What a package archive may contain, as one pure check over its entry
 * headers: shared by the server (at push, before signing) and the agent
 * (before unpacking), so both refuse the same archives.
 *
 * Allowed: regular files, directories, and symbolic links whose target,
 * resolved through every other link of the archive, stays inside the
 * package. Refused, each with an error naming the entry: absolute paths and
 * `..`, links resolving outside (also through chains of links that are each
 * harmless on their own, like `a/b -> ..` then `a/c -> b/..`), entries
 * placed through a link, the same path twice, hard links, devices and FIFOs,
 * setuid/setgid bits, and archives over the count or size limits.
 */

/** One tar entry header, as a tar reader reports it. */
export interface PackageEntryHeader {
  path: string;
  /** node-tar's type names: File, OldFile, ContiguousFile, Directory, SymbolicLink, Link, CharacterDevice, … */
  type: string;
  size: number;
  /** Permission bits (0o7777), when the header has them. */
  mode?: number;
  linkpath?: string;
}

export interface PackageEntryLimits {
  /** Number of entries. Default 100,000. */
  maxEntries: number;
  /** Sum of all file sizes. Default 1 GiB. */
  maxBytes: number;
  /** Characters in one entry path or link target. Default 4,096. */
  maxPathChars: number;
  /** Path components in one entry path. Default 64. */
  maxDepth: number;
}

export const DEFAULT_PACKAGE_ENTRY_LIMITS: PackageEntryLimits = { maxEntries: 100_000, maxBytes: 1024 ** 3, maxPathChars: 4096, maxDepth: 64 };

/** Links followed while resolving one path before giving up (as the kernel's ELOOP). */
const MAX_LINK_HOPS = 40;

export class UnsafePackageEntryError extends Error {
  readonly code = 'UNSAFE_ARCHIVE';
  constructor(
    message: string,
    /** The entry's path as the archive names it; absent for archive-wide limits. */
    readonly entry?: string,
  ) {
    super(message);
    this.name = 'UnsafePackageEntryError';
  }
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

type Node = { kind: 'dir' } | { kind: 'file' } | { kind: 'link'; target: string; entry: string };

/** Splits a relative entry path into components, or returns null for absolute paths and `..`. */
function components(path: string): string[] | null {
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\') || path.includes('\0')) return null;
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return null;
  return parts;
}

/**
 * Resolves `parts` (relative to the package root) through the links in
 * `tree`, as the kernel would once everything is on disk. Returns the
 * resolved components, or null when the path leaves the package or loops.
 */
function resolve(tree: Map<string, Node>, parts: string[], hops = { n: 0 }): string[] | null {
  const out: string[] = [];
  for (const part of parts) {
    if (part === '.' || part === '') continue;
    if (part === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(part);
    const node = tree.get(out.join('/'));
    if (node?.kind !== 'link') continue;
    if (++hops.n > MAX_LINK_HOPS) return null;
    if (node.target.startsWith('/') || node.target.includes('\0')) return null;
    out.pop();
    const resolved = resolve(tree, [...out, ...node.target.split('/')], hops);
    if (resolved === null) return null;
    out.splice(0, out.length, ...resolved);
  }
  return out;
}

/**
 * Checks every entry header of a package archive. Throws
 * UnsafePackageEntryError naming the first offending entry; returns the
 * entry count and total file bytes otherwise.
 */
export function checkPackageEntries(headers: Iterable<PackageEntryHeader>, limits: PackageEntryLimits = DEFAULT_PACKAGE_ENTRY_LIMITS): { entries: number; bytes: number } {
  const tree = new Map<string, Node>();
  const fail = (msg: string, entry?: string): never => {
    throw new UnsafePackageEntryError(msg, entry);
  };
  let entries = 0;
  let bytes = 0;
  for (const h of headers) {
    const name = h.path;
    entries++;
    bytes += h.size;
    if (entries > limits.maxEntries) fail(`more than ${limits.maxEntries} entries (at "${name}")`, name);
    if (bytes > limits.maxBytes) fail(`unpacked size over ${limits.maxBytes} bytes (at "${name}")`, name);
    if (name.length > limits.maxPathChars || (h.linkpath?.length ?? 0) > limits.maxPathChars) fail(`entry "${name.slice(0, 200)}…": path or link target longer than ${limits.maxPathChars} characters`, name);
    const isFile = FILE_TYPES.has(h.type);
    if (h.type === 'Link') fail(`entry "${name}" is a hard link (to "${h.linkpath ?? ''}"): packages may not contain hard links`, name);
    if (!isFile && h.type !== 'Directory' && h.type !== 'SymbolicLink') fail(`entry "${name}" is a ${h.type}: only files, directories and symbolic links are allowed`, name);
    if (h.mode !== undefined && (h.mode & 0o6000) !== 0) fail(`entry "${name}" has the ${h.mode & 0o4000 ? 'setuid' : 'setgid'} bit (mode ${h.mode.toString(8)}): not allowed in packages`, name);
    const parts = components(name);
    if (parts === null) fail(`entry "${name}" points outside the package (absolute path or "..")`, name);
    if (parts!.length === 0) {
      if (h.type === 'Directory') continue; // "./": the package root itself
      fail(`entry "${name}" has no name`, name);
    }
    if (parts!.length > limits.maxDepth) fail(`entry "${name}" is nested deeper than ${limits.maxDepth} directories`, name);
    // Every parent must be a plain directory: nothing is ever placed through a link.
    for (let i = 1; i < parts!.length; i++) {
      const parent = parts!.slice(0, i).join('/');
      const node = tree.get(parent);
      if (node === undefined) tree.set(parent, { kind: 'dir' });
      else if (node.kind === 'link') fail(`entry "${name}" is placed through the link "${parent}"`, name);
      else if (node.kind === 'file') fail(`entry "${name}" is placed under the file "${parent}"`, name);
    }
    const key = parts!.join('/');
    const existing = tree.get(key);
    if (existing && !(existing.kind === 'dir' && h.type === 'Directory')) fail(`entry "${name}" appears more than once in the archive`, name);
    if (h.type === 'SymbolicLink') {
      const target = h.linkpath ?? '';
      if (target === '') fail(`link "${name}" has no target`, name);
      if (target.startsWith('/')) fail(`link "${name}" → "${target}" is absolute: links must stay inside the package`, name);
      tree.set(key, { kind: 'link', target, entry: name });
    } else {
      tree.set(key, { kind: h.type === 'Directory' ? 'dir' : 'file' });
    }
  }
  // Links are judged against the whole archive: a later entry can change where an earlier link leads.
  for (const [key, node] of tree) {
    if (node.kind !== 'link') continue;
    const parent = key.split('/').slice(0, -1);
    if (resolve(tree, [...parent, ...node.target.split('/')]) === null) {
      fail(`link "${node.entry}" → "${node.target}" resolves outside the package (through the archive's other links) or loops`, node.entry);
    }
  }
  return { entries, bytes };
}
