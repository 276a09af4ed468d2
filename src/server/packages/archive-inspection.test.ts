import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tarEntry, writeRawArchive } from '../../testkit/raw-tar.js';
import { InvalidPackageError } from '../errors.js';
import { inspectPackageArchive } from './archive-inspection.js';

const manifest = tarEntry('corral.yaml', { body: 'name: x\n' });

it('accepts files, directories and links that stay inside', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-inspect-'));
  const file = writeRawArchive(join(dir, 'ok.tar.gz'), [manifest, tarEntry('bin/', { type: '5', mode: '0000755' }), tarEntry('bin/run', { body: 'x', mode: '0000755' }), tarEntry('run', { type: '2', link: 'bin/run' })]);
  assert.deepEqual(await inspectPackageArchive(file), { entries: 4, bytes: 9 });
});

for (const [what, entries, named] of [
  ['an absolute path', [tarEntry('/etc/cron.d/x', { body: 'x' })], '"/etc/cron.d/x" points outside'],
  ['a ".." path', [tarEntry('../x', { body: 'x' })], '"../x" points outside'],
  ['chained links leaving the package', [tarEntry('a/b', { type: '2', link: '..' }), tarEntry('a/c', { type: '2', link: 'b/..' })], 'link "a/c" → "b/.." resolves outside'],
  ['a hard link', [tarEntry('f', { body: 'x' }), tarEntry('g', { type: '1', link: 'f' })], '"g" is a hard link'],
  ['a character device', [tarEntry('null', { type: '3' })], '"null" is a CharacterDevice'],
  ['a FIFO', [tarEntry('pipe', { type: '6' })], '"pipe" is a FIFO'],
  ['a setuid binary', [tarEntry('su', { body: 'x', mode: '0004755' })], '"su" has the setuid bit'],
  ['a setgid binary', [tarEntry('sg', { body: 'x', mode: '0002755' })], '"sg" has the setgid bit'],
] as const) {
  it(`refuses ${what} before signing, naming the entry`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-inspect-'));
    const file = writeRawArchive(join(dir, 'bad.tar.gz'), [manifest, ...entries]);
    await assert.rejects(inspectPackageArchive(file), (e: unknown) => e instanceof InvalidPackageError && e.code === 'INVALID_PACKAGE' && e.message.includes(named));
  });
}

it('refuses absurd entry counts and sizes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-inspect-'));
  const file = writeRawArchive(join(dir, 'many.tar.gz'), [manifest, tarEntry('a', { body: 'x'.repeat(100) }), tarEntry('b'), tarEntry('c')]);
  const limits = { maxEntries: 3, maxBytes: 1e9, maxPathChars: 4096, maxDepth: 64 };
  await assert.rejects(inspectPackageArchive(file, limits), /more than 3 entries \(at "c"\)/);
  await assert.rejects(inspectPackageArchive(file, { ...limits, maxEntries: 10, maxBytes: 50 }), /unpacked size over 50 bytes \(at "a"\)/);
});
