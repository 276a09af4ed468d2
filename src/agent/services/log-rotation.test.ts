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

it('keeps what the service writes while the copy is being made', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-rot-'));
  const file = join(dir, 'stdout.log');
  const fd = openSync(file, 'a');
  writeSync(fd, 'line 1\n'.repeat(40));
  // Force the race: the service writes between the copy and the truncation, twice.
  let writes = 0;
  const during = () => {
    if (writes < 2) writeSync(fd, `during ${++writes}\n`);
  };
  assert.equal(rotateIfLarge(file, { maxBytes: 100, keep: 2 }, during), true);
  writeSync(fd, 'after\n');
  closeSync(fd);
  assert.equal(readFileSync(`${file}.1`, 'utf8'), 'line 1\n'.repeat(40) + 'during 1\nduring 2\n', 'the copy caught up with both writes');
  assert.equal(readFileSync(file, 'utf8'), 'after\n');
});
