/**
 * A process holding many simulated OpAMP agents, one WebSocket each, for the
 * fleet benchmark. They do no host work: send full state, heartbeat, and
 * acknowledge remote config (APPLYING then APPLIED) the moment it arrives.
 *
 * Driven by its parent over IPC:
 *   parent → { url, token, count, index, heartbeatMs, mode: 'opamp' | 'floor', localAddress }
 *   child  → { type: 'connected', n } every 500 connections, { type: 'ready', firstReplyAt: number[] },
 *            { type: 'applied', at: number[] } on request ('report-applied').
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  AgentCapabilities,
  AgentToServerSchema,
  RemoteConfigStatuses,
  create,
  decodeServerToAgent,
  decodeWsFrame,
  encodeAgentToServer,
  encodeWsFrame,
  recordToKeyValues,
  type AgentToServer,
} from '../src/protocol/index.js';
import type { MessageInitShape } from '@bufbuild/protobuf';

interface Job {
  url: string;
  token: string;
  count: number;
  index: number;
  heartbeatMs: number;
  /** floor: bare sockets; opamp: a plain OpAMP agent; corral: also "runs" deployments (reports them in effect and healthy at once). */
  mode: 'opamp' | 'floor' | 'corral';
  localAddress: string;
  /** Extra non-identifying attributes (labels as corral.label.*). */
  attributes?: Record<string, string>;
}

const CAPS =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsHeartbeat);

const CORRAL_CAPS =
  CAPS | BigInt(AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig) | BigInt(AgentCapabilities.AgentCapabilities_ReportsHealth);

const CONNECT_CONCURRENCY = 64;

function frame(init: MessageInitShape<typeof AgentToServerSchema>): Buffer {
  return Buffer.from(encodeWsFrame(encodeAgentToServer(create(AgentToServerSchema, init) as AgentToServer)));
}

async function run(job: Job): Promise<void> {
  const firstReplyAt: number[] = [];
  const appliedAt: number[] = [];
  const sockets: WebSocket[] = [];
  const wsUrl = `${job.url.replace(/^http/, 'ws')}/v1/opamp`;
  let connected = 0;
  const caps = job.mode === 'corral' ? CORRAL_CAPS : CAPS;

  const connectOne = (i: number) =>
    new Promise<void>((resolve) => {
      const uid = new Uint8Array(randomBytes(16));
      uid[6] = (uid[6]! & 0x0f) | 0x70;
      uid[8] = (uid[8]! & 0x3f) | 0x80;
      let seq = 0n;
      const attempt = () => {
        const ws = new WebSocket(wsUrl, {
          headers: { authorization: `Bearer ${job.token}` },
          perMessageDeflate: false,
          localAddress: job.localAddress,
        });
        ws.on('error', () => undefined);
        ws.on('unexpected-response', (_req, res) => {
          res.resume();
          setTimeout(attempt, 1000 + Math.random() * 2000);
        });
        ws.on('open', () => {
          sockets.push(ws);
          if (++connected % 500 === 0) process.send!({ type: 'connected', n: connected });
          if (job.mode === 'floor') {
            firstReplyAt[i] = Date.now();
            return resolve();
          }
          const n = job.index * job.count + i;
          ws.send(
            frame({
              instanceUid: uid,
              sequenceNum: seq++,
              capabilities: caps,
              agentDescription: {
                identifyingAttributes: recordToKeyValues({ 'service.name': job.mode === 'corral' ? 'io.corral.agent' : 'sim-agent', 'service.instance.id': `sim-${n}` }),
                nonIdentifyingAttributes: recordToKeyValues({
                  'host.name': `sim-${n}`,
                  'os.type': 'linux',
                  'host.arch': 'amd64',
                  'corral.label.bench': 'fleet',
                  'corral.label.cluster': `c${n % 10}`,
                  ...job.attributes,
                }),
              },
            }),
          );
          const heartbeat = setInterval(
            () => ws.readyState === ws.OPEN && ws.send(frame({ instanceUid: uid, sequenceNum: seq++, capabilities: caps })),
            job.heartbeatMs,
          );
          heartbeat.unref();
          ws.on('close', () => clearInterval(heartbeat));
        });
        ws.on('message', (data: Buffer) => {
          const msg = decodeServerToAgent(decodeWsFrame(new Uint8Array(data)));
          if (firstReplyAt[i] === undefined) {
            firstReplyAt[i] = Date.now();
            resolve();
          }
          if (msg.remoteConfig) {
            const hash = msg.remoteConfig.configHash;
            ws.send(frame({ instanceUid: uid, sequenceNum: seq++, capabilities: caps, remoteConfigStatus: { lastRemoteConfigHash: hash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLYING } }));
            const applied = { lastRemoteConfigHash: hash, status: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED };
            if (job.mode === 'corral') {
              // What a corral agent reports once its services converged: the specs in effect, each service healthy.
              const configMap = msg.remoteConfig.config?.configMap ?? {};
              const now = BigInt(Date.now()) * 1_000_000n;
              const components = Object.fromEntries(
                Object.keys(configMap)
                  .filter((f) => f.startsWith('deployment.'))
                  .map((f) => [f.slice('deployment.'.length, -'.json'.length), { healthy: true, status: 'running', startTimeUnixNano: now, statusTimeUnixNano: now }]),
              );
              ws.send(
                frame({
                  instanceUid: uid,
                  sequenceNum: seq++,
                  capabilities: caps,
                  remoteConfigStatus: applied,
                  effectiveConfig: { configMap: { configMap } },
                  health: { healthy: true, status: 'running', startTimeUnixNano: now, statusTimeUnixNano: now, componentHealthMap: components },
                }),
              );
            } else {
              ws.send(frame({ instanceUid: uid, sequenceNum: seq++, capabilities: caps, remoteConfigStatus: applied }));
            }
            appliedAt.push(Date.now());
          }
        });
      };
      attempt();
    });

  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECT_CONCURRENCY }, async () => {
      while (next < job.count) await connectOne(next++);
    }),
  );
  process.send!({ type: 'ready', firstReplyAt });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'report-applied') process.send!({ type: 'applied', at: appliedAt.splice(0) });
    if (m.type === 'close') {
      for (const ws of sockets) ws.terminate();
      setTimeout(() => process.exit(0), 200);
    }
  });
}

process.once('message', (job: Job) => {
  run(job).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
