import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals, type MessageInitShape } from '@bufbuild/protobuf';
import {
  AGENT_CAPABILITIES,
  AGENT_TO_SERVER_FLAGS,
  AgentCapabilities,
  AgentToServerSchema,
  AnyValueSchema,
  CommandType,
  KeyValueSchema,
  ProtocolError,
  RemoteConfigStatuses,
  SERVER_CAPABILITIES,
  SERVER_TO_AGENT_FLAGS,
  ServerCapabilities,
  ServerToAgentSchema,
  anyValueToJs,
  bitNames,
  decodeAgentToServer,
  decodeServerToAgent,
  decodeWsFrame,
  encodeAgentToServer,
  encodeServerToAgent,
  encodeWsFrame,
  hasBits,
  keyValuesToRecord,
  recordToKeyValues,
  uuidBytesToString,
  uuidStringToBytes,
  type AnyValue,
} from './index.js';

const UID = '0190f1c2-7b3a-7c41-9e2d-5a6b7c8d9e0f';
const av = (value: MessageInitShape<typeof AnyValueSchema>['value']): AnyValue => create(AnyValueSchema, { value });

function assertProtocolError(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, `expected ProtocolError, got ${String(e)}`);
    assert.equal(e.code, 'BAD_PROTOBUF');
    assert.match(e.message, new RegExp(`^malformed ${what}: `));
    assert.ok(e.cause instanceof Error, 'keeps the decoder error as cause');
    return true;
  });
}

describe('OpAMP codecs', () => {
  it('round-trips an AgentToServer with description, health and remote config status', () => {
    const msg = create(AgentToServerSchema, {
      instanceUid: uuidStringToBytes(UID),
      sequenceNum: 42n,
      capabilities: AGENT_CAPABILITIES.ReportsStatus | AGENT_CAPABILITIES.ReportsHealth | AGENT_CAPABILITIES.ReportsRemoteConfig,
      flags: AGENT_TO_SERVER_FLAGS.RequestInstanceUid,
      agentDescription: {
        identifyingAttributes: recordToKeyValues({ 'service.name': 'corral-agent', 'service.version': '0.1.0' }),
        nonIdentifyingAttributes: [
          ...recordToKeyValues({ 'host.name': 'web-1', 'os.type': 'linux' }),
          create(KeyValueSchema, { key: 'host.cpu.count', value: av({ case: 'intValue', value: 8n }) }),
        ],
      },
      health: {
        healthy: false,
        startTimeUnixNano: 1_700_000_000_000_000_000n,
        statusTimeUnixNano: 18_446_744_073_709_551_615n, // fixed64 max
        status: 'degraded',
        lastError: 'one service is crash-looping',
        componentHealthMap: {
          'service:web': { healthy: true, status: 'running' },
          'service:worker': { healthy: false, status: 'backoff', lastError: 'exit 1' },
        },
      },
      remoteConfigStatus: {
        lastRemoteConfigHash: new Uint8Array(32).fill(0xab),
        status: RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
        errorMessage: 'bad yaml',
      },
    });

    const back = decodeAgentToServer(encodeAgentToServer(msg));
    assert.ok(equals(AgentToServerSchema, back, msg));
    assert.equal(uuidBytesToString(back.instanceUid), UID);
    assert.equal(back.sequenceNum, 42n);
    assert.ok(hasBits(back.capabilities, AGENT_CAPABILITIES.ReportsHealth));
    assert.deepEqual(bitNames(back.capabilities, AGENT_CAPABILITIES), ['ReportsStatus', 'ReportsHealth', 'ReportsRemoteConfig']);
    assert.deepEqual(keyValuesToRecord(back.agentDescription!.nonIdentifyingAttributes), {
      'host.name': 'web-1',
      'os.type': 'linux',
      'host.cpu.count': '8',
    });
    assert.equal(back.health!.statusTimeUnixNano, 18_446_744_073_709_551_615n);
    assert.equal(back.health!.componentHealthMap['service:worker']!.lastError, 'exit 1');
    assert.equal(back.remoteConfigStatus!.status, RemoteConfigStatuses.RemoteConfigStatuses_FAILED);

    // And through the WebSocket framing, as on the wire.
    const framed = decodeAgentToServer(decodeWsFrame(encodeWsFrame(encodeAgentToServer(msg))));
    assert.ok(equals(AgentToServerSchema, framed, msg));
  });

  it('round-trips a ServerToAgent with capabilities, remote config and a command', () => {
    const msg = create(ServerToAgentSchema, {
      instanceUid: uuidStringToBytes(UID),
      capabilities: SERVER_CAPABILITIES.AcceptsStatus | SERVER_CAPABILITIES.OffersRemoteConfig,
      flags: SERVER_TO_AGENT_FLAGS.ReportFullState,
      remoteConfig: {
        configHash: new Uint8Array([1, 2, 3]),
        config: { configMap: { 'app.yaml': { body: new TextEncoder().encode('a: 1\n'), contentType: 'text/yaml' } } },
      },
      command: { type: CommandType.CommandType_Restart },
      customMessage: { capability: 'io.corral.exec/v1', type: 'request', data: new Uint8Array([7]) },
    });
    const back = decodeServerToAgent(encodeServerToAgent(msg));
    assert.ok(equals(ServerToAgentSchema, back, msg));
    assert.equal(new TextDecoder().decode(back.remoteConfig!.config!.configMap['app.yaml']!.body), 'a: 1\n');
  });

  it('turns undecodable bytes into ProtocolError', () => {
    const garbage = [
      [0xff, 0xff, 0xff], // truncated tag varint
      [0x0f], // wire type 7 does not exist
      [0x0a, 0x05, 0x01], // instance_uid says 5 bytes, 1 follows
    ];
    for (const b of garbage) {
      assertProtocolError(() => decodeAgentToServer(new Uint8Array(b)), 'AgentToServer');
      assertProtocolError(() => decodeServerToAgent(new Uint8Array(b)), 'ServerToAgent');
    }
  });
});

describe('capability and flag bitmasks', () => {
  it('follow the generated enums, as bigints', () => {
    assert.equal(AGENT_CAPABILITIES.ReportsStatus, 1n);
    assert.equal(AGENT_CAPABILITIES.ReportsConnectionSettingsStatus, 0x8000n);
    assert.equal(AGENT_CAPABILITIES.AcceptsRestartCommand, BigInt(AgentCapabilities.AgentCapabilities_AcceptsRestartCommand));
    assert.equal(Object.keys(AGENT_CAPABILITIES).length, 16);
    assert.equal(SERVER_CAPABILITIES.AcceptsConnectionSettingsRequest, BigInt(ServerCapabilities.ServerCapabilities_AcceptsConnectionSettingsRequest));
    assert.equal(Object.keys(SERVER_CAPABILITIES).length, 7);
    assert.equal(AGENT_TO_SERVER_FLAGS.RequestInstanceUid, 1n);
    assert.equal(SERVER_TO_AGENT_FLAGS.ReportAvailableComponents, 2n);
    assert.ok(!('Unspecified' in AGENT_CAPABILITIES));
    assert.ok(Object.isFrozen(AGENT_CAPABILITIES));
  });

  it('hasBits needs every bit; bitNames skips bits it does not know', () => {
    const mask = AGENT_CAPABILITIES.ReportsStatus | (1n << 40n);
    assert.ok(hasBits(mask, AGENT_CAPABILITIES.ReportsStatus));
    assert.ok(!hasBits(mask, AGENT_CAPABILITIES.ReportsStatus | AGENT_CAPABILITIES.ReportsHealth));
    assert.deepEqual(bitNames(mask, AGENT_CAPABILITIES), ['ReportsStatus']);
    assert.deepEqual(bitNames(0n, SERVER_CAPABILITIES), []);
  });
});

describe('instance uids', () => {
  it('converts 16 bytes to canonical text and back', () => {
    const b = uuidStringToBytes(UID);
    assert.equal(b.length, 16);
    assert.equal(b[0], 0x01);
    assert.equal(b[15], 0x0f);
    assert.equal(uuidBytesToString(b), UID);
    assert.equal(uuidBytesToString(uuidStringToBytes(UID.toUpperCase())), UID);
    // A view into a larger buffer converts only its own bytes.
    const big = new Uint8Array(20);
    big.set(b, 2);
    assert.equal(uuidBytesToString(big.subarray(2, 18)), UID);
  });

  it('rejects bytes that are not 16 long', () => {
    for (const n of [0, 15, 17]) assert.throws(() => uuidBytesToString(new Uint8Array(n)), RangeError);
  });

  it('rejects text that is not a UUID', () => {
    for (const bad of [
      '',
      UID.replace(/-/g, ''),
      `{${UID}}`,
      ` ${UID}`,
      `${UID}\n`,
      UID.replace('7b3a', '7b3g'),
      UID.replace('0190f1c2-7b3a', '0190f1c27-b3a'),
      UID.slice(0, -1),
      `${UID}0`,
    ]) {
      assert.throws(() => uuidStringToBytes(bad), RangeError, JSON.stringify(bad));
    }
  });
});

describe('attributes', () => {
  it('converts every AnyValue kind to a plain value', () => {
    assert.equal(anyValueToJs(undefined), null);
    assert.equal(anyValueToJs(av({ case: undefined })), null);
    assert.equal(anyValueToJs(av({ case: 'stringValue', value: 's' })), 's');
    assert.equal(anyValueToJs(av({ case: 'boolValue', value: true })), true);
    assert.equal(anyValueToJs(av({ case: 'doubleValue', value: 1.5 })), 1.5);
    assert.equal(anyValueToJs(av({ case: 'intValue', value: -7n })), -7);
    assert.equal(anyValueToJs(av({ case: 'intValue', value: 9_007_199_254_740_993n })), '9007199254740993');
    assert.equal(anyValueToJs(av({ case: 'bytesValue', value: new Uint8Array([1, 2, 3]) })), 'AQID');
    const nested = av({
      case: 'kvlistValue',
      value: {
        values: [
          { key: 'a', value: av({ case: 'arrayValue', value: { values: [av({ case: 'intValue', value: 1n }), av({ case: undefined })] } }) },
          { key: 'b', value: av({ case: 'stringValue', value: 'x' }) },
        ],
      },
    });
    assert.deepEqual(anyValueToJs(nested), { a: [1, null], b: 'x' });
  });

  it('flattens KeyValues to strings; later duplicates win', () => {
    const kvs = [
      create(KeyValueSchema, { key: 'n', value: av({ case: 'intValue', value: 3n }) }),
      create(KeyValueSchema, { key: 'ok', value: av({ case: 'boolValue', value: false }) }),
      create(KeyValueSchema, { key: 'list', value: av({ case: 'arrayValue', value: { values: [av({ case: 'stringValue', value: 'a' })] } }) }),
      create(KeyValueSchema, { key: 'unset' }),
      create(KeyValueSchema, { key: 'dup', value: av({ case: 'stringValue', value: 'first' }) }),
      create(KeyValueSchema, { key: 'dup', value: av({ case: 'stringValue', value: 'second' }) }),
    ];
    assert.deepEqual(keyValuesToRecord(kvs), { n: '3', ok: 'false', list: '["a"]', unset: '', dup: 'second' });
  });

  it('keeps a "__proto__" attribute as plain data', () => {
    const rec = keyValuesToRecord(recordToKeyValues(JSON.parse('{"__proto__":"x","a":"b"}') as Record<string, string>));
    assert.deepEqual(Object.keys(rec), ['__proto__', 'a']);
    assert.equal(Object.getPrototypeOf(rec), Object.prototype);
  });

  it('recordToKeyValues writes string values in key order', () => {
    const kvs = recordToKeyValues({ b: '2', a: '1' });
    assert.deepEqual(
      kvs.map((kv) => [kv.key, kv.value?.value.case, kv.value?.value.value]),
      [
        ['b', 'stringValue', '2'],
        ['a', 'stringValue', '1'],
      ],
    );
    assert.deepEqual(keyValuesToRecord(kvs), { b: '2', a: '1' });
  });
});
