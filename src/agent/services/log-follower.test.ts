import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, closeSync, mkdtempSync, openSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogFollower } from './log-follower.js';
import { rotateIfLarge } from './log-rotation.js';

const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `line ${from + i}\n`).join('');

function setup() {
  const dir = mkdtempSync(join(tmpdir(), 'corral-follow-'));
  const file = join(dir, 'stdout.log');
  // The service's side: one descriptor opened for append, kept across rotations.
  const fd = openSync(file, 'a');
  return { dir, file, fd, write: (s: string) => writeSync(fd, s), done: () => closeSync(fd) };
}

describe('LogFollower', () => {
  it('starts at the end by default and returns lines as they are appended', async () => {
    const s = setup();
    s.write(lines(1, 3));
    const f = new LogFollower(s.file);
    assert.equal(await f.poll(), '', 'what was there before is not repeated');
    s.write(lines(4, 5));
    assert.equal(await f.poll(), lines(4, 5));
    assert.equal(await f.poll(), '');
    await f.close();
    s.done();
  });

  it('starts at a given offset, and reads all of a file created after the first poll', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-follow-'));
    const file = join(dir, 'stderr.log');
    const f = new LogFollower(file);
    assert.equal(await f.poll(), '');
    writeFileSync(file, lines(1, 2));
    assert.equal(await f.poll(), lines(1, 2));
    const g = new LogFollower(file, { startOffset: lines(1, 1).length });
    assert.equal(await g.poll(), lines(2, 2));
    await Promise.all([f.close(), g.close()]);
  });

  it('continues across a copy-and-truncate rotation without losing or repeating lines', async () => {
    const s = setup();
    const f = new LogFollower(s.file, { startOffset: 0 });
    s.write(lines(1, 10));
    assert.equal(await f.poll(), lines(1, 10));
    // Written after our last read, then rotated away into stdout.log.1, then more written to the live file.
    s.write(lines(11, 20));
    assert.equal(rotateIfLarge(s.file, { maxBytes: 10, keep: 2 }), true);
    s.write(lines(21, 22));
    assert.equal(await f.poll(), lines(11, 22));
    // A second rotation (the first copy moves to .2) while the live file regrew, but stays smaller than the copy.
    s.write(lines(23, 25));
    assert.equal(await f.poll(), lines(23, 25));
    s.write(lines(26, 27));
    assert.equal(rotateIfLarge(s.file, { maxBytes: 10, keep: 2 }), true);
    s.write(lines(28, 28));
    assert.equal(await f.poll(), lines(26, 28));
    await f.close();
    s.done();
  });

  it('does not repeat the file when it sees the copy before the truncation', async () => {
    const s = setup();
    const f = new LogFollower(s.file, { startOffset: 0 });
    s.write(lines(1, 5));
    assert.equal(await f.poll(), lines(1, 5));
    // The rotation's first half: the copy exists, the live file is still whole.
    s.write(lines(6, 6));
    appendFileSync(`${s.file}.1`, lines(1, 6));
    assert.equal(await f.poll(), lines(6, 6));
    s.write(lines(7, 7)); // after the copy: lost by the rotation itself, as for any copy-and-truncate
    truncateSync(s.file, 0);
    s.write(lines(8, 9));
    assert.equal(await f.poll(), lines(8, 9));
    await f.close();
    s.done();
  });

  it('starts over after a truncation without a copy', async () => {
    const s = setup();
    const f = new LogFollower(s.file, { startOffset: 0 });
    s.write(lines(1, 5));
    assert.equal(await f.poll(), lines(1, 5));
    truncateSync(s.file, 0);
    s.write(lines(6, 6));
    assert.equal(await f.poll(), lines(6, 6));
    await f.close();
    s.done();
  });

  it('drains a file renamed away, then follows the new one from its start', async () => {
    const s = setup();
    const f = new LogFollower(s.file, { startOffset: 0 });
    s.write(lines(1, 2));
    assert.equal(await f.poll(), lines(1, 2));
    s.write(lines(3, 4));
    renameSync(s.file, `${s.file}.1`);
    s.done();
    writeFileSync(s.file, lines(5, 6));
    assert.equal(await f.poll(), lines(3, 6));
    appendFileSync(s.file, lines(7, 7));
    assert.equal(await f.poll(), lines(7, 7));
    await f.close();
  });

  it('holds a partial line until it ends, or until it has waited long enough', async () => {
    const s = setup();
    const f = new LogFollower(s.file, { startOffset: 0, stalePartialPolls: 3 });
    s.write('hello ');
    assert.equal(await f.poll(), '');
    s.write('world\nprompt> ');
    assert.equal(await f.poll(), 'hello world\n');
    assert.equal(await f.poll(), '');
    assert.equal(await f.poll(), 'prompt> ', 'a partial line seen by three polls is sent as it is');
    s.write('yes\n');
    assert.equal(await f.poll(), 'yes\n');
    await f.close();
    s.done();
  });

  it('never splits a multi-byte character, and reads a large backlog in bounded steps', async () => {
    const s = setup();
    const f = new LogFollower(s.file, { startOffset: 0, maxReadBytes: 5 });
    s.write('ééé\n'); // 7 bytes
    assert.equal(await f.poll(), '');
    assert.equal(await f.poll(), 'ééé\n');
    await f.close();
    s.done();
  });
});
