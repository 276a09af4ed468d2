/**
 * Hand-written helpers around the generated OpAMP types: decoding that
 * fails with a typed error, instance uid conversions, attribute maps.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AgentToServerSchema, ServerToAgentSchema, type AgentToServer, type ServerToAgent } from './gen/opamp_pb.js';
import { AnyValueSchema, KeyValueSchema, type AnyValue, type KeyValue } from './gen/anyvalue_pb.js';

export class ProtocolError extends Error {
  readonly code = 'BAD_PROTOBUF';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProtocolError';
  }
}

function decode<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new ProtocolError(`malformed ${what}: ${(e as Error).message}`, { cause: e });
  }
}

/** Throws ProtocolError when the bytes are not a valid AgentToServer. */
export function decodeAgentToServer(bytes: Uint8Array): AgentToServer {
  return decode('AgentToServer', () => fromBinary(AgentToServerSchema, bytes));
}

/** Throws ProtocolError when the bytes are not a valid ServerToAgent. */
export function decodeServerToAgent(bytes: Uint8Array): ServerToAgent {
  return decode('ServerToAgent', () => fromBinary(ServerToAgentSchema, bytes));
}

export function encodeAgentToServer(msg: AgentToServer): Uint8Array {
  return toBinary(AgentToServerSchema, msg);
}

export function encodeServerToAgent(msg: ServerToAgent): Uint8Array {
  return toBinary(ServerToAgentSchema, msg);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** 16 bytes → canonical lower-case UUID text. Throws RangeError for another length. */
export function uuidBytesToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`instance uid must be 16 bytes, got ${bytes.length}`);
  const h = Buffer.from(bytes).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Canonical UUID text → 16 bytes. Throws RangeError when it is not one. */
export function uuidStringToBytes(text: string): Uint8Array {
  const lower = text.toLowerCase();
  if (!UUID.test(lower)) throw new RangeError(`not a UUID: "${text}"`);
  return new Uint8Array(Buffer.from(lower.replace(/-/g, ''), 'hex'));
}

/** An AnyValue as a plain JS value (arrays and key/value lists become arrays and objects). */
export function anyValueToJs(v: AnyValue | undefined): unknown {
  if (!v) return null;
  switch (v.value.case) {
    case undefined:
      return null;
    case 'intValue':
      return Number(v.value.value);
    case 'bytesValue':
      return Buffer.from(v.value.value).toString('base64');
    case 'arrayValue':
      return v.value.value.values.map(anyValueToJs);
    case 'kvlistValue':
      return Object.fromEntries(v.value.value.values.map((kv) => [kv.key, anyValueToJs(kv.value)]));
    default:
      return v.value.value;
  }
}

/** Attributes as string → string; non-string values are stringified (objects as JSON). Later duplicates win. */
export function keyValuesToRecord(kvs: readonly KeyValue[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs) {
    const js = anyValueToJs(kv.value);
    out[kv.key] = typeof js === 'string' ? js : typeof js === 'object' && js !== null ? JSON.stringify(js) : String(js);
  }
  return out;
}

/** string → string attributes as OpAMP KeyValues (string values). */
export function recordToKeyValues(record: Readonly<Record<string, string>>): KeyValue[] {
  return Object.entries(record).map(([key, value]) =>
    create(KeyValueSchema, { key, value: create(AnyValueSchema, { value: { case: 'stringValue', value } }) }),
  );
}
