/**
 * The live side of the fleet in this server process: sessions of connected
 * agents, the OpAMP message handling, heartbeat bookkeeping, the offline
 * sweep, and pushing new offers when desired state changes.
 *
 * Durable facts go to the store; the hub keeps only what a replica needs to
 * talk to its own connections. Changes made on another replica reach this one
 * through a version counter in the store (`fleet.version`), polled.
 */
import { SYSTEM_ACTOR } from '../auth/actor.js';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  AgentCapabilities,
  PROGRESS_TYPE,
  REPLY_TYPE,
  SAMPLES_CAPABILITY,
  SAMPLES_TYPE,
  ServerCapabilities,
  ServerToAgentFlags,
  ServerToAgentSchema,
  create,
  uuidBytesToString,
  type AgentToServer,
  type ServerToAgent,
} from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { AgentRevokedError, AgentUnavailableError } from '../errors.js';
import type { Clock } from '../clock.js';
import { generateSecret, hashSecret } from '../auth/tokens.js';
import { admitNewAgent } from '../auth/enrollment-scope.js';
import { selectableAttributes } from '../fleet/agent-labels.js';
import { compileDesiredState, loadDesiredState, type DesiredState } from '../fleet/desired-state.js';
import { patchHasNews, reportPatch } from './report.js';
import { scrubEffectiveConfig } from '../secrets/effective-config-scrub.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { ReportBuffer } from './report-buffer.js';
import type { SampleHistory } from '../fleet/sample-history.js';
import { connectionSettingsOffer } from './offers.js';
import { answerCertificateRequest } from './certificate-requests.js';
import type { AgentCa } from '../agent-ca.js';
import { errorReply, guardIdentity, reassignedReply } from './identity-guard.js';
import { TOKEN_REVOKED_CLOSE_CODE, sessionsOfRevokedTokens } from './token-sessions.js';
import { offeredArtifacts, ownPackageOf } from './offered-artifacts.js';
import { classifySequence, noteReportedConfig, pendingConfigOffer, pendingPackagesOffer, startOver } from './offer-state.js';
import { loadAgentDeployments, type AgentPackageDeployment } from './package-offer.js';
import { artifactBaseUrl, offeredOpampEndpoint } from './endpoint.js';
import { CustomRequests } from './custom-requests.js';
import { CredentialRotation } from './credential-rotation.js';
import type { Principal, Session, Transport } from './session.js';
import { checkAgentMessage } from './message-bounds.js';
import { recordServiceChanges } from './service-events.js';
import type { EventSink } from './agent-event-budget.js';

export const SERVER_CAPABILITIES =
  BigInt(ServerCapabilities.ServerCapabilities_AcceptsStatus) |
  BigInt(ServerCapabilities.ServerCapabilities_OffersRemoteConfig) |
  BigInt(ServerCapabilities.ServerCapabilities_AcceptsEffectiveConfig) |
  BigInt(ServerCapabilities.ServerCapabilities_OffersPackages) |
  BigInt(ServerCapabilities.ServerCapabilities_AcceptsPackagesStatus) |
  BigInt(ServerCapabilities.ServerCapabilities_OffersConnectionSettings);

const ACCEPTS_REMOTE_CONFIG = BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig);
const ACCEPTS_OPAMP_SETTINGS = BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings);
const ACCEPTS_PACKAGES = BigInt(AgentCapabilities.AgentCapabilities_AcceptsPackages);
const FLEET_VERSION_KEY = 'fleet.version';
/** How long status reports may wait to be written in one batch. */
const REPORT_FLUSH_MS = 100;

export interface HubOptions {
  heartbeatMs: number;
  /** An agent is offline after this long without a message. */
  offlineAfterMs: number;
  /** The server's --public-url (http(s)://host[:port][/prefix]); null: agents keep the URL they dialled. */
  publicUrl: string | null;
  /** How often another replica's changes are looked for. */
  pollMs: number;
  /** Offered to enrolling agents, which verify package signatures with it. */
  signingPublicKeyPem: string;
  /** New agents wait as `pending` until an operator approves them (default false). */
  requireApproval?: boolean;
  /** How long a credential replaced by a rotation is still accepted. */
  credentialGraceMs: number;
}

export interface HubDeps {
  store: Store;
  clock: Clock;
  log: Logger;
  /** Where events caused by agents go (server.ts passes a per-agent AgentEventBudget). */
  events: EventSink;
  onMessage?: (direction: 'in' | 'out', transport: Transport) => void;
  /** Where agents' resource samples go. */
  samples?: SampleHistory;
  /** A new agent is about to be created with an enrollment token: throws RateLimitedError to refuse it for now. */
  admitEnrollment?: (tokenId: string, address: string | undefined) => void;
  /** Agent reports were written to the store (rollouts look at them). */
  onReportsStored?: () => void;
  /** Signs agents' CSRs (--agent-ca-cert); absent: certificate requests are refused. */
  agentCa?: AgentCa | null;
  /** Opens secret values and config files for the agents they are offered to; null: the server has no secrets key. */
  secrets: SecretBox | null;
}

export class AgentHub {
  /** Live sessions by agent id (WebSocket and recent HTTP agents). */
  private readonly sessions = new Map<string, Session>();
  private desired: DesiredState = compileDesiredState({ configs: [], deployments: [], revisions: [], packages: [], agentRevisions: [] });
  private agentPackages: AgentPackageDeployment[] = [];
  /** The refresh running now (or done), and the one queued behind it (see refresh). */
  private refreshing: Promise<void> = Promise.resolve();
  private queuedRefresh: { agentIds: Set<string> | null; done: Promise<void> } | null = null;
  private fleetVersion: string | null = null;
  private syncing: Promise<void> | null = null;
  private readonly reports: ReportBuffer;
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private readonly rotation: CredentialRotation;
  private readonly requests: CustomRequests;

  constructor(
    private readonly opts: HubOptions,
    private readonly deps: HubDeps,
  ) {
    this.reports = new ReportBuffer(deps.store);
    this.requests = new CustomRequests({ log: deps.log, baseReply: (s) => this.baseReply(s), sent: (s) => deps.onMessage?.('out', s.transport) });
    this.rotation = new CredentialRotation(
      { graceMs: opts.credentialGraceMs, heartbeatMs: opts.heartbeatMs, signingPublicKeyPem: opts.signingPublicKeyPem, publicUrl: opts.publicUrl },
      { store: deps.store, clock: deps.clock, events: deps.events, log: deps.log, reply: (s) => this.baseReply(s), sent: (s) => deps.onMessage?.('out', s.transport) },
    );
  }

  async start(): Promise<void> {
    await this.reloadConfigs();
    this.fleetVersion = await this.deps.store.getMeta(FLEET_VERSION_KEY);
    const sweepMs = Math.max(50, Math.min(1000, Math.floor(this.opts.offlineAfterMs / 4)));
    this.every(sweepMs, () => this.flushAndSweep());
    this.every(this.opts.pollMs, () => this.pollFleetVersion());
    this.every(REPORT_FLUSH_MS, async () => {
      if ((await this.reports.flush()) > 0) this.deps.onReportsStored?.();
    });
  }

  private every(ms: number, fn: () => Promise<void>): void {
    let running = false;
    const t = setInterval(() => {
      if (running || this.closed) return;
      running = true;
      fn()
        .catch((err: unknown) => this.deps.log.error({ err }, 'background task failed'))
        .finally(() => {
          running = false;
        });
    }, ms);
    t.unref();
    this.timers.push(t);
  }

  get connectedCount(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.transport === 'ws' && !s.superseded) n++;
    return n;
  }

  /**
   * Handles one AgentToServer and returns the reply. `bound` is the session
   * the transport already has for this connection (WebSocket), if any.
   * Throws AgentRevokedError when the agent is revoked: the transport then
   * refuses it (401 / close).
   */
  async handle(
    msg: AgentToServer,
    ctx: { transport: Transport; principal: Principal; origin?: string; bound?: Session | undefined; attach?: (s: Session) => void; address?: string },
  ): Promise<{ reply: ServerToAgent; session: Session | null }> {
    this.deps.onMessage?.('in', ctx.transport);
    const result = await this.process(msg, ctx);
    // Every message gets exactly one reply, which the transport sends.
    this.deps.onMessage?.('out', ctx.transport);
    return result;
  }

  private async process(
    msg: AgentToServer,
    ctx: { transport: Transport; principal: Principal; origin?: string; bound?: Session | undefined; attach?: (s: Session) => void; address?: string },
  ): Promise<{ reply: ServerToAgent; session: Session | null }> {
    if (msg.instanceUid.length !== 16) {
      return { reply: errorReply(msg.instanceUid, `instance_uid must be 16 bytes, got ${msg.instanceUid.length}`), session: null };
    }
    const agentId = uuidBytesToString(msg.instanceUid);
    if (ctx.principal.kind === 'agent' && ctx.principal.agentId !== agentId) {
      return { reply: errorReply(msg.instanceUid, 'instance_uid does not belong to this credential'), session: null };
    }
    if (ctx.bound && ctx.bound.agentId !== agentId) {
      return { reply: errorReply(msg.instanceUid, 'one agent per connection: instance_uid changed'), session: null };
    }
    const violation = checkAgentMessage(msg);
    if (violation) {
      this.deps.events.record('agent.message_refused', agentId, { limit: violation.limit, error: violation.message });
      return { reply: errorReply(msg.instanceUid, `message refused, nothing of it was stored: ${violation.message}`), session: null };
    }

    const now = this.deps.clock.now();
    let session = ctx.bound ?? (ctx.transport === 'http' ? this.sessions.get(agentId) : undefined);
    let needFullState = false;
    const patch = reportPatch(msg);
    // What the agent echoes of secrets is masked before it is stored (server/secrets/effective-config-scrub.ts).
    if (patch.effectiveConfig) patch.effectiveConfig = scrubEffectiveConfig(patch.effectiveConfig, this.desired.secrets);
    const checked = await guardIdentity(this.deps.store, ctx, agentId);
    if (checked.refused) {
      this.deps.log.warn({ agentId }, "enrollment token presented an enrolled agent's instance uid: assigned a new uid");
      return { reply: reassignedReply(msg.instanceUid, SERVER_CAPABILITIES), session: null };
    }
    if (session && ctx.transport === 'http' && session.transport === 'http') session.principal = ctx.principal;

    if (!session) {
      const known = checked.known !== undefined ? checked.known : await this.deps.store.getAgent(agentId);
      if (known?.status === 'revoked') throw new AgentRevokedError(agentId);
      // Its credential named it when it authenticated; since then it was deleted (forgotten, or revoked and deleted):
      // refused like a revoked agent, rather than brought back as a row without credential or trusted labels.
      if (!known && ctx.principal.kind === 'agent') throw new AgentRevokedError(agentId);
      if (!known && ctx.principal.kind === 'enrollment') this.deps.admitEnrollment?.(ctx.principal.tokenId, ctx.address);
      // A new agent on an enrollment token is created here, with the token's labels bound, before anything is offered.
      if (!known && ctx.principal.kind === 'enrollment') await admitNewAgent(this.deps.store, ctx.principal, agentId, now, this.opts.requireApproval ?? false);
      session = this.newSession(agentId, msg.instanceUid, ctx.transport, ctx.principal, ctx.origin ?? '');
      if (known) {
        session.operatorLabels = known.labels;
        session.attributes = selectableAttributes(known);
        session.pendingApproval = known.approval === 'pending';
        session.reportedConfigHash = known.remoteConfigStatus?.hash ?? null;
        session.capabilities = BigInt(known.capabilities);
        session.lastSeq = BigInt(known.lastSequenceNum);
        // Written again on the first message of every connection: an older connection's close may have marked it offline meanwhile.
        session.online = false;
        // Continue from what the store knows, so a reconnect does not repeat service events.
        for (const [name, c] of Object.entries(known.health?.components ?? {})) session.services[name] = `${c.status}/${c.healthy ? 'healthy' : 'unhealthy'}`;
      }
      needFullState = !msg.agentDescription && (!known || Object.keys(known.identifyingAttributes).length === 0);
      ctx.attach?.(session);
      this.adopt(session);
    }

    this.rotation.onPrincipal(session, ctx.principal);
    const step = classifySequence(session.lastSeq, msg.sequenceNum);
    if (!needFullState && !msg.agentDescription && (step === 'gap' || step === 'restart')) needFullState = true;
    startOver(session, step, patch);
    const capabilitiesChanged = msg.capabilities !== session.capabilities;
    session.capabilities = msg.capabilities;
    session.lastSeq = msg.sequenceNum;
    session.lastSeenAt = now;

    const describes = patch.identifyingAttributes !== undefined || patch.nonIdentifyingAttributes !== undefined;
    if (!session.online || describes) {
      // Creating the agent or changing what selectors see: write now and re-read labels.
      if (this.reports.has(agentId)) await this.reports.flush();
      const record = await this.deps.store.upsertAgentReport(agentId, patch, now);
      session.operatorLabels = record.labels;
      session.attributes = selectableAttributes(record);
      session.pendingApproval = record.approval === 'pending';
    } else if (patchHasNews(patch) || capabilitiesChanged) {
      this.reports.add(agentId, patch, now);
    }
    if (patch.health) recordServiceChanges(this.deps.events, session, patch.health.components);
    if (msg.customCapabilities) session.customCapabilities = [...msg.customCapabilities.capabilities];
    if (msg.customMessage?.type === REPLY_TYPE) this.requests.onReply(agentId, msg.customMessage.data);
    if (msg.customMessage?.type === PROGRESS_TYPE) this.requests.onProgress(agentId, msg.customMessage.data);
    if (msg.customMessage?.capability === SAMPLES_CAPABILITY && msg.customMessage.type === SAMPLES_TYPE) {
      if (!this.deps.samples?.add(agentId, msg.customMessage.data)) this.deps.log.debug({ agentId }, 'dropped a malformed resource sample');
    }
    if (msg.packageStatuses) session.reportedPackagesHash = Buffer.from(msg.packageStatuses.serverProvidedAllPackagesHash).toString('hex');
    if (patch.remoteConfigStatus) {
      noteReportedConfig(session, patch.remoteConfigStatus.hash);
      if (patch.remoteConfigStatus.status === 'FAILED') {
        this.deps.events.record('agent.config_failed', agentId, {
          hash: patch.remoteConfigStatus.hash,
          error: patch.remoteConfigStatus.errorMessage,
        });
      }
    }
    if (msg.connectionSettingsStatus) this.rotation.onStatus(agentId, msg.connectionSettingsStatus);
    session.touchPending = true;

    if (msg.agentDisconnect) {
      await this.goOffline(session, 'agent disconnected');
      if (ctx.transport === 'http') this.sessions.delete(agentId);
      return { reply: this.baseReply(session), session };
    }
    if (!session.online) {
      if (await this.deps.store.setAgentStatus(agentId, 'online', now)) {
        this.deps.events.record('agent.online', agentId, { transport: ctx.transport, ...(ctx.principal.kind === 'agent' && ctx.principal.clientCertificate ? { clientCertificate: true } : {}) });
      }
      session.online = true;
    }

    const reply = this.baseReply(session);
    if (needFullState) reply.flags |= BigInt(ServerToAgentFlags.ServerToAgentFlags_ReportFullState);
    // A pending agent waits on its enrollment token: nothing is offered until it is approved.
    if (session.pendingApproval) return { reply, session };
    if (ctx.principal.kind === 'enrollment' && !session.credentialOffered && (msg.capabilities & ACCEPTS_OPAMP_SETTINGS) !== 0n) {
      const credential = generateSecret('agent');
      session.credentialOffered = true;
      // Only the first credential of an agent is set here; a concurrent enrollment of the same uid loses.
      if (await this.deps.store.claimAgentCredential(agentId, hashSecret(credential))) {
        reply.connectionSettings = connectionSettingsOffer(credential, {
          endpoint: offeredOpampEndpoint(this.opts.publicUrl, ctx.transport),
          heartbeatMs: this.opts.heartbeatMs,
          signingPublicKeyPem: this.opts.signingPublicKeyPem,
        });
        this.deps.events.record('agent.enrolled', agentId, { tokenId: ctx.principal.tokenId });
      }
    } else if ((msg.capabilities & ACCEPTS_OPAMP_SETTINGS) !== 0n) {
      const settings = await this.rotation.onMessage(session);
      if (settings) reply.connectionSettings = settings;
    }
    if (msg.connectionSettingsRequest) await answerCertificateRequest({ ca: this.deps.agentCa ?? null, events: this.deps.events, log: this.deps.log }, msg, ctx.principal, agentId, reply);
    const offer = this.pendingConfigOffer(session);
    if (offer) reply.remoteConfig = offer;
    const packages = this.pendingPackagesOffer(session);
    if (packages) reply.packagesAvailable = packages;
    return { reply, session };
  }

  /**
   * Sends a custom request to a connected agent and waits for its reply
   * (custom-requests.ts). Throws AgentUnavailableError when the agent is not
   * connected here over WebSocket, is waiting for approval or does not handle
   * the capability; AgentTimeoutError on timeout or past `opts.deadlineMs`.
   */
  async request(
    agentId: string,
    capability: string,
    payload: Record<string, unknown>,
    timeoutMs = 10_000,
    progress?: (chunk: Record<string, unknown>) => void,
    opts: { deadlineMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    return this.requests.request(this.requestable(agentId, capability), capability, payload, timeoutMs, progress, opts);
  }

  /**
   * Sends a custom request that runs until the agent replies, however long
   * that is (a log follow): no timeout, progress to `onProgress`. `done`
   * resolves with the reply, or rejects with AgentUnavailableError when the
   * connection it went out on closes first (or the server shuts down). Throws
   * as `request` does when the agent cannot be asked.
   */
  openStream(
    agentId: string,
    capability: string,
    payload: Record<string, unknown>,
    onProgress: (chunk: Record<string, unknown>) => void,
  ): { id: string; done: Promise<Record<string, unknown>> } {
    return this.requests.openStream(this.requestable(agentId, capability), capability, payload, onProgress);
  }

  /** The session a custom request to `agentId` goes out on, or why there is none. */
  private requestable(agentId: string, capability: string): Session {
    const s = this.sessions.get(agentId);
    if (!s?.send || s.superseded) throw new AgentUnavailableError(agentId, 'is not connected to this server over WebSocket');
    if (s.pendingApproval) throw new AgentUnavailableError(agentId, 'is waiting for approval (corral agent approve)');
    if (!s.customCapabilities.includes(capability)) throw new AgentUnavailableError(agentId, `does not support ${capability}`);
    return s;
  }

  private newSession(agentId: string, instanceUid: Uint8Array, transport: Transport, principal: Principal, origin: string): Session {
    return {
      agentId,
      instanceUid: new Uint8Array(instanceUid),
      transport,
      principal,
      origin,
      lastSeq: null,
      lastSeenAt: this.deps.clock.now(),
      touchPending: false,
      online: false,
      capabilities: 0n,
      operatorLabels: {},
      attributes: {},
      offeredConfigHash: null,
      reportedConfigHash: null,
      offeredPackagesHash: null,
      reportedPackagesHash: null,
      capabilitiesSent: false,
      credentialOffered: false,
      services: {},
      customCapabilities: [],
      superseded: false,
    };
  }

  /** Makes `session` the agent's current one, closing an older connection. */
  private adopt(session: Session): void {
    const old = this.sessions.get(session.agentId);
    if (old && old !== session) {
      old.superseded = true;
      old.close?.(4000, 'replaced by a newer connection');
    }
    this.sessions.set(session.agentId, session);
  }

  private baseReply(session: Session): ServerToAgent {
    const reply = create(ServerToAgentSchema, { instanceUid: session.instanceUid });
    // The first reply must carry capabilities; HTTP agents cannot tell which was first, so they always get them.
    if (!session.capabilitiesSent || session.transport === 'http') {
      reply.capabilities = SERVER_CAPABILITIES;
      session.capabilitiesSent = true;
    }
    return reply;
  }

  /** The remote config to offer, if due. Agents matching the same configs share one merged result (one object per distinct set). */
  private pendingConfigOffer(session: Session) {
    return pendingConfigOffer(session, this.desired.forAgent(session.agentId, session.attributes).desired, (session.capabilities & ACCEPTS_REMOTE_CONFIG) !== 0n);
  }

  /** The agent's own package to offer, if due (see pendingPackagesOffer). */
  private pendingPackagesOffer(session: Session) {
    if ((session.capabilities & ACCEPTS_PACKAGES) === 0n) return undefined;
    const chosen = ownPackageOf(this.desired, this.agentPackages, session.agentId, session.attributes);
    return pendingPackagesOffer(session, chosen, artifactBaseUrl(this.opts.publicUrl, session.origin));
  }

  /** A WebSocket connection closed: the agent is offline at once, unless a newer connection took over. */
  async connectionClosed(session: Session, reason: string): Promise<void> {
    this.requests.dropStreams(session, 'disconnected');
    if (session.superseded || this.closed) return;
    if (this.sessions.get(session.agentId) === session) this.sessions.delete(session.agentId);
    await this.flushTouches([session]);
    // A newer connection of the same agent may have arrived meanwhile (e.g. right after enrolling): it is online.
    const current = this.sessions.get(session.agentId);
    if (session.superseded || this.closed || (current && current !== session)) return;
    await this.goOffline(session, reason);
  }

  private async goOffline(session: Session, reason: string): Promise<void> {
    session.online = false;
    if (await this.deps.store.setAgentStatus(session.agentId, 'offline', this.deps.clock.now())) {
      this.deps.events.record('agent.offline', session.agentId, { reason, actor: SYSTEM_ACTOR });
    }
  }

  private async flushTouches(sessions: Iterable<Session>): Promise<void> {
    const touches = [];
    for (const s of sessions) {
      if (!s.touchPending || s.lastSeq === null) continue;
      s.touchPending = false;
      touches.push({ id: s.agentId, lastSeenAt: s.lastSeenAt, lastSequenceNum: Number(s.lastSeq) });
    }
    // Marked offline elsewhere (another replica's sweep, a late close) while we still hear from it: its next message writes it online again.
    for (const id of touches.length > 0 ? await this.deps.store.touchAgents(touches) : []) {
      const s = this.sessions.get(id);
      if (s) s.online = false;
    }
  }

  private async flushAndSweep(): Promise<void> {
    await this.flushTouches(this.sessions.values());
    const now = this.deps.clock.now();
    const stale = await this.deps.store.markStaleAgentsOffline(now - this.opts.offlineAfterMs);
    for (const id of stale) {
      this.deps.events.record('agent.offline', id, { reason: 'missed heartbeats', actor: SYSTEM_ACTOR });
      const s = this.sessions.get(id);
      if (s) s.online = false;
    }
    // HTTP agents have no connection to close; forget them once they are stale.
    for (const [id, s] of this.sessions) {
      if (s.transport === 'http' && now - s.lastSeenAt > this.opts.offlineAfterMs) this.sessions.delete(id);
    }
  }

  private async reloadConfigs(): Promise<void> {
    [this.desired, this.agentPackages] = await Promise.all([loadDesiredState(this.deps.store, this.deps.secrets), loadAgentDeployments(this.deps.store)]);
  }

  /** Something an operator changed: refresh, push offers here, and tell other replicas. */
  async fleetChanged(change: { agentId?: string; revoked?: boolean; tokenRevoked?: boolean } = {}): Promise<void> {
    const version = randomUUID();
    this.fleetVersion = version;
    await this.deps.store.setMeta(FLEET_VERSION_KEY, version);
    await this.refresh(change.agentId ? [change.agentId] : undefined);
  }

  private async pollFleetVersion(): Promise<void> {
    const version = await this.deps.store.getMeta(FLEET_VERSION_KEY);
    if (version === this.fleetVersion) return;
    this.fleetVersion = version;
    await this.refresh();
  }

  /** Whether the artifact is offered to the agent now; a miss first picks up another replica's changes (see offered-artifacts.ts). */
  async offersArtifact(agentId: string, attributes: Record<string, string>, sha256: string): Promise<boolean> {
    const offered = () => offeredArtifacts(this.desired, this.agentPackages, agentId, attributes).has(sha256);
    if (offered()) return true;
    await (this.syncing ??= this.pollFleetVersion().finally(() => (this.syncing = null)));
    return offered();
  }

  /**
   * Refreshes run one at a time, each starting after the call that asked for
   * it, so what they read never goes back in time. (Run at once, an older
   * read could land last: on PostgreSQL their queries run on separate
   * connections, and a deploy's refresh and its rollout's overlap. The hub
   * then kept the old desired state, or an agent's old labels, until the
   * next change.) Calls made while one runs share the next: a burst of
   * changes costs two refreshes, not one each.
   */
  private refresh(agentIds?: string[]): Promise<void> {
    let queued = this.queuedRefresh;
    if (!queued) {
      const next: { agentIds: Set<string> | null; done: Promise<void> } = { agentIds: new Set(), done: Promise.resolve() };
      next.done = this.refreshing.then(() => {
        this.queuedRefresh = null;
        return this.refreshNow(next.agentIds ? [...next.agentIds] : undefined);
      });
      this.refreshing = next.done.catch(() => undefined);
      this.queuedRefresh = queued = next;
    }
    if (!agentIds) queued.agentIds = null;
    else for (const id of agentIds) queued.agentIds?.add(id);
    return queued.done;
  }

  /** Reloads configs and the given agents (all local ones by default), closes revoked ones, pushes new offers. */
  private async refreshNow(agentIds?: string[]): Promise<void> {
    if (this.closed) return;
    await this.reloadConfigs();
    const ids = agentIds ?? [...this.sessions.keys()];
    const records = agentIds
      ? await Promise.all(ids.map((id) => this.deps.store.getAgent(id)))
      : (await this.deps.store.listAgents()).filter((a) => this.sessions.has(a.id));
    for (const record of records) {
      const s = record && this.sessions.get(record.id);
      if (!s) continue;
      if (record.status === 'revoked') {
        this.endSession(s, 4001, 'agent revoked');
        this.deps.samples?.forget(record.id);
        continue;
      }
      s.operatorLabels = record.labels;
      s.attributes = selectableAttributes(record);
      s.pendingApproval = record.approval === 'pending';
    }
    await this.rotation.pushRequested((id) => this.sessions.get(id));
    for (const s of await sessionsOfRevokedTokens(this.deps.store, this.sessions.values())) this.endSession(s, TOKEN_REVOKED_CLOSE_CODE, 'enrollment token revoked');
    let pushed = 0;
    for (const s of this.sessions.values()) {
      if (!s.send || s.pendingApproval) continue;
      const offer = this.pendingConfigOffer(s);
      const packages = this.pendingPackagesOffer(s);
      if (!offer && !packages) continue;
      const msg = this.baseReply(s);
      if (offer) msg.remoteConfig = offer;
      if (packages) msg.packagesAvailable = packages;
      s.send(msg);
      this.deps.onMessage?.('out', s.transport);
      pushed++;
    }
    if (pushed > 0) this.deps.log.info({ pushed }, 'pushed config and package offers');
  }

  /** Forgets a session for good (its agent or token was revoked) and closes its connection. */
  private endSession(s: Session, code: number, reason: string): void {
    s.superseded = true;
    this.reports.forget(s.agentId);
    this.sessions.delete(s.agentId);
    s.close?.(code, reason);
  }

  /** Stops timers, writes pending heartbeats and closes every connection (1001). */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    await this.flushTouches(this.sessions.values());
    await this.reports.flush();
    for (const s of this.sessions.values()) s.close?.(1001, 'server shutting down');
    this.requests.dropStreams(null, 'is unreachable: the server is shutting down');
    this.sessions.clear();
  }
}
