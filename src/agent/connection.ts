/**
 * The agent's OpAMP connection: connect out over WebSocket, send full
 * state, heartbeat, take offers (credential, heartbeat interval, remote
 * config), and reconnect with backoff for as long as the agent runs.
 *
 * Lifecycle of one attempt: 'connecting' → 'connected' → 'closed', then a
 * backoff delay ('waiting') and the next attempt; `stop()` ends the loop
 * after telling the server (AgentDisconnect).
 */
import WebSocket from 'ws';
import type { Logger } from 'pino';
import {
  AgentCapabilities,
  AgentToServerSchema,
  DEPLOYMENT_CONTENT_TYPE,
  deploymentFileName,
  PackageStatusEnum,
  PackageStatusSchema,
  PROGRESS_TYPE,
  REPLY_TYPE,
  REQUEST_TYPE,
  RemoteConfigStatuses,
  SAMPLES_CAPABILITY,
  SAMPLES_TYPE,
  SIGNING_CONNECTION,
  SIGNING_KEY_SETTING,
  ServerToAgentFlags,
  create,
  decodeJsonObject,
  decodeServerToAgent,
  decodeWsFrame,
  encodeAgentToServer,
  encodeJson,
  encodeWsFrame,
  recordToKeyValues,
  uuidStringToBytes,
  type AgentToServer,
  type ServerToAgent,
} from '../protocol/index.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { INSTALL_COMPONENT, installFailedStatus } from '../protocol/index.js';
import { nextDelayMs } from './backoff.js';
import type { CompiledAgentOptions } from './options.js';
import type { IdentityStore, Identity } from './identity.js';
import type { RemoteConfigManager, RemoteConfigState } from './remote-config.js';
import { describeAgent } from './description.js';
import { deploymentSpecs } from './remote-config.js';
import type { PackageState, ServicesManager } from './services/services-manager.js';
import type { DownloadTarget } from './packages/download.js';
import type { CustomHandler } from './custom-handlers.js';
import type { ResourceSampler } from './resource-sampler.js';
import type { SelfUpgrader } from './upgrade/self-upgrade.js';

export const AGENT_CAPABILITIES =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsEffectiveConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsHealth) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsHeartbeat) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsPackages) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsPackageStatuses);

const STATUS: Record<RemoteConfigState['status'], RemoteConfigStatuses> = {
  UNSET: RemoteConfigStatuses.RemoteConfigStatuses_UNSET,
  APPLYING: RemoteConfigStatuses.RemoteConfigStatuses_APPLYING,
  APPLIED: RemoteConfigStatuses.RemoteConfigStatuses_APPLIED,
  FAILED: RemoteConfigStatuses.RemoteConfigStatuses_FAILED,
};

const PACKAGE_STATUS: Record<PackageState['status'], PackageStatusEnum> = {
  downloading: PackageStatusEnum.PackageStatusEnum_Downloading,
  installing: PackageStatusEnum.PackageStatusEnum_Installing,
  installed: PackageStatusEnum.PackageStatusEnum_Installed,
  failed: PackageStatusEnum.PackageStatusEnum_InstallFailed,
};

/** A connection that lasted this long resets the backoff. */
const STABLE_MS = 30_000;
const REFUSED_STATUSES = new Set([401, 403]);

export interface ConnectionDeps {
  log: Logger;
  identity: IdentityStore;
  remoteConfig: RemoteConfigManager;
  /** Runs deployments; reports their health. */
  services?: ServicesManager;
  /** Custom-message handlers by capability (io.corral.*). */
  custom?: Record<string, CustomHandler>;
  /** Resource samples to send every `sampleMs` while connected. */
  sampler?: ResourceSampler;
  /** Takes the agent's own package (top-level) offers and reports their status. */
  upgrader?: SelfUpgrader;
  random?: () => number;
  /** Opens a WebSocket; tests substitute one that fails on demand. */
  openSocket?: (url: string, headers: Record<string, string>) => WebSocket;
}

type Init = MessageInitShape<typeof AgentToServerSchema>;

export class AgentConnection {
  private identity: Identity;
  private readonly uid: Uint8Array;
  private readonly startedAtNs = BigInt(Date.now()) * 1_000_000n;
  private seq = 0n;
  private ws: WebSocket | null = null;
  private heartbeatMs: number;
  private url: string;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Aborts when the current connection closes: long requests (log follows) on it stop. */
  private sessionEnded: AbortSignal = AbortSignal.abort();

  constructor(
    private readonly opts: CompiledAgentOptions,
    private readonly deps: ConnectionDeps,
  ) {
    this.identity = deps.identity.loadOrCreate();
    this.uid = uuidStringToBytes(this.identity.instanceUid);
    this.heartbeatMs = opts.heartbeatMs;
    this.url = opts.opampUrl;
    deps.services?.on('health', () => this.scheduleHealthReport());
    deps.upgrader?.on('status', () => this.send({ packageStatuses: this.packageStatuses() }));
  }

  private healthTimer: NodeJS.Timeout | null = null;

  /** Service state changes come in bursts: report the health tree at most every 100 ms. */
  private scheduleHealthReport(): void {
    this.healthTimer ??= setTimeout(() => {
      this.healthTimer = null;
      const files = this.effectiveFiles();
      const changed = JSON.stringify(files) !== this.lastEffective;
      this.send({ health: this.health(), packageStatuses: this.packageStatuses(), ...(changed ? { effectiveConfig: this.effectiveConfig(files) } : {}) });
    }, 100);
  }

  private health(): Init['health'] {
    const now = BigInt(Date.now()) * 1_000_000n;
    const componentHealthMap: Record<string, NonNullable<Init['health']>> = {};
    for (const [name, h] of Object.entries(this.deps.services?.health() ?? {})) {
      componentHealthMap[name] = {
        healthy: h.healthy,
        status: h.status,
        lastError: h.lastError,
        startTimeUnixNano: BigInt(h.startTimeMs) * 1_000_000n,
        statusTimeUnixNano: now,
        ...(h.installFailed ? { componentHealthMap: { [INSTALL_COMPONENT]: { healthy: false, status: installFailedStatus(h.installFailed.revision), lastError: h.installFailed.error, statusTimeUnixNano: now } } } : {}),
      };
    }
    return { healthy: true, startTimeUnixNano: this.startedAtNs, status: 'running', statusTimeUnixNano: now, componentHealthMap };
  }

  private packageStatuses(): Init['packageStatuses'] {
    const packages: Record<string, MessageInitShape<typeof PackageStatusSchema>> = {};
    for (const [name, p] of Object.entries(this.deps.services?.packageStates() ?? {})) {
      packages[name] = {
        name,
        agentHasVersion: p.hasVersion,
        agentHasHash: Buffer.from(p.hasSha256, 'hex'),
        serverOfferedVersion: p.offeredVersion,
        serverOfferedHash: Buffer.from(p.offeredSha256, 'hex'),
        status: PACKAGE_STATUS[p.status],
        errorMessage: p.error,
        ...(p.downloadPercent !== null ? { downloadDetails: { downloadPercent: p.downloadPercent } } : {}),
      };
    }
    const own = this.deps.upgrader?.status();
    if (own) {
      packages[own.name] = {
        name: own.name,
        agentHasVersion: own.hasVersion,
        agentHasHash: Buffer.from(own.hasHash, 'hex'),
        serverOfferedVersion: own.offeredVersion,
        serverOfferedHash: Buffer.from(own.offeredHash, 'hex'),
        status: PACKAGE_STATUS[own.status],
        errorMessage: own.error,
        ...(own.downloadPercent !== null ? { downloadDetails: { downloadPercent: own.downloadPercent } } : {}),
      };
    }
    return { packages, serverProvidedAllPackagesHash: Buffer.from(this.deps.upgrader?.allPackagesHash ?? '', 'hex') };
  }

  /** Where artifacts download from, with what credential, checked against which key. */
  downloadTarget(): DownloadTarget {
    return {
      baseUrl: this.url.replace(/^ws/, 'http').replace(/\/v1\/opamp$/, ''),
      credential: this.identity.credential ?? this.opts.token,
      signingKeyPem: this.identity.signingKeyPem ?? null,
    };
  }

  /** Converges services to the deployments in the config in effect (also at start, without a server). */
  reconcileServices(): Promise<void> {
    return this.deps.services?.reconcile(deploymentSpecs(this.deps.remoteConfig.state)) ?? Promise.resolve();
  }

  get instanceUid(): string {
    return this.identity.instanceUid;
  }

  start(): void {
    this.loop ??= this.run();
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const began = Date.now();
      const outcome = await this.session();
      if (this.stopped) break;
      if (outcome.reconnectNow) {
        attempt = 0;
        continue;
      }
      if (Date.now() - began >= STABLE_MS || outcome.exchanged) attempt = 0;
      const refused = outcome.status !== undefined && REFUSED_STATUSES.has(outcome.status);
      const delay = refused
        ? this.opts.backoff.maxMs
        : nextDelayMs(attempt++, this.opts.backoff, this.deps.random ?? Math.random, (outcome.retryAfterSeconds ?? 0) * 1000);
      this.deps.log.info({ delayMs: delay }, 'reconnecting after delay');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  /** One connection attempt, until it closes. */
  private session(): Promise<{ status?: number; retryAfterSeconds?: number; reconnectNow?: boolean; exchanged?: boolean }> {
    return new Promise((resolve) => {
      const token = this.identity.credential ?? this.opts.token;
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const ws = (this.deps.openSocket ?? ((u, h) => new WebSocket(u, { headers: h, perMessageDeflate: false, handshakeTimeout: 10_000 })))(this.url, headers);
      this.ws = ws;
      const ended = new AbortController();
      this.sessionEnded = ended.signal;
      let heartbeat: NodeJS.Timeout | null = null;
      const result: { status?: number; retryAfterSeconds?: number; reconnectNow?: boolean; exchanged?: boolean } = {};
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        if (heartbeat) clearInterval(heartbeat);
        this.ws = null;
        ended.abort();
        resolve(result);
      };
      const startHeartbeat = () => {
        if (heartbeat) clearInterval(heartbeat);
        heartbeat = setInterval(() => this.send({}), this.heartbeatMs);
      };

      ws.on('unexpected-response', (_req, res) => {
        result.status = res.statusCode;
        const retryAfter = Number(res.headers['retry-after']);
        if (Number.isFinite(retryAfter) && retryAfter > 0) result.retryAfterSeconds = retryAfter;
        // The body says why (e.g. "enrollment token rack-4 (…) expired at …"): log it, at most 300 characters of it.
        let reason = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (reason = (reason + chunk).slice(0, 300)));
        res.once('close', () => {
          const fields = { status: res.statusCode, reason: reason.trim() };
          if (res.statusCode !== undefined && REFUSED_STATUSES.has(res.statusCode)) {
            this.deps.log.error({ ...fields, usingCredential: this.identity.credential !== null }, 'server refused our credential or token (401/403): agent revoked, token invalid, expired or full');
          } else {
            this.deps.log.warn({ ...fields, retryAfter: result.retryAfterSeconds }, 'server refused the connection');
          }
          ws.terminate();
          finish();
        });
      });
      let sampling: NodeJS.Timeout | null = null;
      ws.on('open', () => {
        this.deps.log.info({ url: this.url }, 'connected');
        this.sendFullState();
        startHeartbeat();
        const sampler = this.deps.sampler;
        if (sampler) {
          sampling = setInterval(() => {
            const sample = sampler.sample(this.deps.services?.pids() ?? []);
            this.send({ customMessage: { capability: SAMPLES_CAPABILITY, type: SAMPLES_TYPE, data: encodeJson(sample) } });
          }, this.opts.sampleMs);
        }
      });
      ws.once('close', () => {
        if (sampling) clearInterval(sampling);
      });
      ws.on('message', (data: Buffer) => {
        result.exchanged = true;
        let msg: ServerToAgent;
        try {
          msg = decodeServerToAgent(decodeWsFrame(new Uint8Array(data)));
        } catch (err) {
          this.deps.log.warn({ err }, 'ignoring malformed message from server');
          return;
        }
        const before = this.heartbeatMs;
        if (this.onMessage(msg, result)) {
          ws.close(1000, 'reconnecting with new settings');
        } else if (this.heartbeatMs !== before) startHeartbeat();
      });
      ws.on('close', (code, reason) => {
        if (!this.stopped) this.deps.log.warn({ code, reason: reason.toString() }, 'disconnected');
        finish();
      });
      ws.on('error', (err) => {
        this.deps.log.warn({ err: err.message, url: this.url }, 'connection failed');
        finish();
      });
    });
  }

  /** Handles one ServerToAgent; returns true when the connection must be re-made. */
  private onMessage(msg: ServerToAgent, result: { reconnectNow?: boolean }): boolean {
    if (msg.errorResponse) {
      this.deps.log.error({ type: msg.errorResponse.type, message: msg.errorResponse.errorMessage }, 'server reported an error');
      return false;
    }
    this.deps.upgrader?.connected();
    if ((msg.flags & BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState)) !== 0n) this.sendFullState();
    const signingKey = msg.connectionSettings?.otherConnections[SIGNING_CONNECTION]?.otherSettings[SIGNING_KEY_SETTING];
    if (signingKey) this.pinSigningKey(signingKey);
    const opamp = msg.connectionSettings?.opamp;
    if (opamp) {
      if (opamp.heartbeatIntervalSeconds > 0n) this.heartbeatMs = Number(opamp.heartbeatIntervalSeconds) * 1000;
      const auth = opamp.headers?.headers.find((h) => h.key.toLowerCase() === 'authorization');
      const credential = auth ? /^Bearer\s+(\S+)$/i.exec(auth.value)?.[1] : undefined;
      if (opamp.destinationEndpoint) this.url = opamp.destinationEndpoint;
      if (credential && credential !== this.identity.credential) {
        this.identity = { ...this.identity, credential };
        this.deps.identity.save(this.identity);
        this.deps.log.info('enrolled: stored our credential, reconnecting with it');
        result.reconnectNow = true;
        return true;
      }
    }
    if (msg.remoteConfig) this.applyRemoteConfig(msg);
    if (msg.packagesAvailable) this.deps.upgrader?.offer(msg.packagesAvailable);
    if (msg.customMessage) void this.onCustomMessage(msg.customMessage.capability, msg.customMessage.type, msg.customMessage.data);
    return false;
  }

  /** Answers a custom request; every request gets a reply, errors included. */
  private async onCustomMessage(capability: string, type: string, data: Uint8Array): Promise<void> {
    const handler = this.deps.custom?.[capability];
    if (!handler || type !== REQUEST_TYPE) {
      this.deps.log.warn({ capability, type }, 'ignoring custom message we do not handle');
      return;
    }
    let id = '';
    let reply: Record<string, unknown>;
    const signal = this.sessionEnded;
    try {
      const request = decodeJsonObject(data);
      id = typeof request.id === 'string' ? request.id : '';
      reply = { id, ok: true, ...(await handler(request, (chunk) => this.send({ customMessage: { capability, type: PROGRESS_TYPE, data: encodeJson({ ...chunk, id }) } }), signal)) };
    } catch (e) {
      reply = { id, ok: false, error: (e as Error).message };
    }
    this.send({ customMessage: { capability, type: REPLY_TYPE, data: encodeJson(reply) } });
  }

  /** Trust on first use: the key from enrollment is kept; a different one later is refused. */
  private pinSigningKey(pem: string): void {
    if (this.identity.signingKeyPem === pem) return;
    if (this.identity.signingKeyPem) {
      this.deps.log.error('server offered a different package-signing key; keeping the pinned one (re-enroll the agent to change it)');
      return;
    }
    this.identity = { ...this.identity, signingKeyPem: pem };
    this.deps.identity.save(this.identity);
    this.deps.log.info('pinned the server package-signing key');
  }

  private applyRemoteConfig(msg: ServerToAgent): void {
    const offer = msg.remoteConfig!;
    const hash = Buffer.from(offer.configHash).toString('hex');
    const rc = this.deps.remoteConfig;
    if (hash === rc.state.hash && rc.state.status !== 'APPLYING') {
      this.send({ remoteConfigStatus: this.remoteConfigStatus() });
      return;
    }
    rc.begin(hash);
    this.send({ remoteConfigStatus: this.remoteConfigStatus() });
    const state = rc.apply(hash, offer.config?.configMap ?? {});
    if (state.status === 'FAILED') this.deps.log.warn({ hash, error: state.errorMessage }, 'remote config rejected');
    else this.deps.log.info({ hash, files: Object.keys(state.applied) }, 'remote config applied');
    this.send({ remoteConfigStatus: this.remoteConfigStatus(), effectiveConfig: this.effectiveConfig() });
    if (state.status === 'APPLIED') void this.reconcileServices();
  }

  private remoteConfigStatus(): Init['remoteConfigStatus'] {
    const s = this.deps.remoteConfig.state;
    return { lastRemoteConfigHash: Buffer.from(s.hash, 'hex'), status: STATUS[s.status], errorMessage: s.errorMessage };
  }

  /** The effective config last sent, as text, so a health report carries it only when it changed. */
  private lastEffective = '';

  /**
   * What is in effect: the applied config files, except that a deployment's
   * file is the spec its service actually runs (revision included) — the
   * server's rollouts read it to know an agent has converged — and absent
   * while no version of it is installed.
   */
  private effectiveFiles(): Record<string, { body: string; contentType: string }> {
    const files: Record<string, { body: string; contentType: string }> = {};
    for (const [name, f] of Object.entries(this.deps.remoteConfig.state.applied)) {
      if (f.contentType !== DEPLOYMENT_CONTENT_TYPE || !this.deps.services) files[name] = f;
    }
    for (const spec of this.deps.services?.inEffect() ?? []) {
      files[deploymentFileName(spec.name)] = { body: JSON.stringify(spec), contentType: DEPLOYMENT_CONTENT_TYPE };
    }
    return files;
  }

  /** The effective config message; remembers it as the last one sent. */
  private effectiveConfig(files = this.effectiveFiles()): Init['effectiveConfig'] {
    this.lastEffective = JSON.stringify(files);
    const configMap: Record<string, { body: Uint8Array; contentType: string }> = {};
    for (const [name, f] of Object.entries(files)) configMap[name] = { body: Buffer.from(f.body), contentType: f.contentType };
    return { configMap: { configMap } };
  }

  private sendFullState(): void {
    const { identifying, nonIdentifying } = describeAgent({ instanceUid: this.identity.instanceUid, name: this.opts.name, labels: this.opts.labels });
    this.send({
      agentDescription: { identifyingAttributes: recordToKeyValues(identifying), nonIdentifyingAttributes: recordToKeyValues(nonIdentifying) },
      health: this.health(),
      effectiveConfig: this.effectiveConfig(),
      remoteConfigStatus: this.remoteConfigStatus(),
      packageStatuses: this.packageStatuses(),
      customCapabilities: { capabilities: [...Object.keys(this.deps.custom ?? {}), ...(this.deps.sampler ? [SAMPLES_CAPABILITY] : [])] },
    });
  }

  private send(fields: Init): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const msg: AgentToServer = create(AgentToServerSchema, { ...fields, instanceUid: this.uid, sequenceNum: this.seq++, capabilities: AGENT_CAPABILITIES });
    ws.send(encodeWsFrame(encodeAgentToServer(msg)));
  }

  /** Says goodbye (AgentDisconnect), closes, and ends the reconnect loop. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    const ws = this.ws;
    if (ws && ws.readyState === WebSocket.OPEN) {
      this.send({ agentDisconnect: {} });
      const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
      ws.close(1000, 'agent stopping');
      await Promise.race([closed, new Promise((r) => setTimeout(r, 2000).unref())]);
    } else {
      ws?.terminate();
    }
    await this.loop;
  }
}
