import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IdentityError, IdentityStore } from './identity.js';
import { uuidv7Bytes } from './uuidv7.js';

it('creates a UUIDv7 identity once, mode 0600, and keeps it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-id-'));
  const store = new IdentityStore(dir);
  const first = store.loadOrCreate();
  assert.match(first.instanceUid, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(statSync(store.file).mode & 0o777, 0o600);
  store.save({ ...first, credential: 'corral_agent_x' });
  const again = new IdentityStore(dir).loadOrCreate();
  assert.deepEqual(again, { ...first, credential: 'corral_agent_x' });
  rmSync(dir, { recursive: true });
});

it('refuses a corrupt identity file instead of silently becoming a new agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-id-'));
  writeFileSync(join(dir, 'identity.json'), '{"version":1,"instanceUid":"nope"');
  assert.throws(() => new IdentityStore(dir).loadOrCreate(), (e: unknown) => e instanceof IdentityError && e.message.includes('identity.json'));
  writeFileSync(join(dir, 'identity.json'), '{"version":2}');
  assert.throws(() => new IdentityStore(dir).loadOrCreate(), IdentityError);
  rmSync(dir, { recursive: true });
});

it('puts the time first in a UUIDv7 so ids sort by creation', () => {
  const a = Buffer.from(uuidv7Bytes(1_000)).toString('hex');
  const b = Buffer.from(uuidv7Bytes(2_000)).toString('hex');
  assert.ok(a < b);
  assert.equal(a.slice(0, 12), (1000).toString(16).padStart(12, '0'));
});
