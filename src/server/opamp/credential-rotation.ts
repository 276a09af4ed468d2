/**
 * Rotating agents' own credentials over OpAMP connection settings (the
 * spec's "OpAMP Connection Setting Offer Flow"), with all state in the store
 * so any replica can offer, accept and confirm:
 *
 *   requested ──offer──▶ offered: new credential current, old one accepted
 *   until the grace window ends ──agent authenticates with the new one──▶
 *   confirmed: old one refused.
 *
 * An agent that comes back with the previous credential (the offer was lost,
 * or it reverted because the new one failed) is offered a fresh credential
 * again; its previous one keeps its original expiry. An operator asks for a
 * rotation with `requestRotation` (REST / `corral agent rotate-credentials`).
 */
import { SYSTEM_ACTOR } from '../auth/actor.js';
import type { Logger } from 'pino';
import {
  AgentCapabilities,
  ConnectionSettingsStatuses,
  type ConnectionSettingsOffers,
  type ConnectionSettingsStatus,
  type ServerToAgent,
} from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import type { Clock } from '../clock.js';
import type { EventSink } from './agent-event-budget.js';
import { generateSecret, hashSecret } from '../auth/tokens.js';
import { connectionSettingsOffer } from './offers.js';
import { offeredOpampEndpoint } from './endpoint.js';
import type { Principal, Session } from './session.js';

const ACCEPTS_OPAMP_SETTINGS = BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings);

export interface CredentialRotationOptions {
  /** How long a replaced credential is still accepted. */
  graceMs: number;
  heartbeatMs: number;
  signingPublicKeyPem: string;
  publicUrl: string | null;
}

/** What this process knows per session: whether the store was asked, and whether an offer went out on it. */
interface SessionState {
  checked: boolean;
  offered: boolean;
  /** One decision at a time per session: a pushed offer and one in a reply must not both go out. */
  queue: Promise<unknown>;
  /** The credential header this state was decided for (an HTTP session outlives a credential change). */
  authorization: string | undefined;
}

export class CredentialRotation {
  private readonly state = new WeakMap<Session, SessionState>();

  constructor(
    private readonly opts: CredentialRotationOptions,
    private readonly deps: {
      store: Store;
      clock: Clock;
      events: EventSink;
      log: Logger;
      /** A reply to `session` with what every message carries, to put an offer in. */
      reply: (session: Session) => ServerToAgent;
      /** A message went out (metrics). */
      sent?: (session: Session) => void;
    },
  ) {}

  private stateOf(session: Session): SessionState {
    let s = this.state.get(session);
    if (!s) {
      s = { checked: false, offered: false, queue: Promise.resolve(), authorization: session.principal.kind === 'agent' ? session.principal.authorization : undefined };
      this.state.set(session, s);
    }
    return s;
  }

  private exclusive<T>(session: Session, fn: (s: SessionState) => Promise<T>): Promise<T> {
    const s = this.stateOf(session);
    const run = s.queue.then(() => fn(s));
    s.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * For a message from an agent on its own credential that accepts OpAMP
   * connection settings: the settings to offer now, or null. Looks at the
   * store once per session (and again after `markRequested`).
   */
  onMessage(session: Session): Promise<ConnectionSettingsOffers | null> {
    return this.exclusive(session, (s) => this.decide(session, s));
  }

  private async decide(session: Session, s: SessionState): Promise<ConnectionSettingsOffers | null> {
    const principal = session.principal;
    if (principal.kind !== 'agent') return null;
    if (s.checked || s.offered) return null;
    s.checked = true;
    if (principal.previousCredential) return this.offer(session, { keepPrevious: true, reason: 'previous credential' });
    const rotation = await this.deps.store.credentials.getRotation(session.agentId);
    if (!rotation) return null;
    if (rotation.previousHash) {
      // Authenticated with the current credential: the rotation took.
      await this.deps.store.credentials.confirmCredential(session.agentId);
      this.deps.events.record('agent.credential_rotated', session.agentId, { actor: SYSTEM_ACTOR });
    }
    if (rotation.requestedAt !== null) return this.offer(session, { keepPrevious: false, reason: 'requested' });
    return null;
  }

  /**
   * An HTTP agent's requests (one session across requests) now carry another
   * credential: its first own one after enrolling, a rotated one it took, or
   * the previous one it went back to. Judged afresh.
   */
  onPrincipal(session: Session, principal: Principal): void {
    if (session.transport !== 'http' || principal.kind !== 'agent') return;
    session.principal = principal;
    const s = this.state.get(session);
    if (s && s.authorization !== principal.authorization) this.state.delete(session);
  }

  /**
   * Offers new credentials to this process's agents that have a rotation
   * requested: at once over WebSocket (`send`), on their next request over
   * HTTP (or when they accept OpAMP settings).
   */
  async pushRequested(sessionOf: (agentId: string) => Session | undefined): Promise<void> {
    for (const id of await this.deps.store.credentials.listRequestedRotations()) {
      const s = sessionOf(id);
      if (!s || s.superseded) continue;
      if (!s.send || (s.capabilities & ACCEPTS_OPAMP_SETTINGS) === 0n) {
        this.markRequested(s);
        continue;
      }
      const settings = await this.offerNow(s);
      if (!settings) continue;
      const msg = this.deps.reply(s);
      msg.connectionSettings = settings;
      s.send(msg);
      this.deps.sent?.(s);
    }
  }

  /** The agent's report on settings it was offered: a failure (an endpoint or credential it refused) becomes an event. */
  onStatus(agentId: string, status: ConnectionSettingsStatus): void {
    if (status.status !== ConnectionSettingsStatuses.ConnectionSettingsStatuses_FAILED) return;
    this.deps.events.record('agent.connection_settings_failed', agentId, { error: status.errorMessage.slice(0, 1024) });
  }

  /** A rotation was requested for this session's agent (possibly on another replica): look again on its next message. */
  markRequested(session: Session): void {
    const s = this.stateOf(session);
    if (!s.offered) s.checked = false;
  }

  /** Offers a rotation to a connected agent now (WebSocket push); null when one already went out on this session. */
  offerNow(session: Session): Promise<ConnectionSettingsOffers | null> {
    return this.exclusive(session, async (s) => {
      if (session.principal.kind !== 'agent' || s.offered) return null;
      s.checked = true;
      return this.offer(session, { keepPrevious: Boolean(session.principal.previousCredential), reason: 'requested' });
    });
  }

  /** Null when the request was taken meanwhile (another replica served this agent's HTTP request). */
  private async offer(session: Session, how: { keepPrevious: boolean; reason: 'requested' | 'previous credential' }): Promise<ConnectionSettingsOffers | null> {
    const credential = generateSecret('agent');
    const now = this.deps.clock.now();
    const rotated = await this.deps.store.credentials.rotateCredential(session.agentId, hashSecret(credential), {
      keepPrevious: how.keepPrevious,
      previousUntil: now + this.opts.graceMs,
      onlyIfRequested: how.reason === 'requested' && !how.keepPrevious,
    });
    if (!rotated) return null;
    this.stateOf(session).offered = true;
    this.deps.log.info({ agentId: session.agentId, reason: how.reason }, 'offered a new credential');
    return connectionSettingsOffer(credential, {
      endpoint: offeredOpampEndpoint(this.opts.publicUrl, session.transport),
      heartbeatMs: this.opts.heartbeatMs,
      signingPublicKeyPem: this.opts.signingPublicKeyPem,
    });
  }
}
