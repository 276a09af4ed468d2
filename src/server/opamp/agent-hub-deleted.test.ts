/**
 * An agent deleted (forgotten) after its credential authenticated the
 * connection, on SQLite and PostgreSQL: its next message is refused like a
 * revoked agent's, and no row without credential or trusted labels is
 * created in its place.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AgentToServerSchema, create, uuidStringToBytes } from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { AgentRevokedError } from '../errors.js';
import { AgentHub } from './agent-hub.js';

const ID = '0190f9f9-0000-7000-8000-000000000001';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`a deleted agent's authenticated connection: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-hub-deleted-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    it('refuses the message of an agent deleted since its credential was checked, creating nothing', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const hub = new AgentHub(
        { heartbeatMs: 30_000, offlineAfterMs: 90_000, publicUrl: null, pollMs: 1000, signingPublicKeyPem: '', credentialGraceMs: 600_000 },
        { store, clock: { now: () => 1000 }, log: pino({ level: 'silent' }), events: { record: () => undefined }, secrets: null },
      );
      await store.upsertAgentReport(ID, { name: 'forgotten' }, 1);
      await store.setAgentStatus(ID, 'offline', 1);
      // The credential authenticated the request (the principal), then the sweep deleted the agent.
      assert.equal((await store.forgetOfflineAgents(500, 10)).agents.length, 1);
      const msg = create(AgentToServerSchema, { instanceUid: uuidStringToBytes(ID), sequenceNum: 1n, capabilities: 1n });
      await assert.rejects(hub.handle(msg, { transport: 'http', principal: { kind: 'agent', agentId: ID, authorization: 'Bearer x' } }), AgentRevokedError);
      assert.equal(await store.getAgent(ID), null, 'no row was made for it');
      await hub.close();
    });
  });
}
