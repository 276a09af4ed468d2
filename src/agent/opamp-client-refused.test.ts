/**
 * An agent whose credential the server refuses for good (revoked, deleted,
 * forgotten) retries every backoff.maxMs, on a real socket: it says so once,
 * then once per 10 minutes with how many refusals it did not log, instead of
 * two lines per attempt for as long as it runs.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { eventually } from '../testkit/eventually.js';
import { IdentityStore } from './identity.js';
import { OpampClient } from './opamp-client.js';

const dir = mkdtempSync(join(tmpdir(), 'corral-refused-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('logs a refused credential once per window, with the count of refusals between, while it keeps retrying', async () => {
  let attempts = 0;
  const server = createServer();
  server.on('upgrade', (_req, socket) => {
    attempts++;
    socket.end('HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const store = new IdentityStore(dir);
  store.save({ version: 1, instanceUid: '0190f1c2-7b3a-7c41-9e2d-5a6b7c8d9e10', credential: 'corral_agent_forgotten', signingKeyPem: 'PINNED' });
  let logs = '';
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => ((logs += chunk.toString()), done()) }));
  const lines = () => logs.split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as { msg: string; refusedSinceLastLine?: number });
  const refusals = () => lines().filter((l) => l.msg.startsWith('server refused our credential'));
  let now = 1_000_000;
  const client = new OpampClient(
    { opampUrl: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/v1/opamp`, token: 'enroll-token', heartbeatMs: 1000, backoff: { initialMs: 5, maxMs: 10 }, capabilities: 1n, trust: { caPem: null, fingerprint: null } },
    { log, identity: store, now: () => now },
    { onConnect: () => undefined, onMessage: () => undefined },
  );
  try {
    client.start();
    await eventually(() => (attempts >= 8 ? true : undefined), { what: 'eight refused attempts', timeoutMs: 20_000 });
    assert.equal(refusals().length, 1, 'one line for the first refusals');
    assert.ok(lines().filter((l) => l.msg === 'reconnecting after delay').length <= 1, 'no reconnect line per refused attempt at info');

    const seen = attempts;
    now += 10 * 60_000;
    await eventually(() => (refusals().length === 2 ? true : undefined), { what: 'the refusal said again once the window passed', timeoutMs: 20_000 });
    assert.ok(refusals()[1]!.refusedSinceLastLine! >= seen - 1, `counts the refusals it did not log: ${JSON.stringify(refusals()[1])}, ${seen} attempts before`);
  } finally {
    await client.stop();
    server.close();
  }
});
