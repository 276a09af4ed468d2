/**
 * OpAMP WebSocket framing: every binary WebSocket message is a varint
 * header (0 in this version of the protocol) followed by the protobuf bytes.
 */

export class FrameError extends Error {
  readonly code = 'BAD_FRAME';
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

const HEADER = new Uint8Array([0]);

/** Prepends the header (0) to an encoded message. */
export function encodeWsFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1);
  out.set(HEADER, 0);
  out.set(payload, 1);
  return out;
}

/**
 * Reads the varint header and returns the payload (a view, not a copy).
 * Throws FrameError for an empty message, a truncated or over-long varint,
 * or a header other than 0.
 */
export function decodeWsFrame(data: Uint8Array): Uint8Array {
  let header = 0;
  let shift = 0;
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    if (shift > 28) throw new FrameError('OpAMP WebSocket header varint is too long');
    header += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if ((byte & 0x80) === 0) {
      if (header !== 0) throw new FrameError(`unsupported OpAMP WebSocket header ${header}`);
      return data.subarray(i + 1);
    }
  }
  throw new FrameError(data.length === 0 ? 'empty OpAMP WebSocket message' : 'truncated OpAMP WebSocket header varint');
}
