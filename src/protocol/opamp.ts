/**
 * Hand-written helpers around the generated OpAMP types: codecs that fail
 * with a typed error, capability and flag bitmasks, instance uid
 * conversions, attribute maps.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  AgentCapabilities,
  AgentToServerFlags,
  AgentToServerSchema,
  ServerCapabilities,
  ServerToAgentFlags,
  ServerToAgentSchema,
  type AgentToServer,
  type ServerToAgent,
} from './gen/opamp_pb.js';
import { AnyValueSchema, KeyValueSchema, type AnyValue, type KeyValue } from './gen/anyvalue_pb.js';

// ---------------------------------------------------------------------------
// Codecs
// ---------------------------------------------------------------------------

/** Bytes that are not a valid protobuf message of the expected type. `code` is always 'BAD_PROTOBUF'; `cause` is the decoder's error. */
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
    throw new ProtocolError(`malformed ${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

/**
 * Parses the protobuf bytes of an AgentToServer (WebSocket frame payload or
 * HTTP body). Unknown fields are kept; unknown enum values pass through as
 * numbers. Throws ProtocolError when the bytes are not a valid message
 * (truncated, bad tags or wire types, nesting deeper than 100).
 */
export function decodeAgentToServer(bytes: Uint8Array): AgentToServer {
  return decode('AgentToServer', () => fromBinary(AgentToServerSchema, bytes));
}

/** Parses the protobuf bytes of a ServerToAgent. Throws ProtocolError like decodeAgentToServer. */
export function decodeServerToAgent(bytes: Uint8Array): ServerToAgent {
  return decode('ServerToAgent', () => fromBinary(ServerToAgentSchema, bytes));
}

/** Serializes an AgentToServer to protobuf bytes (no WebSocket header). Does not throw for a message built with `create`. */
export function encodeAgentToServer(msg: AgentToServer): Uint8Array {
  return toBinary(AgentToServerSchema, msg);
}

/** Serializes a ServerToAgent to protobuf bytes (no WebSocket header). Does not throw for a message built with `create`. */
export function encodeServerToAgent(msg: ServerToAgent): Uint8Array {
  return toBinary(ServerToAgentSchema, msg);
}

// ---------------------------------------------------------------------------
// Capability and flag bitmasks
// ---------------------------------------------------------------------------

/** Enum member names with the enum's prefix removed, e.g. AgentCapabilities_ReportsStatus → ReportsStatus. */
type BitNames<E, P extends string> = {
  readonly [K in keyof E as K extends `${P}${infer Name}` ? (Name extends 'Unspecified' ? never : Name) : never]: bigint;
};

/** The non-zero members of a generated bitmask enum as bigint masks, keyed by their short names. */
function bitsOf<E extends Record<string, string | number>, P extends string>(e: E, prefix: P): BitNames<E, P> {
  const out: Record<string, bigint> = {};
  for (const [key, value] of Object.entries(e)) {
    if (typeof value === 'number' && value !== 0 && key.startsWith(prefix)) out[key.slice(prefix.length)] = BigInt(value);
  }
  return Object.freeze(out) as BitNames<E, P>;
}

/**
 * AgentCapabilities bits as bigint masks, because protobuf-es v2 types the
 * uint64 `capabilities` and `flags` fields as bigint. Example:
 * `AGENT_CAPABILITIES.ReportsStatus | AGENT_CAPABILITIES.AcceptsRemoteConfig`.
 * Derived from the generated enum, so it follows the .proto.
 */
export const AGENT_CAPABILITIES = bitsOf(AgentCapabilities, 'AgentCapabilities_');

/** ServerCapabilities bits as bigint masks (see AGENT_CAPABILITIES). */
export const SERVER_CAPABILITIES = bitsOf(ServerCapabilities, 'ServerCapabilities_');

/** AgentToServerFlags bits as bigint masks, for AgentToServer.flags. */
export const AGENT_TO_SERVER_FLAGS = bitsOf(AgentToServerFlags, 'AgentToServerFlags_');

/** ServerToAgentFlags bits as bigint masks, for ServerToAgent.flags. */
export const SERVER_TO_AGENT_FLAGS = bitsOf(ServerToAgentFlags, 'ServerToAgentFlags_');

/** True when every bit of `bits` is set in `mask`. Never throws. */
export function hasBits(mask: bigint, bits: bigint): boolean {
  return (mask & bits) === bits;
}

/**
 * The names (from one of the tables above) of the bits set in `mask`, in
 * bit order; bits the table does not know are left out. Never throws.
 * Example: `bitNames(msg.capabilities, AGENT_CAPABILITIES)`.
 */
export function bitNames(mask: bigint, table: Readonly<Record<string, bigint>>): string[] {
  return Object.entries(table)
    .filter(([, bit]) => (mask & bit) !== 0n)
    .sort(([, a], [, b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name]) => name);
}

// ---------------------------------------------------------------------------
// Instance uids
// ---------------------------------------------------------------------------

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * 16 bytes (an OpAMP instance_uid) → canonical lower-case UUID text,
 * e.g. "0190f1c2-7b3a-7c41-9e2d-5a6b7c8d9e0f". Any 16 bytes are accepted
 * (no version check). Throws RangeError for any other length.
 */
export function uuidBytesToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`instance uid must be 16 bytes, got ${bytes.length}`);
  const h = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * UUID text in the 8-4-4-4-12 hex form (either case, no braces, no
 * whitespace) → a new 16-byte array. Throws RangeError for anything else.
 */
export function uuidStringToBytes(text: string): Uint8Array {
  if (!UUID.test(text)) throw new RangeError(`not a UUID: ${JSON.stringify(text)}`);
  return new Uint8Array(Buffer.from(text.replace(/-/g, ''), 'hex'));
}

// ---------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------

/**
 * An AnyValue as a plain, JSON-safe JS value: strings, booleans and doubles
 * as is; int64 as a number when it is a safe integer, otherwise as its
 * decimal string; bytes as base64; arrays as arrays; key/value lists as
 * objects (later duplicate keys win); unset or missing as null. Never throws.
 */
export function anyValueToJs(v: AnyValue | undefined): unknown {
  if (!v) return null;
  switch (v.value.case) {
    case undefined:
      return null;
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return v.value.value;
    case 'intValue': {
      const n = v.value.value;
      return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n.toString();
    }
    case 'bytesValue':
      return Buffer.from(v.value.value).toString('base64');
    case 'arrayValue':
      return v.value.value.values.map(anyValueToJs);
    case 'kvlistValue':
      return Object.fromEntries(v.value.value.values.map((kv) => [kv.key, anyValueToJs(kv.value)]));
  }
}

/**
 * OpAMP attributes (e.g. AgentDescription.identifying_attributes) as a
 * string → string record. Strings stay as they are; numbers and booleans
 * are stringified; arrays and key/value lists become JSON; bytes become
 * base64; an unset value becomes "". Later duplicate keys win. Keys such as
 * "__proto__" are kept as ordinary own properties. Never throws.
 */
export function keyValuesToRecord(kvs: readonly KeyValue[]): Record<string, string> {
  const out = new Map<string, string>();
  for (const kv of kvs) {
    const js = anyValueToJs(kv.value);
    out.set(kv.key, typeof js === 'string' ? js : js === null ? '' : typeof js === 'object' ? JSON.stringify(js) : String(js));
  }
  return Object.fromEntries(out);
}

/** A string → string record as OpAMP KeyValues with string values, in the record's key order. Never throws. */
export function recordToKeyValues(record: Readonly<Record<string, string>>): KeyValue[] {
  return Object.entries(record).map(([key, value]) =>
    create(KeyValueSchema, { key, value: create(AnyValueSchema, { value: { case: 'stringValue', value } }) }),
  );
}
