/**
 * OpAMP WebSocket framing: every binary WebSocket message is a header, a
 * uint64 in base-128 varint form (1 to 10 bytes), followed by the protobuf
 * bytes of an AgentToServer or ServerToAgent. This version of the protocol
 * defines only header 0; other values are reserved, so a frame carrying one
 * is malformed. The plain HTTP transport has no header.
 */

/** A WebSocket message that is not a valid OpAMP frame. `code` is always 'BAD_FRAME'. */
export class FrameError extends Error {
  readonly code = 'BAD_FRAME';
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** A uint64 varint never takes more than 10 bytes. */
const MAX_HEADER_BYTES = 10;

/**
 * Frames an encoded message for the WebSocket transport: a new array holding
 * header 0 (one byte) followed by a copy of `payload`. Never throws.
 */
export function encodeWsFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(payload.length + 1); // out[0] is already 0
  out.set(payload, 1);
  return out;
}

/**
 * Reads the varint header of one WebSocket message and returns the protobuf
 * bytes after it, as a view of `data` (no copy; an empty view is valid, it
 * is an empty message). A zero header in a non-minimal form (e.g. 0x80 0x00)
 * is accepted, as any varint decoder would.
 *
 * Throws FrameError (code 'BAD_FRAME') when:
 * - `data` is empty or the varint runs past its end ("truncated ..."),
 * - the varint is longer than 10 bytes or does not fit in 64 bits,
 * - the header is not 0 ("unsupported OpAMP WebSocket header N").
 */
export function decodeWsFrame(data: Uint8Array): Uint8Array {
  if (data[0] === 0) return data.subarray(1); // the only header in use today
  if (data.length === 0) throw new FrameError('empty OpAMP WebSocket message: the header is missing');
  let header = 0n;
  for (let i = 0; i < MAX_HEADER_BYTES; i++) {
    if (i >= data.length) {
      throw new FrameError(`truncated OpAMP WebSocket header: the varint runs past the end of the ${data.length}-byte message`);
    }
    const byte = data[i]!;
    header |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if ((byte & 0x80) !== 0) continue;
    // The 10th byte holds only bit 63.
    if (i === MAX_HEADER_BYTES - 1 && byte > 1) throw new FrameError('OpAMP WebSocket header varint does not fit in 64 bits');
    if (header !== 0n) throw new FrameError(`unsupported OpAMP WebSocket header ${header}`);
    return data.subarray(i + 1);
  }
  throw new FrameError(`OpAMP WebSocket header varint is longer than ${MAX_HEADER_BYTES} bytes`);
}
