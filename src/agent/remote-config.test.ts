import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteConfigManager } from './remote-config.js';

const file = (body: string, contentType = 'text/plain') => ({ body: Buffer.from(body), contentType });

describe('remote config apply', () => {
  it('applies a valid set, switches atomically, and drops files no longer offered', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-rc-'));
    const rc = new RemoteConfigManager(dir);
    assert.equal(rc.apply('aa', { 'a.json': file('{"x":1}', 'application/json'), 'b.txt': file('b') }).status, 'APPLIED');
    assert.equal(readFileSync(join(dir, 'config', 'a.json'), 'utf8'), '{"x":1}');
    assert.equal(rc.apply('bb', { 'b.txt': file('b2') }).status, 'APPLIED');
    assert.deepEqual(readdirSync(join(dir, 'config')), ['b.txt']);
    assert.deepEqual(readdirSync(join(dir, 'config-store')), ['bb'], 'old sets are removed');
    rmSync(dir, { recursive: true });
  });

  it('rejects the whole offer when one file is bad, keeping the previous files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-rc-'));
    const rc = new RemoteConfigManager(dir);
    rc.apply('aa', { 'a.json': file('{}') });
    for (const [name, body] of [['a.json', '{'], ['../escape', 'x'], ['sub/dir.txt', 'x'], ['..', 'x']] as const) {
      const state = rc.apply('cc', { [name]: file(body), 'ok.txt': file('fine') });
      assert.equal(state.status, 'FAILED', name);
      assert.match(state.errorMessage, new RegExp(name.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
      assert.deepEqual(readdirSync(join(dir, 'config')), ['a.json']);
    }
    rmSync(dir, { recursive: true });
  });

  it('remembers the last hash and status across restarts; an interrupted apply reads as failed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-rc-'));
    const first = new RemoteConfigManager(dir);
    first.apply('aa', { 'a.txt': file('a') });
    const again = new RemoteConfigManager(dir);
    assert.equal(again.state.hash, 'aa');
    assert.equal(again.state.status, 'APPLIED');
    again.begin('dd');
    const afterCrash = new RemoteConfigManager(dir);
    assert.equal(afterCrash.state.status, 'FAILED');
    assert.equal(afterCrash.state.applied['a.txt']?.body, 'a');
    rmSync(dir, { recursive: true });
  });
});
