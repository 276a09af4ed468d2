/**
 * What the agent does with its OpAMP connection (the callbacks side, as in
 * opamp-go): full state on connect, health and package statuses, remote
 * config, the agent's own package offers, custom messages, resource
 * samples, and the package-signing key pinned at enrollment. The transport,
 * reconnects and credentials are the OpAMP client's (opamp-client.ts).
 */
import type { Logger } from 'pino';
import {
  AgentCapabilities,
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
  decodeJsonObject,
  encodeJson,
  recordToKeyValues,
  type ServerToAgent,
} from '../protocol/index.js';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { INSTALL_COMPONENT, installFailedStatus } from '../protocol/index.js';
import type { CompiledAgentOptions } from './options.js';
import type { IdentityStore } from './identity.js';
import { ClientCertificate } from './client-certificate.js';
import { OpampClient, type AgentToServerInit as Init } from './opamp-client.js';
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
  BigInt(AgentCapabilities.AgentCapabilities_ReportsPackageStatuses) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsConnectionSettingsStatus);

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
}

export class AgentConnection {
  private readonly client: OpampClient;
  private readonly startedAtNs = BigInt(Date.now()) * 1_000_000n;
  private sampling: NodeJS.Timeout | null = null;
  private renewing: NodeJS.Timeout | null = null;
  /** --mtls: our client certificate; null without. */
  private readonly certificate: ClientCertificate | null;

  constructor(
    private readonly opts: CompiledAgentOptions,
    private readonly deps: ConnectionDeps,
  ) {
    const certificate = opts.mtls ? new ClientCertificate(opts.dataDir, deps.log.child({ component: 'mtls' })) : null;
    this.certificate = certificate;
    this.client = new OpampClient(
      {
        opampUrl: opts.opampUrl,
        token: opts.token,
        heartbeatMs: opts.heartbeatMs,
        backoff: opts.backoff,
        capabilities: AGENT_CAPABILITIES,
        trust: opts.trust,
        ...(certificate ? { clientCertificate: () => certificate.current } : {}),
      },
      { log: deps.log, identity: deps.identity, ...(deps.random ? { random: deps.random } : {}) },
      {
        onConnect: () => this.onConnect(),
        onDisconnect: () => this.onDisconnect(),
        onMessage: (msg) => this.onMessage(msg),
        onClientCertificate: (pem) => certificate?.accept(pem) ?? false,
        // A client certificate names the agent id: the old uid's is not presented under the new one.
        onInstanceUidChanged: () => certificate?.forget(),
        onConnectionSettings: (offers) => {
          const signingKey = offers.otherConnections[SIGNING_CONNECTION]?.otherSettings[SIGNING_KEY_SETTING];
          if (signingKey) this.pinSigningKey(signingKey);
        },
      },
    );
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
      baseUrl: this.client.currentUrl.replace(/^ws/, 'http').replace(/\/v1\/opamp$/, ''),
      credential: this.client.bearer,
      trust: this.opts.trust,
      signingKeyPem: this.client.identity.signingKeyPem ?? null,
    };
  }

  /** Converges services to the deployments in the config in effect (also at start, without a server). */
  reconcileServices(): Promise<void> {
    return this.deps.services?.reconcile(deploymentSpecs(this.deps.remoteConfig.state)) ?? Promise.resolve();
  }

  get instanceUid(): string {
    return this.client.instanceUid;
  }

  start(): void {
    this.client.start();
  }

  private onConnect(): void {
    this.sendFullState();
    if (this.certificate) {
      this.requestCertificate();
      // Cheap (a date comparison): renewal starts within a second of 2/3 of the lifetime.
      this.renewing = setInterval(() => this.requestCertificate(), 1000);
    }
    const sampler = this.deps.sampler;
    if (sampler) {
      this.sampling = setInterval(() => {
        const sample = sampler.sample(this.deps.services?.pids() ?? []);
        this.send({ customMessage: { capability: SAMPLES_CAPABILITY, type: SAMPLES_TYPE, data: encodeJson(sample) } });
      }, this.opts.sampleMs);
    }
  }

  /** Sends a CSR when one is due, over a connection authenticated with our own credential (never the enrollment token). */
  private requestCertificate(): void {
    const certificate = this.certificate;
    if (!certificate || this.client.identity.credential === null || !certificate.due()) return;
    certificate
      .csr(this.client.instanceUid)
      .then((csr) => {
        this.send({ connectionSettingsRequest: { opamp: { certificateRequest: { csr: Buffer.from(csr, 'utf8') } } } });
        this.deps.log.info({ renewing: certificate.current !== null }, 'sent a certificate signing request');
      })
      .catch((err: unknown) => this.deps.log.error({ err: (err as Error).message }, 'could not make a certificate signing request'));
  }

  private onDisconnect(): void {
    if (this.renewing) clearInterval(this.renewing);
    this.renewing = null;
    if (this.sampling) clearInterval(this.sampling);
    this.sampling = null;
  }

  /** Handles one ServerToAgent (not an error response; connection settings already taken by the client). */
  private onMessage(msg: ServerToAgent): void {
    this.deps.upgrader?.connected();
    if ((msg.flags & BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState)) !== 0n) this.sendFullState();
    if (msg.remoteConfig) this.applyRemoteConfig(msg);
    if (msg.packagesAvailable) this.deps.upgrader?.offer(msg.packagesAvailable);
    if (msg.customMessage) void this.onCustomMessage(msg.customMessage.capability, msg.customMessage.type, msg.customMessage.data);
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
    const signal = this.client.sessionSignal;
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
    const pinned = this.client.identity.signingKeyPem;
    if (pinned === pem) return;
    if (pinned) {
      this.deps.log.error('server offered a different package-signing key; keeping the pinned one (re-enroll the agent to change it)');
      return;
    }
    this.client.saveIdentity({ signingKeyPem: pem });
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
    const { identifying, nonIdentifying } = describeAgent({ instanceUid: this.client.instanceUid, name: this.opts.name, labels: this.opts.labels });
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
    this.client.send(fields);
  }

  /** Says goodbye (AgentDisconnect), closes, and ends the reconnect loop. */
  stop(): Promise<void> {
    if (this.healthTimer) clearTimeout(this.healthTimer);
    return this.client.stop();
  }
}
