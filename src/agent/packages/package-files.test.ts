import { it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PackagePathError, readPackageFile, writePackageFile } from './package-files.js';

function layout() {
  const base = mkdtempSync(join(tmpdir(), 'corral-pkgfiles-'));
  const pkg = join(base, 'pkg');
  const outside = join(base, 'outside');
  mkdirSync(pkg);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'credential', { mode: 0o600 });
  return { base, pkg, outside };
}

it('writes config files with their mode, making directories', async () => {
  const { pkg } = layout();
  await writePackageFile(pkg, 'conf/app.json', '{"a":1}', { mode: 0o640 });
  assert.equal(readFileSync(join(pkg, 'conf', 'app.json'), 'utf8'), '{"a":1}');
  assert.equal(statSync(join(pkg, 'conf', 'app.json')).mode & 0o777, 0o640);
  assert.deepEqual(readdirSync(join(pkg, 'conf')), ['app.json'], 'no temporary file left');
});

it('refuses to write through a directory that is a link, and writes nothing outside', async () => {
  const { pkg, outside } = layout();
  symlinkSync(outside, join(pkg, 'etc'));
  await assert.rejects(writePackageFile(pkg, 'etc/cron', 'evil'), (e: unknown) => e instanceof PackagePathError && /"etc" is a link/.test(e.message));
  assert.deepEqual(readdirSync(outside), ['secret']);
});

it('replaces a link at the file name itself instead of writing through it', async () => {
  const { pkg, outside } = layout();
  symlinkSync(join(outside, 'secret'), join(pkg, 'app.conf'));
  await writePackageFile(pkg, 'app.conf', 'rendered');
  assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'credential');
  assert.equal(lstatSync(join(pkg, 'app.conf')).isFile(), true);
});

it('refuses to read a template that resolves outside the package', async () => {
  const { pkg, outside } = layout();
  symlinkSync(join(outside, 'secret'), join(pkg, 'template'));
  await assert.rejects(readPackageFile(pkg, 'template'), /resolves outside the package/);
  writeFileSync(join(pkg, 'real'), 'ok');
  symlinkSync('real', join(pkg, 'alias'));
  assert.equal(await readPackageFile(pkg, 'alias'), 'ok');
  await assert.rejects(readPackageFile(pkg, '../outside/secret'), PackagePathError);
  assert.equal(existsSync(join(pkg, 'missing')), false);
  await assert.rejects(readPackageFile(pkg, 'missing'), /missing from the package/);
});
