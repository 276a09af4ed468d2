import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsafeArchiveError, inspectArchive, unpackArchive } from './unpack.js';
import { requirement } from '../../testkit/requirement.js';
import { tarEntry, writeRawArchive } from '../../testkit/raw-tar.js';

const entry = tarEntry;
const archive = (dir: string, name: string, entries: Buffer[]): string => writeRawArchive(join(dir, name), entries);

describe('package unpacking', () => {
  it('unpacks files, directories and inside links', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-unpack-'));
    const file = archive(dir, 'ok.tar.gz', [
      entry('corral.yaml', { body: 'name: ok\n' }),
      entry('bin/', { type: '5' }),
      entry('bin/run.sh', { body: 'echo hi\n' }),
      entry('current', { type: '2', link: 'bin/run.sh' }),
    ]);
    const dest = join(dir, 'v1');
    await unpackArchive(file, dest);
    assert.equal(readFileSync(join(dest, 'bin', 'run.sh'), 'utf8'), 'echo hi\n');
    assert.ok(lstatSync(join(dest, 'current')).isSymbolicLink());
  });

  it('unpacks links that stay inside the package, also through other links', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-unpack-'));
    const file = archive(dir, 'ok.tar.gz', [
      entry('bin/run.sh', { body: 'echo hi\n' }),
      entry('a/b', { type: '2', link: '..' }),
      entry('a/run', { type: '2', link: 'b/bin/run.sh' }),
      entry('lib/x.so', { type: '2', link: 'x.so.1' }),
      entry('lib/x.so.1', { type: '2', link: 'x.so.1.2' }),
      entry('lib/x.so.1.2', { body: 'lib' }),
    ]);
    const dest = join(dir, 'v1');
    await unpackArchive(file, dest);
    assert.equal(readFileSync(join(dest, 'a', 'run'), 'utf8'), 'echo hi\n');
    assert.equal(readFileSync(join(dest, 'lib', 'x.so'), 'utf8'), 'lib');
  });

  for (const [what, entries, named] of [
    ['an absolute path', [entry('/etc/cron.d/evil', { body: 'x' })], '/etc/cron.d/evil'],
    ['a ".." path', [entry('ok.txt', { body: 'x' }), entry('../../escape.txt', { body: 'x' })], '../../escape.txt'],
    ['a symlink out of the package', [entry('etc', { type: '2', link: '../../../etc' })], 'etc'],
    ['an absolute symlink', [entry('passwd', { type: '2', link: '/etc/passwd' })], 'passwd'],
    ['a hard link out of the package', [entry('ok.txt', { body: 'x' }), entry('hardlink', { type: '1', link: '../outside' })], 'hardlink'],
    ['a character device', [entry('null', { type: '3' })], 'null'],
    ['a FIFO', [entry('pipe', { type: '6' })], 'pipe'],
    ['chained links, each harmless alone', [entry('a/', { type: '5' }), entry('a/b', { type: '2', link: '..' }), entry('a/c', { type: '2', link: 'b/..' })], 'a/c'],
    ['a link chain through a later link', [entry('x', { type: '2', link: 'y/../..' }), entry('y', { type: '2', link: '.' })], 'x'],
    ['a link loop', [entry('p', { type: '2', link: 'q' }), entry('q', { type: '2', link: 'p' })], 'p'],
    ['an entry placed through a link', [entry('d', { type: '2', link: '.' }), entry('d/evil', { body: 'x' })], 'd/evil'],
    ['the same path twice', [entry('conf', { body: 'x' }), entry('conf', { type: '2', link: 'other' })], 'conf'],
    ['a hard link inside the package', [entry('f', { body: 'x' }), entry('g', { type: '1', link: 'f' })], 'g'],
    ['a setuid file', [entry('bin/su', { body: 'x', mode: '0004755' })], 'bin/su'],
    ['a setgid file', [entry('bin/sg', { body: 'x', mode: '0002755' })], 'bin/sg'],
  ] as const) {
    it(`refuses ${what}, naming the entry, and writes nothing`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'corral-unpack-'));
      const file = archive(dir, 'bad.tar.gz', [...entries]);
      const dest = join(dir, 'v1');
      await assert.rejects(unpackArchive(file, dest), (e: unknown) => {
        assert.ok(e instanceof UnsafeArchiveError, String(e));
        assert.equal(e.entry, named);
        assert.ok(e.message.includes(`"${named}"`), `the message quotes the entry: ${e.message}`);
        return true;
      });
      assert.equal(existsSync(dest), false);
      assert.deepEqual(readdirSync(dir), ['bad.tar.gz'], 'no staging directory left behind');
    });
  }

  it('refuses archives over the size or entry limit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-unpack-'));
    const file = archive(dir, 'big.tar.gz', [entry('a', { body: 'x'.repeat(2000) }), entry('b', { body: 'y' })]);
    await assert.rejects(inspectArchive(file, { maxBytes: 1000, maxEntries: 10 }), /size over 1000 bytes/);
    await assert.rejects(inspectArchive(file, { maxBytes: 1e9, maxEntries: 1 }), /more than 1 entries/);
  });

  it('fails cleanly when the disk fills during unpack, leaving what was there', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-unpack-'));
    const small = join(dir, 'small-disk');
    mkdirSync(small);
    let mounted = true;
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', small], { stdio: 'ignore' });
    } catch {
      mounted = false;
    }
    if (!requirement(t, mounted, 'cannot mount a small tmpfs here (needs root): full-disk case not exercised')) return;
    try {
      mkdirSync(join(small, 'v1'));
      writeFileSync(join(small, 'v1', 'app'), 'old version');
      // 1 MiB of zeros: a tiny archive that cannot fit once unpacked.
      const file = archive(dir, 'big.tar.gz', [entry('corral.yaml', { body: 'x' }), entry('blob', { body: '\0'.repeat(1024 * 1024) })]);
      await assert.rejects(unpackArchive(file, join(small, 'v2')), (e: unknown) => e instanceof UnsafeArchiveError && /ENOSPC|no space/i.test(e.message));
      assert.deepEqual(readdirSync(small), ['v1'], 'no half-unpacked version and no staging directory');
      assert.equal(readFileSync(join(small, 'v1', 'app'), 'utf8'), 'old version');
    } finally {
      execFileSync('umount', [small]);
    }
  });

  it('refuses a truncated or non-tar file with a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-unpack-'));
    const good = readFileSync(archive(dir, 'ok.tar.gz', [entry('a', { body: 'x'.repeat(5000) })]));
    writeFileSync(join(dir, 'cut.tar.gz'), good.subarray(0, Math.floor(good.length / 2)));
    await assert.rejects(unpackArchive(join(dir, 'cut.tar.gz'), join(dir, 'v1')), UnsafeArchiveError);
    writeFileSync(join(dir, 'junk.tar.gz'), 'not an archive at all');
    await assert.rejects(unpackArchive(join(dir, 'junk.tar.gz'), join(dir, 'v2')), /not a valid tar.gz/);
    assert.equal(existsSync(join(dir, 'v1')), false);
  });
});
