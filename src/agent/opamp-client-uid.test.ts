/**
 * The OpAMP client against a hostile server on a real socket: a server that
 * assigns a new instance uid in answer to every message. The client adopts
 * at most the bounded number, drops the old uid's credential (not the pinned
 * signing key), re-enrolls with the token, and then stays put.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { WebSocketServer } from 'ws';
import { ServerToAgentSchema, create, decodeAgentToServer, decodeWsFrame, encodeServerToAgent, encodeWsFrame, uuidBytesToString } from '../protocol/index.js';
import { eventually } from '../testkit/eventually.js';
import { IdentityStore } from './identity.js';
import { OpampClient } from './opamp-client.js';

const OLD_UID = '0190f1c2-7b3a-7c41-9e2d-5a6b7c8d9e0f';

const logLines = (text: string): { msg: string; level: number; suppressed?: number }[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { msg: string; level: number; suppressed?: number });
const dir = mkdtempSync(join(tmpdir(), 'corral-uid-client-'));
after(() => rmSync(dir, { recursive: true, force: true }));

it('adopts a server-assigned uid at most 3 times a minute, one per connection, re-enrolling with the token; the old credential is dropped', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const connections: { auth: string; uids: string[]; sent: string[] }[] = [];
  wss.on('connection', (ws, req) => {
    const conn = { auth: req.headers.authorization ?? '', uids: [] as string[], sent: [] as string[] };
    connections.push(conn);
    ws.on('message', (data: Buffer) => {
      const msg = decodeAgentToServer(decodeWsFrame(new Uint8Array(data)));
      conn.uids.push(uuidBytesToString(msg.instanceUid));
      // Two new uids per message: only the first may be taken; the client closes that connection at once.
      for (let i = 0; i < 2; i++) {
        const uid = new Uint8Array(16).map(() => Math.floor(Math.random() * 256));
        uid[0] = 0x42;
        conn.sent.push(uuidBytesToString(uid));
        ws.send(encodeWsFrame(encodeServerToAgent(create(ServerToAgentSchema, { instanceUid: msg.instanceUid, agentIdentification: { newInstanceUid: uid } }))));
      }
    });
  });
  const store = new IdentityStore(dir);
  store.save({ version: 1, instanceUid: OLD_UID, credential: 'corral_agent_old', signingKeyPem: 'PINNED', pendingCredential: 'corral_agent_next', pendingSettingsHash: 'ab' });
  let logs = '';
  const changes: [string, string][] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => ((logs += chunk.toString()), done()) }));
  const client = new OpampClient(
    { opampUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/opamp`, token: 'enroll-token', heartbeatMs: 20, backoff: { initialMs: 10, maxMs: 50 }, capabilities: 1n, trust: { caPem: null, fingerprint: null } },
    { log, identity: store, now: () => 1_000_000 },
    { onConnect: () => client.send({}), onMessage: () => undefined, onInstanceUidChanged: (uid, was) => changes.push([uid, was]) },
  );
  try {
    client.start();
    // Three adoptions (three reconnects), then the fourth connection stays, heartbeating under the third new uid.
    const last = await eventually(() => (connections.length === 4 && connections[3]!.uids.length >= 20 ? connections[3]! : undefined), { what: 'twenty messages on the fourth connection', timeoutMs: 20_000 });
    assert.equal(connections.length, 4, 'no further reconnects');
    const adopted = connections.slice(0, 3).map((c) => c.sent[0]!);
    assert.deepEqual(connections.map((c) => c.uids[0]), [OLD_UID, ...adopted]);
    assert.ok(last.uids.every((u) => u === adopted[2]), 'every later message keeps the last adopted uid');
    // The first connection tried the candidate credential; after adoption, the enrollment token.
    assert.deepEqual(connections.map((c) => c.auth), ['Bearer corral_agent_next', 'Bearer enroll-token', 'Bearer enroll-token', 'Bearer enroll-token']);
    const onDisk = JSON.parse(readFileSync(store.file, 'utf8')) as Record<string, unknown>;
    assert.deepEqual(onDisk, { version: 1, instanceUid: adopted[2], credential: null, signingKeyPem: 'PINNED' });
    assert.equal(client.instanceUid, adopted[2]);
    assert.deepEqual(changes, [[adopted[0], OLD_UID], [adopted[1], adopted[0]], [adopted[2], adopted[1]]], 'the agent hears of each adoption (it drops its client certificate)');
    assert.match(logs, new RegExp(`server assigned a new instance uid ${adopted[0]} \\(was ${OLD_UID}\\)`));
    // Every later message brought two more offers (40 or more refusals): one log line for them all, within the window.
    const refusals = logLines(logs).filter((l) => /too many reassignments in a short time/.test(l.msg));
    assert.equal(refusals.length, 1, `one line for ${last.sent.length} refused offers, got ${refusals.length}`);
    assert.equal(refusals[0]!.suppressed, 0);
  } finally {
    await client.stop();
    wss.close();
  }
});

it('logs an offered uid it refuses once per window, not once per heartbeat, then says how many it left unlogged', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  let messages = 0;
  let connections = 0;
  wss.on('connection', (ws) => {
    connections++;
    ws.on('message', (data: Buffer) => {
      const msg = decodeAgentToServer(decodeWsFrame(new Uint8Array(data)));
      messages++;
      // An all-zero uid with every answer: never adoptable, so the client stays on this connection.
      ws.send(encodeWsFrame(encodeServerToAgent(create(ServerToAgentSchema, { instanceUid: msg.instanceUid, agentIdentification: { newInstanceUid: new Uint8Array(16) } }))));
    });
  });
  const store = new IdentityStore(mkdtempSync(join(dir, 'zero-')));
  store.save({ version: 1, instanceUid: OLD_UID, credential: 'corral_agent_old' });
  let logs = '';
  let now = 5_000_000;
  const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _enc, done) => ((logs += chunk.toString()), done()) }));
  const client = new OpampClient(
    { opampUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/v1/opamp`, token: null, heartbeatMs: 20, backoff: { initialMs: 10, maxMs: 50 }, capabilities: 1n, trust: { caPem: null, fingerprint: null } },
    { log, identity: store, now: () => now, reassignmentLimit: { max: 3, windowMs: 60_000 } },
    { onConnect: () => client.send({}), onMessage: () => undefined },
  );
  const refusals = () => logLines(logs).filter((l) => /ignoring the new instance uid the server assigned/.test(l.msg));
  try {
    client.start();
    await eventually(() => messages >= 30 || undefined, { what: 'thirty heartbeats, each answered with an all-zero uid', timeoutMs: 20_000 });
    assert.equal(refusals().length, 1, 'one line for thirty refusals within the window');
    assert.match(refusals()[0]!.msg, /logged at most once per window/);
    assert.equal(refusals()[0]!.suppressed, 0);
    // The window passes: the next refusal is logged, with the count of those left unlogged.
    const before = messages;
    now += 60_000;
    await eventually(() => (messages >= before + 10 ? true : undefined), { what: 'ten more heartbeats', timeoutMs: 20_000 });
    const lines = refusals();
    assert.equal(lines.length, 2, 'one more line in the new window');
    assert.ok((lines[1]!.suppressed ?? 0) >= 29, `the second line counts the refusals left unlogged, got ${lines[1]!.suppressed}`);
    assert.equal(client.instanceUid, OLD_UID, 'the uid is kept');
    assert.equal(connections, 1, 'the refusal does not reconnect');
  } finally {
    await client.stop();
    wss.close();
  }
});
