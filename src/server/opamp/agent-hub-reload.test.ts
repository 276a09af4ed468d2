/**
 * Fleet changes in quick succession, on SQLite and PostgreSQL: the store read
 * of the first refresh is held back until after the second change. Whatever
 * order the reads finish in, the agent must then be offered what the store
 * holds now. (Seen in CI on PostgreSQL: a deploy's refresh and its
 * rollout's refresh overlapped, the older read landed last, and the agent
 * never got the new config.)
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { AgentCapabilities, AgentToServerSchema, create, uuidStringToBytes } from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { storePerSuite } from '../../testkit/test-store.js';
import { AgentHub } from './agent-hub.js';

const ID = '0190f9f9-0000-7000-8000-000000000002';
const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig);
const PRINCIPAL = { kind: 'agent', agentId: ID, authorization: 'Bearer x' } as const;

const config = (name: string, selector: string, body: string) => ({ name, selector, files: { [`${name}.conf`]: { contentType: 'text/plain', body } }, hash: `h-${body}`, updatedAt: 10 });

/** Makes the store's next call of `method` read, then wait for `release()` before answering. */
function holdNext<K extends 'listConfigs' | 'getAgent'>(store: Store, method: K): { read: Promise<void>; release: () => void } {
  const real = store[method].bind(store) as (...args: unknown[]) => Promise<unknown>;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let read!: () => void;
  const readDone = new Promise<void>((resolve) => (read = resolve));
  Object.assign(store, {
    [method]: async (...args: unknown[]) => {
      Object.assign(store, { [method]: real });
      const rows = await real(...args);
      read();
      await gate;
      return rows;
    },
  });
  return { read: readDone, release };
}

/**
 * Lets the second refresh finish before the first, held one, if the hub runs
 * them at once (the fault this file checks for); a hub that runs them in
 * order holds it back until the first is released, so the wait has a
 * deadline and both outcomes go on.
 */
const finishOrQueue = (second: Promise<void>) => Promise.race([second, new Promise((resolve) => setTimeout(resolve, 1000))]);

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`fleet changes in quick succession: ${backend}`, { concurrency: false }, () => {
    const s = storePerSuite(backend, 'corral-hub-reload-');
    let store: Store;
    before(() => {
      store = s.store;
    });

    const newHub = () =>
      new AgentHub(
        { heartbeatMs: 30_000, offlineAfterMs: 90_000, publicUrl: null, pollMs: 1000, signingPublicKeyPem: '', credentialGraceMs: 600_000 },
        { store, clock: { now: () => 1000 }, log: pino({ level: 'silent' }), events: { record: () => undefined }, secrets: null },
      );
    let seq = 0n;
    const offered = async (hub: AgentHub): Promise<Record<string, string>> => {
      const msg = create(AgentToServerSchema, { instanceUid: uuidStringToBytes(ID), sequenceNum: ++seq, capabilities: CAPS });
      const { reply } = await hub.handle(msg, { transport: 'http', principal: PRINCIPAL });
      const files = reply.remoteConfig?.config?.configMap ?? {};
      return Object.fromEntries(Object.entries(files).map(([name, f]) => [name, Buffer.from(f.body).toString('utf8')]));
    };

    it('offers the config as changed last, when the read made before the change finishes after', async (t) => {
      if (s.skip) return t.skip(s.skip);
      const hub = newHub();
      await store.upsertAgentReport(ID, { name: 'a' }, 1);
      await store.putConfig(config('c', '', 'v1'));

      const held = holdNext(store, 'listConfigs');
      const first = hub.fleetChanged();
      await held.read;
      await store.putConfig(config('c', '', 'v2'));
      const second = hub.fleetChanged();
      await finishOrQueue(second);
      held.release();
      await Promise.all([first, second]);

      assert.deepEqual(await offered(hub), { 'c.conf': 'v2' });
      await hub.close();
    });

    it("selects by the agent's labels as changed last, when the read made before the change finishes after", async (t) => {
      if (s.skip) return t.skip(s.skip);
      const hub = newHub();
      await store.putConfig(config('c', 'env=none', 'v2'));
      await store.putConfig(config('prod', 'env=prod', 'for prod'));
      await store.putConfig(config('dev', 'env=dev', 'for dev'));
      await store.setAgentLabels(ID, { env: 'dev' });
      await hub.fleetChanged();
      assert.deepEqual(await offered(hub), { 'dev.conf': 'for dev' }, 'a session with env=dev');

      const held = holdNext(store, 'getAgent');
      const first = hub.fleetChanged({ agentId: ID });
      await held.read;
      await store.setAgentLabels(ID, { env: 'prod' });
      const second = hub.fleetChanged({ agentId: ID });
      await finishOrQueue(second);
      held.release();
      await Promise.all([first, second]);

      assert.deepEqual(await offered(hub), { 'prod.conf': 'for prod' });
      await hub.close();
    });
  });
}
