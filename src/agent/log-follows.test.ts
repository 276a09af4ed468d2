import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MAX_LOG_FOLLOW_CHUNKS, MAX_LOG_FOLLOW_CHUNK_CHARS, type LogChunk } from '../protocol/index.js';
import { eventually } from '../testkit/eventually.js';
import { LogFollows, splitText } from './log-follows.js';

function setup(opts: { maxMs?: number } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'corral-follows-'));
  mkdirSync(join(dir, 'web'));
  let installed = true;
  const follows = new LogFollows(
    { log: pino({ level: 'silent' }), logDir: (s) => join(dir, s), has: (s) => s === 'web' && installed },
    { pollMs: 10, maxActive: 2, ...opts },
  );
  const messages: Record<string, unknown>[] = [];
  const chunks = () => messages.flatMap((m) => (m.chunks as LogChunk[] | undefined) ?? []);
  return { dir, follows, messages, chunks, remove: () => (installed = false) };
}

describe('LogFollows', () => {
  it('sends stdout and stderr lines, marked, until cancelled', async () => {
    const t = setup();
    const connection = new AbortController();
    const done = t.follows.follow({ id: 'f1', service: 'web', follow: true }, (m) => t.messages.push(m), connection.signal);
    await eventually(() => t.messages.length > 0 && t.follows.count('web') === 1);
    assert.deepEqual(t.messages[0], { started: true });
    appendFileSync(join(t.dir, 'web', 'stdout.log'), 'out 1\n');
    appendFileSync(join(t.dir, 'web', 'stderr.log'), 'err 1\n');
    await eventually(() => t.chunks().length === 2, { what: 'both lines' });
    assert.deepEqual(new Set(t.chunks().map((c) => `${c.stream}:${c.data}`)), new Set(['stdout:out 1\n', 'stderr:err 1\n']));
    assert.equal(t.follows.cancel('f1'), true);
    assert.equal(await done, 'cancelled');
    assert.equal(t.follows.count(), 0);
    assert.equal(t.follows.cancel('f1'), false);
  });

  it('stops when the connection drops, after the maximum time, or when the service goes', async () => {
    const t = setup({ maxMs: 60_000 });
    const connection = new AbortController();
    const a = t.follows.follow({ id: 'a', service: 'web', follow: true }, () => undefined, connection.signal);
    connection.abort();
    assert.equal(await a, 'disconnected');

    const short = setup({ maxMs: 30 });
    assert.equal(await short.follows.follow({ id: 'b', service: 'web', follow: true }, () => undefined, new AbortController().signal), 'max-time');

    const c = t.follows.follow({ id: 'c', service: 'web', follow: true }, () => undefined, new AbortController().signal);
    t.remove();
    assert.equal(await c, 'service-removed');
    assert.equal(t.follows.count(), 0);
  });

  it('refuses an unknown service and too many follows at once', async () => {
    const t = setup();
    const never = new AbortController().signal;
    await assert.rejects(t.follows.follow({ id: 'x', service: 'nope', follow: true }, () => undefined, never), /no service nope/);
    const running = [t.follows.follow({ id: '1', service: 'web', follow: true }, () => undefined, never), t.follows.follow({ id: '2', service: 'web', follow: true }, () => undefined, never)];
    await assert.rejects(t.follows.follow({ id: '3', service: 'web', follow: true }, () => undefined, never), /at most 2/);
    t.follows.cancel('1');
    t.follows.cancel('2');
    assert.deepEqual(await Promise.all(running), ['cancelled', 'cancelled']);
  });

  it('bounds each message: a burst of output is split into many', async () => {
    const t = setup();
    const line = `${'x'.repeat(999)}\n`;
    appendFileSync(join(t.dir, 'web', 'stdout.log'), '');
    const done = t.follows.follow({ id: 'big', service: 'web', follow: true, offsets: { stdout: 0 } }, (m) => t.messages.push(m), new AbortController().signal);
    appendFileSync(join(t.dir, 'web', 'stdout.log'), line.repeat(1000)); // ~1 MB
    await eventually(() => t.chunks().reduce((n, c) => n + c.data.length, 0) === line.length * 1000, { what: 'all output', timeoutMs: 20_000 });
    t.follows.cancel('big');
    await done;
    for (const m of t.messages.slice(1)) {
      const cs = m.chunks as LogChunk[];
      assert.ok(cs.length <= MAX_LOG_FOLLOW_CHUNKS);
      for (const c of cs) assert.ok(c.data.length <= MAX_LOG_FOLLOW_CHUNK_CHARS && c.data.endsWith('\n'), 'whole lines, bounded');
    }
  });
});

describe('splitText', () => {
  it('cuts at line ends where it can and never inside a surrogate pair', () => {
    assert.deepEqual(splitText('ab\ncd\nef', 4), ['ab\n', 'cd\n', 'ef']);
    assert.deepEqual(splitText('abcdefgh', 3), ['abc', 'def', 'gh']);
    assert.deepEqual(splitText('ab😀cd', 3), ['ab', '😀c', 'd']);
  });
});
