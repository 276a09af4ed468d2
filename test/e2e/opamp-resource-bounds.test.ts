/**
 * Memory and connection slots an OpAMP client can hold on a real server:
 * OpAMP bodies in flight share one budget across HTTP and WebSocket (past it
 * 503 + Retry-After, or close 1013), and a WebSocket that never sends a
 * message is closed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { AgentCapabilities, encodeWsFrame } from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

const MiB = 1024 * 1024;
const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus);

describe('OpAMP resource bounds', { concurrency: false }, () => {
  let fleet: Fleet;
  before(async () => {
    // 5 s for a first message: short for the idle test, and long enough for the 20 MiB first message below on a loaded machine
    // (with 1 s, a CI run under load closed it as idle, 1008, before the budget's 1013).
    fleet = await Fleet.start({ extraServerArgs: ['--max-opamp-inflight-mib', '64', '--ws-first-message-timeout', '5'] });
  });
  after(async () => fleet?.close());

  async function inflightBytes(): Promise<number> {
    const text = await (await fetch(`${fleet.url}/metrics`)).text();
    return Number(/^corral_opamp_inflight_bytes (\d+)/m.exec(text)?.[1]);
  }

  /** Starts a POST declaring `declared` bytes and sends `send` of them, then holds it open. */
  function holdPost(declared: number, send: number): { req: ClientRequest; response: Promise<IncomingMessage> } {
    const req = request(`${fleet.url}/v1/opamp`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${fleet.enrollmentToken}`, 'content-length': String(declared) },
    });
    const response = new Promise<IncomingMessage>((resolve, reject) => {
      req.once('response', resolve);
      req.once('error', reject);
    });
    const chunk = Buffer.alloc(MiB);
    for (let i = 0; i < send / MiB; i++) req.write(chunk);
    return { req, response };
  }

  it('answers 503 + Retry-After (HTTP) and closes with 1013 (WebSocket) once the in-flight budget is spent, and recovers', async () => {
    const held = holdPost(60 * MiB, 50 * MiB);
    held.response.catch(() => undefined);
    try {
      await eventually(async () => (await inflightBytes()) >= 50 * MiB, { timeoutMs: 20_000, what: '50 MiB held by the server' });
      // Declared: refused before a byte is read.
      const declared = await postOpamp(fleet.url, fleet.enrollmentToken, new Uint8Array(20 * MiB));
      assert.equal(declared.status, 503);
      assert.ok(Number(declared.headers.get('retry-after')) > 0, 'Retry-After');
      assert.match(declared.text, /OpAMP messages in flight/);

      // A WebSocket client sending a 20 MiB message is closed with a retryable code.
      const ws = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
      ws.sendRaw(encodeWsFrame(new Uint8Array(20 * MiB)));
      assert.equal(await ws.closed(20_000), 1013);
    } finally {
      held.req.destroy();
    }
    // The budget is given back: a small message goes through again.
    await eventually(async () => (await inflightBytes()) === 0, { what: 'the budget given back' });
    const ok = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS }));
    assert.equal(ok.status, 200);
    // The spec's limit still holds by itself: one message up to 64 MiB fits the budget.
    const big = await postOpamp(fleet.url, fleet.enrollmentToken, new Uint8Array(63 * MiB));
    assert.equal(big.status, 400, 'a 63 MiB body is read (and is not a valid message), not refused as busy');
  });

  it('closes a WebSocket that sends no first message, and keeps one that does', async () => {
    const active = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    active.send({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS });
    assert.ok(await active.next(1));
    const idle = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    assert.equal(await idle.closed(20_000), 1008);
    assert.match(idle.closeReason, /no OpAMP message within 5000 ms/);
    assert.equal(active.closeCode, null, 'the connection that spoke first (and earlier) is still open');
    active.close();
  });
});
