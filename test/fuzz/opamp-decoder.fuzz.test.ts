/**
 * Fuzzing the OpAMP decoders: whatever bytes arrive, decoding returns a
 * message or throws ProtocolError / FrameError, nothing else (no crash, no
 * other exception type, no hang); valid messages survive a round trip.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fc, fuzz } from '../../src/testkit/fuzz.js';
import {
  AgentToServerSchema,
  FrameError,
  ProtocolError,
  create,
  decodeAgentToServer,
  decodeServerToAgent,
  decodeWsFrame,
  encodeAgentToServer,
  recordToKeyValues,
} from '../../src/protocol/index.js';

function decodesOrRefuses(bytes: Uint8Array): void {
  for (const decode of [decodeAgentToServer, decodeServerToAgent]) {
    try {
      decode(bytes);
    } catch (e) {
      assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${(e as Error).name}: ${(e as Error).message}`);
    }
  }
  try {
    decodeWsFrame(bytes);
  } catch (e) {
    assert.ok(e instanceof FrameError, `expected FrameError, got ${(e as Error).name}: ${(e as Error).message}`);
  }
}

/** A valid AgentToServer from generated parts. */
const agentToServer = fc
  .record({
    uid: fc.uint8Array({ minLength: 16, maxLength: 16 }),
    seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    caps: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    attrs: fc.dictionary(fc.string({ maxLength: 20 }), fc.string({ maxLength: 40 }), { maxKeys: 8 }),
    custom: fc.option(fc.record({ capability: fc.string({ maxLength: 30 }), type: fc.string({ maxLength: 10 }), data: fc.uint8Array({ maxLength: 64 }) }), { nil: undefined }),
  })
  .map(({ uid, seq, caps, attrs, custom }) =>
    create(AgentToServerSchema, {
      instanceUid: uid,
      sequenceNum: seq,
      capabilities: caps,
      agentDescription: { identifyingAttributes: recordToKeyValues(attrs) },
      ...(custom ? { customMessage: custom } : {}),
    }),
  );

/** Regression cases: inputs that once broke (or nearly broke) a decoder. */
const REGRESSIONS: Uint8Array[] = [
  new Uint8Array([]),
  new Uint8Array([0x0a]),
  // A length prefix far past the end of the buffer.
  new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
  // Deeply nested AnyValue (kvlist in kvlist ...) inside agent_description: refused at depth 100, not a stack overflow.
  (() => {
    let inner = new Uint8Array([]);
    for (let i = 0; i < 2000; i++) {
      // KeyValue{value: AnyValue{kvlist_value: KeyValueList{values: [inner]}}}, wrapped by field tags with lengths.
      const wrap = (tag: number, body: Uint8Array) => new Uint8Array([tag, ...varint(body.length), ...body]);
      inner = wrap(0x0a, wrap(0x12, wrap(0x32, inner)));
    }
    return new Uint8Array([0x1a, ...varint(inner.length), ...inner]);
  })(),
];

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

describe('OpAMP decoder fuzzing', () => {
  it('refuses or decodes the regression cases', () => {
    for (const bytes of REGRESSIONS) decodesOrRefuses(bytes);
  });

  it('decodes or refuses (ProtocolError / FrameError only) arbitrary bytes', async () => {
    await fuzz('opamp arbitrary bytes', fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => decodesOrRefuses(bytes)), { numRuns: 2000 });
  });

  it('decodes or refuses valid messages with bytes flipped, cut or inserted', async () => {
    const mutated = fc.tuple(agentToServer, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('flip', 'cut', 'insert')), { minLength: 1, maxLength: 8 }));
    await fuzz(
      'opamp mutated messages',
      fc.property(mutated, ([msg, edits]) => {
        let bytes = Array.from(encodeAgentToServer(msg));
        for (const [at, value, kind] of edits) {
          const i = bytes.length === 0 ? 0 : at % bytes.length;
          if (kind === 'flip') bytes[i] = value;
          else if (kind === 'cut') bytes = bytes.slice(0, i);
          else bytes.splice(i, 0, value);
        }
        decodesOrRefuses(new Uint8Array(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips valid messages', async () => {
    await fuzz(
      'opamp round trip',
      fc.property(agentToServer, (msg) => {
        const back = decodeAgentToServer(encodeAgentToServer(msg));
        assert.deepEqual(back.instanceUid, msg.instanceUid);
        assert.equal(back.sequenceNum, msg.sequenceNum);
        assert.equal(back.capabilities, msg.capabilities);
        assert.deepEqual(back.customMessage?.data, msg.customMessage?.data);
      }),
    );
  });
});
