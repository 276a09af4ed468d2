/**
 * The forget-offline sweep over a real store (SQLite and PostgreSQL): bounded
 * batches, one event per agent, audit records by `corral` that name every
 * forgotten agent once, at most FORGET_AUDIT_CHUNK per record, in a chain
 * that verifies. And the option's compilation: default off, durations,
 * errors naming the flag.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { AgentRecord, Store } from '../store/index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { EventRecorder } from '../events.js';
import { AuditService } from '../audit/audit-service.js';
import { compileServerOptions } from '../options.js';
import { FORGET_ACTION, FORGET_AUDIT_CHUNK, FORGET_BATCH, OfflineForgetter } from './offline-forgetter.js';

const uid = (n: number) => `0190abab-0000-7000-8000-${String(n).padStart(12, '0')}`;
const DAY = 24 * 3600_000;

function offline(n: number, lastSeenAt: number): AgentRecord {
  return {
    id: uid(n),
    kind: 'corral',
    name: `gone-${n}`,
    status: 'offline',
    labels: {},
    boundLabels: { env: 'prod' },
    enrollmentTokenId: null,
    approval: 'approved',
    identifyingAttributes: {},
    nonIdentifyingAttributes: {},
    capabilities: 0,
    health: null,
    effectiveConfig: null,
    remoteConfigStatus: null,
    packageStatuses: null,
    credentialHash: null,
    firstSeenAt: lastSeenAt,
    lastSeenAt,
    lastSequenceNum: 0,
    revokedAt: null,
  };
}

describe('--forget-offline-after compiles', () => {
  it('is off by default and with "never"; takes a duration, sweeping every half of it within 1 s..10 min', () => {
    assert.equal(compileServerOptions({}).forgetOffline, null);
    assert.equal(compileServerOptions({ forgetOfflineAfter: 'never' }).forgetOffline, null);
    assert.deepEqual(compileServerOptions({ forgetOfflineAfter: '30d' }).forgetOffline, { afterMs: 30 * DAY, afterText: '30d', everyMs: 600_000, graceMs: 600_000 });
    assert.deepEqual(compileServerOptions({ forgetOfflineAfter: '2s', heartbeatSeconds: 0.5 }).forgetOffline, { afterMs: 2000, afterText: '2s', everyMs: 1000, graceMs: 2000 });
  });

  it('refuses what is not a duration, and a threshold shorter than going offline, naming the flag', () => {
    assert.throws(() => compileServerOptions({ forgetOfflineAfter: '30 days' }), /--forget-offline-after must be a duration like 30d, 720h or "never", got "30 days"/);
    assert.throws(() => compileServerOptions({ forgetOfflineAfter: '60s' }), /--forget-offline-after must be at least the time after which an agent is offline \(--heartbeat × --offline-after = 90s\), got "60s"/);
  });
});

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`the forget-offline sweep: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-forgetter-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    it('forgets in bounded batches, with an event per agent and audit records naming each once', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const now = 100 * DAY;
      const count = 2 * FORGET_BATCH + 201;
      await store.insertAgents(Array.from({ length: count }, (_, i) => offline(i, 10 * DAY + i)));
      await store.insertAgents([offline(90_000, now - DAY)]); // offline a day: kept
      const clock = { now: () => now };
      const log = pino({ level: 'silent' });
      const events = new EventRecorder({ store, clock, log, flushMs: 10 });
      const audit = new AuditService({ store, clock, log, retentionMs: null });
      const batches: number[] = [];
      const forgetter = new OfflineForgetter(
        { afterMs: 30 * DAY, afterText: '30d', everyMs: 600_000, graceMs: 600_000 },
        { store, clock, log, events, audit, onForgotten: (ids) => batches.push(ids.length) },
      );
      assert.equal(await forgetter.sweep(), count);
      assert.equal(await forgetter.sweep(), 0, 'nothing left to forget');
      await forgetter.close();
      await events.close();
      assert.deepEqual(batches, [FORGET_BATCH, FORGET_BATCH, 201], 'one store transaction per batch of at most FORGET_BATCH');
      assert.deepEqual((await store.listAgents()).map((a) => a.id), [uid(90_000)]);

      const forgotten = await store.listEvents({ type: 'agent.forgotten', limit: 1000, afterId: 0 });
      const more = await store.listEvents({ type: 'agent.forgotten', limit: 1000, afterId: forgotten.at(-1)!.id });
      const all = [...forgotten, ...more];
      assert.equal(all.length, count);
      assert.deepEqual(all[0]!.data, { agentId: uid(0), name: 'gone-0', lastSeenAt: 10 * DAY, forgetOfflineAfter: '30d', actor: 'corral' });

      const records = await store.audit.list({ action: FORGET_ACTION, limit: 1000 });
      assert.equal(records.length, 5 + 5 + 3);
      assert.ok(records.every((r) => r.actor === 'corral' && r.outcome === 'ok' && (r.target.agentIds as string[]).length <= FORGET_AUDIT_CHUNK));
      const named = records.flatMap((r) => r.target.agentIds as string[]);
      assert.equal(new Set(named).size, count, 'every forgotten agent named once');
      assert.deepEqual(records[0]!.summary.batch, { agents: FORGET_BATCH, events: 0 });
      assert.match(String(records[0]!.summary.reason), /offline and last seen before .* \(--forget-offline-after 30d\)/);
      assert.equal((await audit.verify()).ok, true);
    });
  });
}
