/**
 * GET /api/v1/stream on a real server: events arrive live with their ids,
 * a client reconnecting with Last-Event-ID (or ?after=) gets every later
 * event exactly once and in order, filters hold, and a token cannot hold
 * more than its share of streams.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { openEventStream, type OpenStream } from '../../src/testkit/event-stream.js';

interface Listed {
  events: { id: number; type: string }[];
}

describe('fleet event stream', { concurrency: false }, () => {
  let fleet: Fleet;
  const open: OpenStream[] = [];
  const stream = async (opts: Parameters<typeof openEventStream>[2] = {}) => {
    const s = await openEventStream(fleet.url, fleet.adminToken, opts);
    open.push(s);
    return s;
  };
  const makeEvents = async (n: number, prefix: string) => {
    for (let i = 0; i < n; i++) assert.equal((await fleet.api('POST', '/api/v1/enrollment-tokens', { name: `${prefix}-${i}` })).status, 201);
  };
  const listedAfter = async (id: number) => (await fleet.api<Listed>('GET', `/api/v1/events?after=${id}&limit=1000`)).body.events;

  before(async () => {
    fleet = await Fleet.start();
  });

  after(async () => {
    await Promise.all(open.map((s) => s.close()));
    await fleet?.close();
  });

  it('streams events live and resumes after Last-Event-ID with none missed or repeated', async () => {
    const live = await stream();
    assert.equal(live.status, 200);
    assert.match(live.headers.get('content-type') ?? '', /text\/event-stream/);
    await makeEvents(5, 'live');
    assert.equal((await fleet.api('PUT', '/api/v1/configs/c1', { selector: '', files: { 'a.txt': { body: 'x' } } })).status, 200);
    await eventually(() => live.received.length >= 6, { timeoutMs: 20_000, what: '6 live events' });
    assert.deepEqual(
      live.received.map((e) => e.type),
      ['token.created', 'token.created', 'token.created', 'token.created', 'token.created', 'config.changed'],
    );
    for (const e of live.received) assert.equal(e.sseId, e.id, 'the SSE id is the event id');
    const lastSeen = live.received[2]!.id;
    await live.close();

    await makeEvents(4, 'while-away');
    const resumed = await stream({ lastEventId: lastSeen });
    await makeEvents(2, 'after-resume');
    const expected = await eventually(
      async () => {
        const all = await listedAfter(lastSeen);
        return all.filter((e) => e.type === 'token.created').length >= 2 + 4 + 2 ? all : undefined;
      },
      { timeoutMs: 20_000, what: 'events stored' },
    );
    await eventually(() => resumed.received.length >= expected.length, { timeoutMs: 20_000, what: 'the resumed stream to catch up' });
    assert.deepEqual(
      resumed.received.map((e) => e.id),
      expected.map((e) => e.id),
      'every event after Last-Event-ID, once, in order',
    );

    // ?after= does the same; Last-Event-ID wins over it.
    const byQuery = await stream({ query: `after=${lastSeen}` });
    await eventually(() => byQuery.received.length >= expected.length, { timeoutMs: 20_000 });
    assert.deepEqual(byQuery.received.map((e) => e.id), expected.map((e) => e.id));
    const both = await stream({ query: 'after=0', lastEventId: expected.at(-2)!.id });
    await eventually(() => both.received.length >= 1, { timeoutMs: 20_000 });
    assert.equal(both.received[0]!.id, expected.at(-1)!.id);
  });

  it('filters by type prefix', async () => {
    const configs = await stream({ query: 'after=0&type=config.' });
    assert.equal((await fleet.api('PUT', '/api/v1/configs/c2', { selector: '', files: { 'b.txt': { body: 'y' } } })).status, 200);
    await makeEvents(1, 'noise');
    await eventually(() => configs.received.length >= 2, { timeoutMs: 20_000 });
    assert.ok(configs.received.every((e) => e.type.startsWith('config.')), JSON.stringify(configs.received.map((e) => e.type)));
    const none = await stream({ query: 'after=0&type=config.%25' });
    const tokens = await stream({ query: 'after=0&type=token.' });
    await eventually(() => tokens.received.length >= 12, { timeoutMs: 20_000 });
    assert.equal(none.received.length, 0, '% is not a wildcard');
  });

  it('refuses a bad Last-Event-ID and unknown parameters', async () => {
    assert.equal((await stream({ lastEventId: 'abc' })).status, 400);
    const unknown = await stream({ query: 'bogus=1' });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.error?.error.code, 'INVALID_ARGUMENT');
  });

  it('answers 429 beyond the streams one token may hold, and frees a slot when one closes', async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
    // Earlier streams are released as the server notices them closed.
    const held: OpenStream[] = [];
    await eventually(
      async () => {
        while (held.length < 8) {
          const s = await stream();
          if (s.status !== 200) return false;
          held.push(s);
        }
        return true;
      },
      { timeoutMs: 20_000, what: '8 streams open' },
    );
    const refused = await stream();
    assert.equal(refused.status, 429);
    assert.equal(refused.error?.error.code, 'RATE_LIMITED');
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
    await held.pop()!.close();
    await eventually(async () => (await stream()).status === 200, { timeoutMs: 20_000, what: 'a slot after closing one' });
  });
});
