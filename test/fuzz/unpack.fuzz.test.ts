/**
 * Fuzzing the agent's unpacker through its public function: archives built
 * from generated entries (paths with `..`, absolute paths, symlinks and hard
 * links to anywhere, devices, FIFOs) and plain garbage. Each either unpacks
 * with everything inside the destination, or is refused with
 * UnsafeArchiveError leaving nothing behind; nothing outside the destination
 * is ever created or changed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Header } from 'tar';
import { fc, fuzz } from '../../src/testkit/fuzz.js';
import { UnsafeArchiveError, unpackArchive } from '../../src/agent/packages/unpack.js';

type EntryType = 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'FIFO' | 'CharacterDevice';
interface Entry {
  path: string;
  type: EntryType;
  linkpath?: string;
  body?: string;
}

function tarGz(entries: Entry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const body = e.type === 'File' ? Buffer.from(e.body ?? '') : Buffer.alloc(0);
    const header = Buffer.alloc(512);
    new Header({ path: e.path, type: e.type, size: body.length, linkpath: e.linkpath ?? '', mode: e.type === 'Directory' ? 0o755 : 0o644, mtime: new Date(0) }).encode(header, 0);
    blocks.push(header, body, Buffer.alloc((512 - (body.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Every path under `dir`, and whether any link under it points outside `root` (followed textually, link by link). */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await readdir(dir)) {
    const p = join(dir, name);
    out.push(p);
    if ((await lstat(p)).isDirectory()) out.push(...(await walk(p)));
  }
  return out;
}

/** Resolves `p` the way the kernel would (links followed, ../ applied), without touching anything outside `root` more than lstat/readlink. */
async function resolveLinks(p: string, depth = 0): Promise<string> {
  if (depth > 40) return p;
  const parts = resolve(p).split(sep).filter(Boolean);
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const next = join(cur, parts[i]!);
    let st;
    try {
      st = await lstat(next);
    } catch {
      return join(next, ...parts.slice(i + 1));
    }
    cur = st.isSymbolicLink() ? await resolveLinks(resolve(dirname(next), await readlink(next)), depth + 1) : next;
  }
  return cur;
}

const component = fc.constantFrom('a', 'b', 'c', '..', '.', 'etc', 'x.conf');
const relPath = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join('/'));
const anyPath = fc.oneof({ weight: 5, arbitrary: relPath }, { weight: 1, arbitrary: relPath.map((p) => `/${p}`) });
const entry: fc.Arbitrary<Entry> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ path: anyPath, type: fc.constant('File' as const), body: fc.string({ maxLength: 16 }) }) },
  { weight: 2, arbitrary: fc.record({ path: anyPath, type: fc.constant('Directory' as const) }) },
  { weight: 4, arbitrary: fc.record({ path: anyPath, type: fc.constant('SymbolicLink' as const), linkpath: anyPath }) },
  { weight: 1, arbitrary: fc.record({ path: anyPath, type: fc.constant('Link' as const), linkpath: anyPath }) },
  { weight: 1, arbitrary: fc.record({ path: anyPath, type: fc.constantFrom('FIFO' as const, 'CharacterDevice' as const) }) },
);

async function check(archive: Buffer): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'corral-unpack-fuzz-'));
  try {
    const file = join(root, 'archive.tar.gz');
    await writeFile(file, archive);
    await mkdir(join(root, 'outside'));
    await writeFile(join(root, 'outside', 'keep.txt'), 'keep');
    const dest = join(root, 'work', 'pkg');
    await mkdir(dirname(dest));
    const beforeOutside = await walk(join(root, 'outside'));
    let refused = false;
    try {
      await unpackArchive(file, dest);
    } catch (e) {
      assert.ok(e instanceof UnsafeArchiveError, `expected UnsafeArchiveError, got ${(e as Error).name}: ${(e as Error).message}`);
      refused = true;
    }
    assert.deepEqual((await readdir(root)).sort(), ['archive.tar.gz', 'outside', 'work'], 'nothing created beside the destination');
    assert.deepEqual(await walk(join(root, 'outside')), beforeOutside, 'nothing changed outside');
    if (refused) {
      assert.deepEqual(await readdir(join(root, 'work')), [], 'a refused archive leaves nothing behind');
      return;
    }
    for (const p of await walk(dest)) {
      if (!(await lstat(p)).isSymbolicLink()) continue;
      const target = await resolveLinks(p);
      const rel = relative(dest, target);
      assert.ok(rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep)), `link ${relative(dest, p)} resolves outside the package, to ${target}`);
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

/** Archives that once got through, or nearly: the chained-symlink escape of issue 9, and classics. */
const REGRESSIONS: Entry[][] = [
  [{ path: '../evil', type: 'File', body: 'x' }],
  [{ path: '/etc/evil', type: 'File', body: 'x' }],
  [{ path: 'l', type: 'SymbolicLink', linkpath: '/etc' }],
  [
    { path: 'l', type: 'SymbolicLink', linkpath: '..' },
    { path: 'l/evil', type: 'File', body: 'x' },
  ],
  [
    { path: 'a/b', type: 'SymbolicLink', linkpath: '..' },
    { path: 'a/c', type: 'SymbolicLink', linkpath: 'b/..' },
    { path: 'a/c/evil', type: 'File', body: 'x' },
  ],
  [{ path: 'fifo', type: 'FIFO' }],
];

describe('unpack fuzzing', () => {
  it('refuses or safely unpacks the regression archives', async () => {
    for (const entries of REGRESSIONS) await check(tarGz(entries));
  });

  it('refuses garbage with UnsafeArchiveError', async () => {
    await fuzz('unpack garbage', fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.boolean(), async (bytes, gzip) => check(gzip ? gzipSync(bytes) : Buffer.from(bytes))), { numRuns: 100, timeLimitMs: 8000 });
  });

  it('never writes outside the destination, whatever the entries', async () => {
    await fuzz('unpack generated archives', fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 8 }), async (entries) => check(tarGz(entries))), { numRuns: 200, timeLimitMs: 10_000 });
  });
});
