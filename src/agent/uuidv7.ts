/** UUIDv7 (RFC 9562): 48-bit Unix milliseconds, version 7, variant 10, random rest. */
import { randomFillSync } from 'node:crypto';

export function uuidv7Bytes(now = Date.now()): Uint8Array {
  const b = new Uint8Array(16);
  randomFillSync(b, 6);
  let ms = now;
  for (let i = 5; i >= 0; i--) {
    b[i] = ms % 256;
    ms = Math.floor(ms / 256);
  }
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return b;
}
