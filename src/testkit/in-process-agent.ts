/**
 * Many agents on few cores: the Corral agent's own OpAMP client
 * (src/agent/opamp-client.ts: transport, reconnects, enrollment, credential
 * rotation) run in the test process, without services. Each has its own data
 * dir and identity.json, as a real agent does; they talk to a real server.
 */
import { pino } from 'pino';
import { IdentityStore, type Identity } from '../agent/identity.js';
import { OpampClient } from '../agent/opamp-client.js';
import { describeAgent } from '../agent/description.js';
import { DEFAULT_BACKOFF } from '../agent/backoff.js';
import { AgentCapabilities, recordToKeyValues } from '../protocol/index.js';

const CAPABILITIES =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsConnectionSettingsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsHeartbeat);

export class InProcessAgent {
  private readonly client: OpampClient;

  constructor(
    readonly name: string,
    readonly dataDir: string,
    opts: { server: string; token: string; heartbeatMs?: number },
  ) {
    const url = new URL(opts.server);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    url.pathname = '/v1/opamp';
    this.client = new OpampClient(
      {
        opampUrl: url.toString(),
        token: opts.token,
        heartbeatMs: opts.heartbeatMs ?? 5000,
        // Reconnects soon after a server refuses, as many agents must not wait out a long backoff in a test.
        backoff: { ...DEFAULT_BACKOFF, initialMs: 100, maxMs: 2000 },
        capabilities: CAPABILITIES,
        trust: { caPem: null, fingerprint: null },
      },
      { log: pino({ level: 'silent' }), identity: new IdentityStore(dataDir) },
      {
        onConnect: () => {
          const { identifying, nonIdentifying } = describeAgent({ instanceUid: this.client.instanceUid, name, labels: {} });
          this.client.send({ agentDescription: { identifyingAttributes: recordToKeyValues(identifying), nonIdentifyingAttributes: recordToKeyValues(nonIdentifying) } });
        },
        onMessage: () => undefined,
      },
    );
    this.client.start();
  }

  get instanceUid(): string {
    return this.client.instanceUid;
  }

  get identity(): Identity {
    return this.client.identity;
  }

  stop(): Promise<void> {
    return this.client.stop();
  }
}
