/** Retention: old records go, a `corral` record says so, and the chain left still verifies. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { openStore, type NewAuditRecord, type Store } from '../store/index.js';
import { AuditService } from './audit-service.js';
import { PRUNE_ACTION } from './chain.js';

const entry = (at: number): NewAuditRecord => ({
  at,
  actor: 'alice',
  actorUserId: 'u-1',
  actorTokenId: 't-1',
  source: '127.0.0.1',
  action: 'POST /api/v1/jobs',
  summary: { command: ['uptime'] },
  target: { selector: '' },
  status: 201,
  outcome: 'ok',
  message: '',
});

describe('audit retention', () => {
  let store: Store;
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-audit-retention-'));
    store = await openStore({ database: '', dataDir: dir });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('prunes records older than the retention into a corral record, keeping the rest verifiable', async () => {
    const day = 24 * 3600_000;
    let now = 100 * day;
    const audit = new AuditService({ store, clock: { now: () => now }, log: pino({ level: 'silent' }), retentionMs: 30 * day });
    for (const age of [60, 45, 31, 10, 1]) await audit.record(entry(now - age * day));
    assert.equal(await audit.prune(), 3);
    const left = await audit.list({ afterId: 0 });
    assert.deepEqual(left.map((r) => r.id), [4, 5, 6]);
    const pruning = left.at(-1)!;
    assert.equal(pruning.actor, 'corral');
    assert.equal(pruning.action, PRUNE_ACTION);
    assert.equal(pruning.summary.count, 3);
    assert.equal(pruning.summary.prunedThroughId, 3);
    const v = await audit.verify();
    assert.equal(v.ok, true, JSON.stringify(v.failure));
    assert.equal(v.firstId, 4);
    assert.equal(await audit.prune(), 0, 'nothing more is that old');

    // Much later every record is old, the pruning record too: the new pruning record still follows the last one.
    now += 365 * day;
    assert.equal(await audit.prune(), 3);
    const last = await audit.list({ afterId: 0 });
    assert.deepEqual(last.map((r) => r.id), [7]);
    assert.equal((await audit.verify()).ok, true);
  });

  it('keeps everything without a retention', async () => {
    const audit = new AuditService({ store, clock: { now: () => 10 ** 13 }, log: pino({ level: 'silent' }), retentionMs: null });
    const before = (await audit.list({ afterId: 0 })).length;
    assert.equal(await audit.prune(), 0);
    assert.equal((await audit.list({ afterId: 0 })).length, before);
  });
});
