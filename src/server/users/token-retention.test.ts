/**
 * The token retention sweep over a real store (SQLite and PostgreSQL):
 * bounded batches, one token.deleted event per batch, audit records by
 * `corral` naming every deleted token once (at most
 * TOKEN_RETENTION_AUDIT_CHUNK per record) in a chain that verifies; live
 * and recently dead tokens stay. And the option: default 30d, 0/never keep
 * tokens, errors naming the flag.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import type { Store } from '../store/index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { EventRecorder } from '../events.js';
import { AuditService } from '../audit/audit-service.js';
import { compileServerOptions } from '../options.js';
import { newTokenRecord } from '../auth/tokens.js';
import { TOKEN_RETENTION_ACTION, TOKEN_RETENTION_AUDIT_CHUNK, TOKEN_RETENTION_BATCH, TokenRetention } from './token-retention.js';

const DAY = 24 * 3600_000;

describe('--token-retention compiles', () => {
  it('defaults to 30d, keeps tokens with 0 or never, and names the flag in errors', () => {
    assert.deepEqual(compileServerOptions({}).tokenRetention, { afterMs: 30 * DAY, afterText: '30d', everyMs: 3600_000 });
    assert.equal(compileServerOptions({ tokenRetention: '0' }).tokenRetention, null);
    assert.equal(compileServerOptions({ tokenRetention: 'never' }).tokenRetention, null);
    assert.deepEqual(compileServerOptions({ tokenRetention: '2h' }).tokenRetention, { afterMs: 2 * 3600_000, afterText: '2h', everyMs: 12 * 60_000 });
    assert.throws(() => compileServerOptions({ tokenRetention: '30 days' }), /--token-retention must be a duration like 30d, 720h, or "0" \/ "never" to keep dead tokens, got "30 days"/);
    assert.throws(() => compileServerOptions({ tokenRetention: '10m' }), /--token-retention must be at least 1h \(or "never"\), got "10m"/);
  });
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`the token retention sweep: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-token-sweep-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    it('deletes in bounded batches with an event per batch and audit records naming each token once; keeps live and recent ones', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const now = 100 * DAY;
      const user = await store.users.create({ id: randomUUID(), name: 'ci', createdAt: 0, disabledAt: null, roles: [] });
      const count = 2 * TOKEN_RETENTION_BATCH + 150;
      const hashes: string[] = [];
      for (let i = 0; i < count; i++) {
        // Half revoked long ago, half expired long ago.
        const r = newTokenRecord('user', `old-${i}`, DAY + i).record;
        hashes.push(r.hash);
        await store.createToken(i % 2 === 0 ? { ...r, userId: user.id, revokedAt: 2 * DAY } : { ...r, userId: user.id, expiresAt: 3 * DAY });
      }
      const recent = { ...newTokenRecord('user', 'recent', now - 2 * DAY).record, userId: user.id, revokedAt: now - DAY };
      const live = { ...newTokenRecord('user', 'live', now - 2 * DAY).record, userId: user.id, expiresAt: now + DAY };
      for (const r of [recent, live]) await store.createToken(r);

      const clock = { now: () => now };
      const log = pino({ level: 'silent' });
      const events = new EventRecorder({ store, clock, log, flushMs: 10 });
      const audit = new AuditService({ store, clock, log, retentionMs: null });
      const retention = new TokenRetention({ afterMs: 30 * DAY, afterText: '30d', everyMs: 3600_000 }, { store, clock, log, events, audit });
      assert.equal(await retention.sweep(), count);
      assert.equal(await retention.sweep(), 0, 'nothing left to delete');
      await retention.close();
      await events.close();
      assert.deepEqual((await store.users.listTokens(user.id)).map((x) => x.name).sort(), ['live', 'recent']);

      const deletedEvents = await store.listEvents({ type: 'token.deleted', limit: 100, afterId: 0 });
      assert.deepEqual(deletedEvents.map((e) => e.data.count), [TOKEN_RETENTION_BATCH, TOKEN_RETENTION_BATCH, 150], 'one event per batch');
      assert.deepEqual(deletedEvents[0]!.data.byKind, { user: TOKEN_RETENTION_BATCH });
      assert.equal(deletedEvents[0]!.data.tokenRetention, '30d');

      const records = await store.audit.list({ action: TOKEN_RETENTION_ACTION, limit: 1000 });
      assert.equal(records.length, 5 + 5 + 2);
      assert.ok(records.every((r) => r.actor === 'corral' && r.outcome === 'ok' && (r.target.tokenIds as string[]).length <= TOKEN_RETENTION_AUDIT_CHUNK));
      const named = records.flatMap((r) => r.target.tokenIds as string[]);
      assert.equal(new Set(named).size, count, 'every deleted token named once');
      assert.match(String(records[0]!.summary.reason), /revoked or expired before .* \(--token-retention 30d\)/);
      const text = JSON.stringify(records);
      assert.ok(!hashes.some((h) => text.includes(h)), 'no token hash in the audit log');
      assert.equal((await audit.verify()).ok, true);
    });
  });
}
