import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FrameError, decodeWsFrame, encodeWsFrame } from './ws-frame.js';

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

function assertFrameError(data: Uint8Array, message: RegExp): void {
  assert.throws(
    () => decodeWsFrame(data),
    (e: unknown) => {
      assert.ok(e instanceof FrameError, `expected FrameError, got ${String(e)}`);
      assert.equal(e.code, 'BAD_FRAME');
      assert.equal(e.name, 'FrameError');
      assert.match(e.message, message);
      return true;
    },
  );
}

describe('OpAMP WebSocket framing', () => {
  it('prepends header 0 and decodes back to the payload', () => {
    const payload = bytes(0x0a, 0x02, 0xde, 0xad);
    const frame = encodeWsFrame(payload);
    assert.deepEqual(frame, bytes(0, 0x0a, 0x02, 0xde, 0xad));
    assert.deepEqual(decodeWsFrame(frame), payload);
  });

  it('returns a view of the frame, not a copy', () => {
    const frame = encodeWsFrame(bytes(1, 2, 3));
    const payload = decodeWsFrame(frame);
    assert.equal(payload.buffer, frame.buffer);
    assert.equal(payload.byteOffset, frame.byteOffset + 1);
    // Also for a Buffer inside a larger pool, as `ws` delivers them.
    const pooled = Buffer.concat([Buffer.from([9, 9]), Buffer.from([0, 7, 8])]).subarray(2);
    const view = decodeWsFrame(pooled);
    assert.deepEqual([...view], [7, 8]);
    assert.equal(view.buffer, pooled.buffer);
  });

  it('accepts an empty message (all fields unset)', () => {
    const frame = encodeWsFrame(new Uint8Array(0));
    assert.deepEqual(frame, bytes(0));
    assert.equal(decodeWsFrame(frame).length, 0);
  });

  it('accepts header 0 written in a longer varint form', () => {
    assert.deepEqual(decodeWsFrame(bytes(0x80, 0x00, 0x0a)), bytes(0x0a));
    assert.deepEqual(decodeWsFrame(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00, 0x42)), bytes(0x42));
  });

  it('rejects header 1 and other reserved headers', () => {
    assertFrameError(bytes(1, 0x0a, 0x00), /^unsupported OpAMP WebSocket header 1$/);
    assertFrameError(bytes(0xac, 0x02), /^unsupported OpAMP WebSocket header 300$/);
    // 2^63, the largest bit a uint64 header can carry
    assertFrameError(
      bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
      /^unsupported OpAMP WebSocket header 9223372036854775808$/,
    );
  });

  it('rejects an empty message and a truncated varint', () => {
    assertFrameError(new Uint8Array(0), /empty/);
    assertFrameError(bytes(0x80), /truncated/);
    assertFrameError(bytes(0xff, 0xff), /truncated/);
  });

  it('rejects a varint longer than 10 bytes or wider than 64 bits', () => {
    assertFrameError(new Uint8Array(11).fill(0x80), /longer than 10 bytes/);
    assertFrameError(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02), /64 bits/);
  });
});
