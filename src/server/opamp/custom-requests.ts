/**
 * Corral's request/reply exchanges over OpAMP custom messages (exec, log
 * follows, restart-now): each request carries an id; the agent answers with
 * progress messages and one reply carrying the same id. This holds the
 * requests waiting for their reply on this server process, their timeouts and
 * deadlines, and which agent may answer each. Which session a request goes
 * out on (connected, approved, handling the capability) is the hub's call.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { CustomMessageSchema, REQUEST_TYPE, create, decodeJsonObject, encodeJson, type ServerToAgent } from '../../protocol/index.js';
import { AgentTimeoutError, AgentUnavailableError } from '../errors.js';
import type { Session } from './session.js';

export interface CustomRequestsDeps {
  log: Logger;
  /** A reply frame for `session` with what every message to it carries (instance uid, capabilities). */
  baseReply: (session: Session) => ServerToAgent;
  /** Counts a message sent. */
  sent: (session: Session) => void;
}

interface Waiter {
  agentId: string;
  resolve: (reply: Record<string, unknown>) => void;
  progress?: (chunk: Record<string, unknown>) => void;
  /** Progress shows the agent is still at it: restarts the timeout (never the deadline). */
  touch: () => void;
  /** Streams only: the connection the request went out on, and how to fail it when that closes. */
  session?: Session;
  reject?: (err: Error) => void;
}

export class CustomRequests {
  private readonly waiting = new Map<string, Waiter>();

  constructor(private readonly deps: CustomRequestsDeps) {}

  /**
   * Sends a request on `session` and waits for its reply. Rejects with
   * AgentTimeoutError when no sign of life comes for `timeoutMs`, or when
   * `opts.deadlineMs` passes whatever progress arrives (the agent is then told
   * to cancel).
   */
  request(
    session: Session,
    capability: string,
    payload: Record<string, unknown>,
    timeoutMs: number,
    progress?: (chunk: Record<string, unknown>) => void,
    opts: { deadlineMs?: number } = {},
  ): Promise<Record<string, unknown>> {
    const { agentId } = session;
    const id = randomUUID();
    const reply = new Promise<Record<string, unknown>>((resolve, reject) => {
      const expire = () => {
        this.waiting.delete(id);
        reject(new AgentTimeoutError(agentId, timeoutMs));
      };
      let timer = setTimeout(expire, timeoutMs);
      // Progress never moves the deadline: past it the request fails and the agent is told to cancel.
      const deadline = opts.deadlineMs === undefined ? null : setTimeout(() => {
        clearTimeout(timer);
        this.waiting.delete(id);
        reject(new AgentTimeoutError(agentId, opts.deadlineMs!));
        this.send(session, capability, { id: randomUUID(), cancel: id });
      }, opts.deadlineMs);
      this.waiting.set(id, {
        agentId,
        progress,
        touch: () => {
          clearTimeout(timer);
          timer = setTimeout(expire, timeoutMs);
        },
        resolve: (r) => {
          clearTimeout(timer);
          if (deadline) clearTimeout(deadline);
          resolve(r);
        },
      });
    });
    this.send(session, capability, { ...payload, id });
    return reply;
  }

  /**
   * Sends a request that runs until the agent replies (no timeout); progress
   * goes to `onProgress`. `done` rejects with AgentUnavailableError when
   * `session` closes first (dropStreams).
   */
  openStream(
    session: Session,
    capability: string,
    payload: Record<string, unknown>,
    onProgress: (chunk: Record<string, unknown>) => void,
  ): { id: string; done: Promise<Record<string, unknown>> } {
    const id = randomUUID();
    const done = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.waiting.set(id, { agentId: session.agentId, progress: onProgress, touch: () => undefined, resolve, reject, session });
    });
    this.send(session, capability, { ...payload, id });
    return { id, done };
  }

  /** Fails the streams that went out on `session` (all of them with null): their replies can no longer come. */
  dropStreams(session: Session | null, reason: string): void {
    for (const [id, w] of this.waiting) {
      if (!w.session || (session && w.session !== session)) continue;
      this.waiting.delete(id);
      w.reject?.(new AgentUnavailableError(w.agentId, reason));
    }
  }

  /** A reply from `agentId`: settles its request. Only the agent that was asked may answer. */
  onReply(agentId: string, data: Uint8Array): void {
    let reply: Record<string, unknown>;
    try {
      reply = decodeJsonObject(data);
    } catch (err) {
      this.deps.log.warn({ agentId, err: (err as Error).message }, 'ignoring malformed custom reply');
      return;
    }
    const waiter = typeof reply.id === 'string' ? this.waiting.get(reply.id) : undefined;
    if (!waiter || waiter.agentId !== agentId) return;
    this.waiting.delete(reply.id as string);
    waiter.resolve(reply);
  }

  /** Progress from `agentId` on one of its requests. */
  onProgress(agentId: string, data: Uint8Array): void {
    let chunk: Record<string, unknown>;
    try {
      chunk = decodeJsonObject(data);
    } catch {
      return;
    }
    const waiter = typeof chunk.id === 'string' ? this.waiting.get(chunk.id) : undefined;
    if (!waiter || waiter.agentId !== agentId) return;
    waiter.touch();
    waiter.progress?.(chunk);
  }

  private send(session: Session, capability: string, data: Record<string, unknown>): void {
    const msg = this.deps.baseReply(session);
    msg.customMessage = create(CustomMessageSchema, { capability, type: REQUEST_TYPE, data: encodeJson(data) });
    session.send?.(msg);
    this.deps.sent(session);
  }
}
