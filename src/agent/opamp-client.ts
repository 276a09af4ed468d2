/**
 * The agent's OpAMP client, apart from what the agent does with offers (as
 * opamp-go splits its client from its callbacks): the WebSocket transport and
 * framing, sequence numbers, heartbeats, reconnecting with backoff, and the
 * OpAMP connection settings (credential, endpoint, heartbeat interval).
 *
 * Lifecycle of one attempt: 'connecting' → 'connected' → 'closed', then a
 * backoff delay ('waiting') and the next attempt; `stop()` ends the loop
 * after telling the server (AgentDisconnect). Everything else in a
 * ServerToAgent goes to `callbacks.onMessage`.
 */
import type { TLSSocket } from 'node:tls';
import WebSocket from 'ws';
import type { Logger } from 'pino';
import type { MessageInitShape } from '@bufbuild/protobuf';
import {
  AgentToServerSchema,
  ConnectionSettingsStatusSchema,
  ConnectionSettingsStatuses,
  create,
  decodeServerToAgent,
  decodeWsFrame,
  encodeAgentToServer,
  encodeWsFrame,
  uuidStringToBytes,
  type AgentToServer,
  type ConnectionSettingsOffers,
  type ConnectionSettingsStatus,
  type ServerToAgent,
} from '../protocol/index.js';
import { nextDelayMs, type BackoffPolicy } from './backoff.js';
import type { Identity, IdentityStore } from './identity.js';
import { judgeOfferedEndpoint } from './endpoint-policy.js';
import { dialTls, type ServerTrust } from './server-trust.js';
import { LogThrottle, REASSIGNMENT_LIMIT, ReassignmentBudget, judgeNewInstanceUid } from './uid-reassignment.js';

export type AgentToServerInit = MessageInitShape<typeof AgentToServerSchema>;

/** A connection that lasted this long resets the backoff. */
const STABLE_MS = 30_000;
const REFUSED_STATUSES = new Set([401, 403]);
/** How often an agent whose credential keeps being refused says so again. */
const REFUSED_LOG_WINDOW_MS = 10 * 60_000;

export interface OpampClientOptions {
  /** ws(s):// URL of the server's /v1/opamp, as configured. */
  opampUrl: string;
  /** Enrollment token, used until the agent holds its own credential. */
  token: string | null;
  /** Heartbeat interval until the server offers one. */
  heartbeatMs: number;
  backoff: BackoffPolicy;
  /** AgentCapabilities bits sent with every message. */
  capabilities: bigint;
  /** How a wss:// server is verified. */
  trust: ServerTrust;
  /** The TLS client certificate to present on wss:// (mTLS), read at each connection; absent: none. */
  clientCertificate?: () => { cert: string; key: string } | null;
}

export interface OpampClientCallbacks {
  /** A connection is open: send what the server must know (full state). */
  onConnect(): void;
  /** The connection closed (whatever the reason). */
  onDisconnect?(): void;
  /**
   * A ServerToAgent that is not an error response, after the client took
   * its OpAMP connection settings. Not called when those settings make the
   * client reconnect at once.
   */
  onMessage(msg: ServerToAgent): void;
  /** Connection settings offered (before the client acts on their `opamp` part): the agent takes `other_connections`. */
  onConnectionSettings?(offers: ConnectionSettingsOffers): void;
  /** A client certificate (PEM) offered in `opamp.certificate`: true when it was kept, and the client reconnects to present it. */
  onClientCertificate?(certPem: string): boolean;
  /** The server assigned a new instance uid and it was adopted (persisted), before the client reconnects under it. */
  onInstanceUidChanged?(uid: string, was: string): void;
}

export interface OpampClientDeps {
  log: Logger;
  identity: IdentityStore;
  random?: () => number;
  /** Opens a WebSocket (on `socket`, a verified TLS connection, for wss://); tests substitute one that fails on demand. */
  openSocket?: (url: string, headers: Record<string, string>, socket: TLSSocket | null) => WebSocket;
  /** Clock for the bound on new instance uids and for log windows (tests); Date.now otherwise. */
  now?: () => number;
  /** How many new instance uids the server may assign per window; REASSIGNMENT_LIMIT otherwise. */
  reassignmentLimit?: { max: number; windowMs: number };
}

interface SessionOutcome {
  status?: number;
  retryAfterSeconds?: number;
  reconnectNow?: boolean;
  exchanged?: boolean;
  /** A refusal already said in the log window: its reconnect is logged at debug. */
  quiet?: boolean;
}

export class OpampClient {
  private identityValue: Identity;
  private uid: Uint8Array;
  private readonly reassignments: ReassignmentBudget;
  /** A refused new uid comes back with every message: its log lines, one per limit window (bad offers and over-limit ones apart). */
  private readonly refusedUidLog: { invalid: LogThrottle; overLimit: LogThrottle };
  /** A refused credential is retried every backoff.maxMs, for good: one error line per REFUSED_LOG_WINDOW_MS, with a count. */
  private readonly refusedLog = new LogThrottle(REFUSED_LOG_WINDOW_MS);
  private seq = 0n;
  private ws: WebSocket | null = null;
  private heartbeatMs: number;
  private url: string;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  /** Aborts when the current connection closes: long requests (log follows) on it stop. */
  private ended: AbortSignal = AbortSignal.abort();
  /** A ConnectionSettingsStatus not yet sent: goes with the next message. */
  private settingsStatus: ConnectionSettingsStatus | null = null;

  constructor(
    private readonly opts: OpampClientOptions,
    private readonly deps: OpampClientDeps,
    private readonly callbacks: OpampClientCallbacks,
  ) {
    this.identityValue = deps.identity.loadOrCreate();
    this.uid = uuidStringToBytes(this.identityValue.instanceUid);
    this.reassignments = new ReassignmentBudget(deps.reassignmentLimit);
    const windowMs = (deps.reassignmentLimit ?? REASSIGNMENT_LIMIT).windowMs;
    this.refusedUidLog = { invalid: new LogThrottle(windowMs), overLimit: new LogThrottle(windowMs) };
    this.heartbeatMs = opts.heartbeatMs;
    this.url = opts.opampUrl;
  }

  get instanceUid(): string {
    return this.identityValue.instanceUid;
  }

  /** The identity on disk (instance uid, credential, pinned keys). */
  get identity(): Identity {
    return this.identityValue;
  }

  /** Changes and persists fields of the identity other than the uid and credential (e.g. a pinned key). */
  saveIdentity(patch: Partial<Omit<Identity, 'version' | 'instanceUid' | 'credential'>>): void {
    this.identityValue = { ...this.identityValue, ...patch };
    this.deps.identity.save(this.identityValue);
  }

  /** The credential requests to the server carry: the agent's own, else the enrollment token. */
  get bearer(): string | null {
    return this.identityValue.credential ?? this.opts.token;
  }

  /** The OpAMP URL in use (ws:// or wss://). */
  get currentUrl(): string {
    return this.url;
  }

  /** Aborts when the current connection closes (already aborted while disconnected). */
  get sessionSignal(): AbortSignal {
    return this.ended;
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
      if (outcome.quiet) this.deps.log.debug({ delayMs: delay }, 'reconnecting after delay');
      else this.deps.log.info({ delayMs: delay }, 'reconnecting after delay');
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
  private async session(): Promise<SessionOutcome> {
    const url = new URL(this.url);
    let tls: TLSSocket | null = null;
    if (url.protocol === 'wss:') {
      try {
        // Verified before the upgrade request (and its credential) is written.
        tls = await dialTls(url, this.opts.trust, undefined, this.opts.clientCertificate?.() ?? null);
      } catch (err) {
        this.deps.log.warn({ err: (err as Error).message, url: this.url }, 'connection failed');
        return {};
      }
      if (this.stopped) {
        tls.destroy();
        return {};
      }
    }
    return this.exchange(tls);
  }

  private exchange(tls: TLSSocket | null): Promise<SessionOutcome> {
    return new Promise((resolve) => {
      // A rotated credential not yet proven is tried first; this connection decides whether it is kept.
      const candidate = this.identityValue.pendingCredential ?? null;
      let opened = false;
      const token = candidate ?? this.bearer;
      const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
      const open =
        this.deps.openSocket ??
        ((u: string, h: Record<string, string>, socket: TLSSocket | null) =>
          new WebSocket(u, { headers: h, perMessageDeflate: false, handshakeTimeout: 10_000, ...(socket ? { createConnection: () => socket } : {}) }));
      const ws = open(this.url, headers, tls);
      this.ws = ws;
      const ended = new AbortController();
      this.ended = ended.signal;
      let heartbeat: NodeJS.Timeout | null = null;
      const result: SessionOutcome = {};
      let settled = false;
      let planned = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        if (candidate !== null && !opened) this.revertCandidate(result.status);
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
        if (candidate !== null && res.statusCode !== undefined && REFUSED_STATUSES.has(res.statusCode)) {
          // Our old credential still works (the server's grace window): go back to it at once.
          result.reconnectNow = true;
        } else if (res.statusCode !== undefined && REFUSED_STATUSES.has(res.statusCode)) {
          const line = this.refusedLog.note((this.deps.now ?? Date.now)());
          result.quiet = !line.log;
          if (line.log) {
            this.deps.log.error(
              { status: res.statusCode, usingCredential: this.identityValue.credential !== null, refusedSinceLastLine: line.suppressed, retryEveryMs: this.opts.backoff.maxMs },
              'server refused our credential (401): this agent was revoked, deleted or forgotten by the server, or the token is invalid; retrying, and saying so again every 10 minutes',
            );
          }
        } else {
          this.deps.log.warn({ status: res.statusCode, retryAfter: result.retryAfterSeconds }, 'server refused the connection');
        }
        res.resume();
        ws.terminate();
        finish();
      });
      ws.on('open', () => {
        opened = true;
        // The server authenticates the upgrade: a candidate credential that got here is proven.
        if (candidate !== null) this.commitCandidate();
        this.deps.log.info({ url: this.url }, 'connected');
        this.callbacks.onConnect();
        startHeartbeat();
      });
      ws.once('close', () => this.callbacks.onDisconnect?.());
      ws.on('message', (data: Buffer) => {
        // Closing to reconnect with new settings or a new uid: what still arrives was meant for the old ones.
        if (planned) return;
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
          planned = true;
          ws.close(1000, 'reconnecting with new settings');
        } else if (this.heartbeatMs !== before) startHeartbeat();
      });
      ws.on('close', (code, reason) => {
        // A close we asked for to use new settings (e.g. right after enrolling) is routine.
        if (planned) this.deps.log.info({ code }, 'closed to reconnect with new connection settings');
        else if (!this.stopped) this.deps.log.warn({ code, reason: reason.toString() }, 'disconnected');
        finish();
      });
      ws.on('error', (err) => {
        this.deps.log.warn({ err: err.message, url: this.url }, 'connection failed');
        finish();
      });
    });
  }

  /** Handles one ServerToAgent; returns true when the connection must be re-made. */
  private onMessage(msg: ServerToAgent, result: SessionOutcome): boolean {
    if (msg.errorResponse) {
      this.deps.log.error({ type: msg.errorResponse.type, message: msg.errorResponse.errorMessage }, 'server reported an error');
      return false;
    }
    // The rest of a message that assigns a new uid was meant for the old one: reconnect and start over.
    if (msg.agentIdentification && this.adoptInstanceUid(msg.agentIdentification.newInstanceUid)) {
      result.reconnectNow = true;
      return true;
    }
    if (msg.connectionSettings) this.callbacks.onConnectionSettings?.(msg.connectionSettings);
    const opamp = msg.connectionSettings?.opamp;
    if (opamp) {
      if (opamp.heartbeatIntervalSeconds > 0n) this.heartbeatMs = Number(opamp.heartbeatIntervalSeconds) * 1000;
      const auth = opamp.headers?.headers.find((h) => h.key.toLowerCase() === 'authorization');
      const credential = auth ? /^Bearer\s+(\S+)$/i.exec(auth.value)?.[1] : undefined;
      if (opamp.destinationEndpoint) this.moveTo(opamp.destinationEndpoint, msg.connectionSettings!.hash);
      // Never a private key from the server: ours stays on the host; only the certificate is taken.
      const certPem = opamp.certificate?.cert.length ? Buffer.from(opamp.certificate.cert).toString('utf8') : null;
      if (certPem && this.callbacks.onClientCertificate?.(certPem)) result.reconnectNow = true;
      if (credential && credential !== this.identityValue.credential) {
        result.reconnectNow = true;
        if (this.identityValue.credential === null) {
          // Enrolling: the enrollment token is no credential to go back to, so the new one is kept at once.
          this.identityValue = { ...this.identityValue, credential };
          this.deps.identity.save(this.identityValue);
          this.settingsStatus ??= settingsStatus(msg.connectionSettings!.hash, ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED, '');
          this.deps.log.info('enrolled: stored our credential, reconnecting with it');
          return true;
        }
        this.identityValue = { ...this.identityValue, pendingCredential: credential, pendingSettingsHash: Buffer.from(msg.connectionSettings!.hash).toString('hex') };
        this.deps.identity.save(this.identityValue);
        this.deps.log.info('offered a new credential: reconnecting to prove it before keeping it');
        return true;
      }
      if (result.reconnectNow) return true;
    }
    this.callbacks.onMessage(msg);
    return false;
  }

  /**
   * OpAMP's duplicate-uid handling: the server says our uid is taken (a
   * Corral server does so when an enrollment token presents an enrolled
   * agent's uid: a host that lost its credential, or a clone of one). The
   * new uid is persisted before it is used; the credential (and any
   * candidate) belonged to the old uid and is dropped, so the next
   * connection enrolls with the enrollment token under the new uid and
   * sends full state (sequence numbers start over: a new instance). The
   * local services are not touched. False when the uid is not taken.
   */
  private adoptInstanceUid(offered: Uint8Array): boolean {
    const was = this.identityValue.instanceUid;
    const judged = judgeNewInstanceUid(was, offered);
    const now = (this.deps.now ?? Date.now)();
    if (!judged.accept) {
      const line = this.refusedUidLog.invalid.note(now);
      if (line.log) this.deps.log.warn({ reason: judged.reason, suppressed: line.suppressed }, 'ignoring the new instance uid the server assigned (logged at most once per window)');
      return false;
    }
    if (!this.reassignments.take(now)) {
      const line = this.refusedUidLog.overLimit.note(now);
      if (line.log) {
        this.deps.log.error(
          { offered: judged.uid, keeping: was, retryInMs: this.reassignments.retryInMs(now), suppressed: line.suppressed },
          'ignoring the new instance uid the server assigned: too many reassignments in a short time (logged at most once per window)',
        );
      }
      return false;
    }
    const { pendingCredential: _p, pendingSettingsHash: _h, ...rest } = this.identityValue;
    this.identityValue = { ...rest, instanceUid: judged.uid, credential: null };
    this.deps.identity.save(this.identityValue);
    this.uid = uuidStringToBytes(judged.uid);
    this.seq = 0n;
    this.settingsStatus = null;
    this.callbacks.onInstanceUidChanged?.(judged.uid, was);
    const next = this.opts.token ? 'enrolling with the enrollment token under the new uid' : 'no enrollment token (--token) to enroll with: the server will refuse us until one is given';
    this.deps.log.info({ instanceUid: judged.uid, was }, `server assigned a new instance uid ${judged.uid} (was ${was}): using it from now on; dropped the old uid's credential; ${next}`);
    return true;
  }

  /** The server accepted the candidate credential: it becomes ours, the old one is forgotten (spec step 8). */
  private commitCandidate(): void {
    const { pendingCredential, pendingSettingsHash, ...rest } = this.identityValue;
    if (!pendingCredential) return;
    this.identityValue = { ...rest, credential: pendingCredential };
    this.deps.identity.save(this.identityValue);
    if (this.settingsStatus?.status !== ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED) {
      this.settingsStatus = settingsStatus(Buffer.from(pendingSettingsHash ?? '', 'hex'), ConnectionSettingsStatuses.ConnectionSettingsStatuses_APPLIED, '');
    }
    this.deps.log.info('the server accepted our new credential: keeping it');
  }

  /** The candidate credential did not get us connected: back to the old one, and the server hears why (spec step 9). */
  private revertCandidate(status: number | undefined): void {
    const { pendingCredential, pendingSettingsHash, ...rest } = this.identityValue;
    if (!pendingCredential) return;
    this.identityValue = rest;
    this.deps.identity.save(this.identityValue);
    const why = status !== undefined ? `the server refused it (HTTP ${status})` : 'the connection with it failed';
    this.settingsStatus = settingsStatus(Buffer.from(pendingSettingsHash ?? '', 'hex'), ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED, `new credential not kept: ${why}; using the previous one`);
    this.deps.log.error({ status }, 'the new credential did not work: went back to the previous one');
  }

  /** Takes an offered endpoint if local policy allows it (endpoint-policy.ts); otherwise keeps the URL, logs and reports. */
  private moveTo(endpoint: string, hash: Uint8Array): void {
    if (endpoint === this.url) return;
    const decision = judgeOfferedEndpoint(this.opts.opampUrl, endpoint);
    if (decision.accept) {
      this.deps.log.info({ from: this.url, to: decision.url }, 'server moved us to a new OpAMP endpoint');
      this.url = decision.url;
      return;
    }
    this.deps.log.error({ offered: endpoint.slice(0, 200), reason: decision.reason, keeping: this.url }, 'refused the OpAMP endpoint the server offered');
    this.settingsStatus = settingsStatus(hash, ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED, `refused endpoint: ${decision.reason}`);
  }

  /** Sends one AgentToServer on the open connection; dropped while disconnected (full state is sent on connect). */
  send(fields: AgentToServerInit): void {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    const status = this.settingsStatus;
    this.settingsStatus = null;
    const msg: AgentToServer = create(AgentToServerSchema, {
      ...fields,
      ...(status ? { connectionSettingsStatus: status } : {}),
      instanceUid: this.uid,
      sequenceNum: this.seq++,
      capabilities: this.opts.capabilities,
    });
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

function settingsStatus(hash: Uint8Array, status: ConnectionSettingsStatuses, errorMessage: string): ConnectionSettingsStatus {
  return create(ConnectionSettingsStatusSchema, { lastConnectionSettingsHash: hash, status, errorMessage });
}
