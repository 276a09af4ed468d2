/**
 * Several replicas share one PostgreSQL store, and each sweeps agents that
 * stopped heartbeating offline, including agents connected to another
 * replica whose heartbeat writes ran late. An agent still connected must
 * not stay offline for good: the replica it talks to learns from its next
 * heartbeat write that the store has it offline, and sets it online again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';
import { openStore, type Store } from '../../src/server/store/index.js';

describe('agent status across replicas', { concurrency: false }, () => {
  let fleet: Fleet;
  let schema: TestSchema | null = null;
  let store: Store | null = null;
  let skipped = '';

  before(async () => {
    const pg = await postgresForTest();
    if ('skip' in pg) {
      skipped = pg.skip;
      return;
    }
    schema = pg.schema;
    fleet = await Fleet.start({ database: schema.url });
    // Plays the other replica: the same store, written directly.
    store = await openStore({ database: schema.url, dataDir: fleet.root });
  });
  after(async () => {
    await store?.close();
    await fleet?.close();
    await schema?.drop();
  });

  it('sets a connected agent online again after another replica marked it offline', async (t) => {
    if (skipped) return t.skip(skipped);
    const agent = await fleet.startAgent({ name: 'steady-1' });
    const { id } = await fleet.awaitAgent(agent, (a) => a.status === 'online');
    // Enrolled: it now talks to the server on its own credential.
    await eventually(async () => (JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string | null }).credential !== null, { what: 'credential' });
    const onlineEvents = async () => (await fleet.api<{ events: unknown[] }>('GET', `/api/v1/events?agent=${id}&type=agent.online&limit=1000`)).body.events.length;
    await fleet.awaitAgent(agent, (a) => a.status === 'online');
    const before = await onlineEvents();
    // What another replica's sweep does when this agent's heartbeat writes were late.
    await store!.setAgentStatus(id, 'offline', Date.now());
    assert.equal((await store!.getAgent(id))!.status, 'offline');
    await fleet.awaitAgent(agent, (a) => a.status === 'online');
    await eventually(async () => (await onlineEvents()) > before, { what: 'agent.online recorded when it came back' });
  });
});
