import { it } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rotateIfLarge } from './log-rotation.js';

it('rotates by size, keeps a bounded number of copies, and the writer keeps appending to the live file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-rot-'));
  const file = join(dir, 'stdout.log');
  // The service's side: a descriptor opened for append, as the supervisor gives it.
  const fd = openSync(file, 'a');
  const policy = { maxBytes: 100, keep: 2 };
  writeSync(fd, 'a'.repeat(50));
  assert.equal(rotateIfLarge(file, policy), false);
  for (const ch of ['b', 'c', 'd']) {
    writeSync(fd, ch.repeat(150));
    assert.equal(rotateIfLarge(file, policy), true);
  }
  writeSync(fd, 'after');
  closeSync(fd);
  assert.equal(readFileSync(file, 'utf8'), 'after', 'writes land at the start of the truncated file');
  assert.equal(readFileSync(`${file}.1`, 'utf8'), 'd'.repeat(150));
  assert.equal(readFileSync(`${file}.2`, 'utf8'), 'c'.repeat(150));
  assert.equal(existsSync(`${file}.3`), false, 'only `keep` copies');
  assert.equal(rotateIfLarge(join(dir, 'nope.log'), policy), false);
});
