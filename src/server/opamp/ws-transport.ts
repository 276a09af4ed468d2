/**
 * OpAMP over WebSocket: each binary message is a varint header (0) followed
 * by a protobuf AgentToServer / ServerToAgent.
 *
 * Refusals happen before the handshake, as plain HTTP: 401 without a valid
 * token, 503 + Retry-After when full or shutting down. After the handshake,
 * bad input closes the socket with a code that says why (1002 bad header,
 * 1003 text frame, 1007 bad protobuf, 1009 over 64 MiB — the last one by
 * `ws` itself), and the rest of the server carries on.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  FrameError,
  ProtocolError,
  ServerErrorResponseType,
  ServerToAgentSchema,
  create,
  decodeAgentToServer,
  decodeWsFrame,
  encodeServerToAgent,
  encodeWsFrame,
} from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { AgentRevokedError, EnrollmentRefusedError, RateLimitedError, TokenRevokedError } from '../errors.js';
import { TOKEN_REVOKED_CLOSE_CODE } from './token-sessions.js';
import { authenticateAgent } from '../auth/authenticate.js';
import type { AgentHub } from './agent-hub.js';
import type { Session } from './session.js';
import { MAX_MESSAGE_BYTES } from './limits.js';
import type { InflightBytes } from './inflight-bytes.js';
import { sourceAddress, type FailedAuthGuard } from '../auth/failed-auth.js';
import { requestOrigin } from './endpoint.js';

export interface WsTransportOptions {
  maxConnections: number;
  retryAfterSeconds: number;
  /** A connection that sends no complete first message within this long is closed (1008). */
  firstMessageTimeoutMs: number;
}

export interface WsTransportDeps {
  hub: AgentHub;
  store: Store;
  log: Logger;
  /** Failed authentication per source address: logged, and past a burst refused with 429 + Retry-After. */
  failedAuth?: FailedAuthGuard;
  /** Shared with the HTTP transport. */
  inflight: InflightBytes;
}

function refuse(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}, detail = text): void {
  const body = `${detail}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${text}`,
    'Connection: close',
    'Content-Type: text/plain',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

/** Who is on the other end of a connection. */
interface Peer {
  principal: Parameters<AgentHub['handle']>[1]['principal'];
  address: string;
  /** http(s)://host the agent reached (endpoint.ts). */
  origin: string;
}

/** The spec's answer to an agent that should come back later: Unavailable, with when. */
function rateLimitedReply(instanceUid: Uint8Array, err: RateLimitedError) {
  return create(ServerToAgentSchema, {
    instanceUid,
    errorResponse: {
      type: ServerErrorResponseType.ServerErrorResponseType_Unavailable,
      errorMessage: err.message,
      Details: { case: 'retryInfo', value: { retryAfterNanoseconds: BigInt(err.retryAfterSeconds) * 1_000_000_000n } },
    },
  });
}

/** A connection's share of the in-flight budget: `claim` the bytes of a message just received, `release` them once handled. */
interface ConnectionBudget {
  claim(): number;
  release(bytes: number): void;
}

export class WsTransport {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  private accepting = true;

  constructor(
    private readonly opts: WsTransportOptions,
    private readonly deps: WsTransportDeps,
  ) {}

  get connections(): number {
    return this.wss.clients.size;
  }

  /** Handles an HTTP upgrade request for /v1/opamp. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    if (!this.accepting) return refuse(socket, 503, 'Service Unavailable', { 'Retry-After': String(this.opts.retryAfterSeconds) });
    if (this.wss.clients.size >= this.opts.maxConnections) {
      return refuse(socket, 503, 'Service Unavailable', { 'Retry-After': String(this.opts.retryAfterSeconds) });
    }
    const address = sourceAddress(req.socket);
    const penalty = this.deps.failedAuth?.admit(address, 'opamp');
    if (penalty && !penalty.ok) return refuse(socket, 429, 'Too Many Requests', { 'Retry-After': String(Math.max(1, Math.ceil(penalty.retryAfterMs / 1000))) });
    authenticateAgent(this.deps.store, req.headers.authorization, Date.now(), req.socket)
      .then((principal) => {
        if (!principal) {
          this.deps.failedAuth?.failed(address, 'opamp');
          return refuse(socket, 401, 'Unauthorized');
        }
        if (!this.accepting || socket.destroyed) return refuse(socket, 503, 'Service Unavailable', { 'Retry-After': String(this.opts.retryAfterSeconds) });
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          this.serve(ws, { principal, address, origin: requestOrigin(req) }, this.bound(ws, socket));
        });
      })
      .catch((err: unknown) => {
        if (err instanceof EnrollmentRefusedError) return refuse(socket, err.status, err.status === 401 ? 'Unauthorized' : 'Forbidden', {}, err.message);
        this.deps.log.error({ err }, 'authentication failed');
        refuse(socket, 503, 'Service Unavailable', { 'Retry-After': String(this.opts.retryAfterSeconds) });
      });
  }

  /**
   * Puts the connection's bytes under the shared budget and its first
   * message under a deadline. Bytes received count from arrival until the
   * message they belong to has been handled (approximately: by whole socket
   * reads, so within one read of exact).
   */
  private bound(ws: WebSocket, socket: Duplex): ConnectionBudget {
    const { inflight, log } = this.deps;
    let unassigned = 0;
    let held = 0;
    let closed = false;
    const shut = (code: number, reason: string) => {
      if (closed) return;
      closed = true;
      ws.close(code, reason);
      // Stop reading at once: the rest of an oversized message must not be buffered while the close handshake runs.
      setImmediate(() => ws.terminate());
    };
    const firstMessage = setTimeout(() => {
      log.info({ timeoutMs: this.opts.firstMessageTimeoutMs }, 'closing a WebSocket that sent no first message');
      shut(1008, `no OpAMP message within ${this.opts.firstMessageTimeoutMs} ms`);
    }, this.opts.firstMessageTimeoutMs);
    firstMessage.unref();
    socket.on('data', (chunk: Buffer) => {
      if (closed) return;
      if (!inflight.tryTake(chunk.length)) return shut(1013, 'server busy: too many OpAMP bytes in flight, retry later');
      unassigned += chunk.length;
      held += chunk.length;
    });
    ws.on('close', () => {
      clearTimeout(firstMessage);
      closed = true;
      inflight.release(held);
      held = 0;
    });
    return {
      claim: () => {
        clearTimeout(firstMessage);
        const bytes = unassigned;
        unassigned = 0;
        return bytes;
      },
      release: (n) => {
        const give = Math.min(n, held);
        held -= give;
        inflight.release(give);
      },
    };
  }

  private serve(ws: WebSocket, peer: Peer, budget: ConnectionBudget): void {
    let session: Session | undefined;
    // Messages are handled one at a time per connection, in order.
    let queue = Promise.resolve();
    const attach = (s: Session) => {
      session = s;
      s.send = (msg) => {
        if (ws.readyState === ws.OPEN) ws.send(encodeWsFrame(encodeServerToAgent(msg)));
      };
      s.close = (code, reason) => ws.close(code, reason);
    };

    ws.on('message', (data, isBinary) => {
      if (!isBinary) return ws.close(1003, 'OpAMP messages must be binary');
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(new Uint8Array(data));
      // What arrived so far belongs to this message: given back once it is handled.
      const taken = budget.claim();
      queue = queue.then(() => this.onMessage(ws, bytes, peer, () => session, attach)).finally(() => budget.release(taken));
    });
    ws.on('close', () => {
      queue = queue
        .then(async () => {
          if (session) await this.deps.hub.connectionClosed(session, 'connection closed');
        })
        // During shutdown the store may already be closed; a failed bookkeeping write must not crash the server.
        .catch((err: unknown) => this.deps.log.warn({ err }, 'could not record a closed connection'));
    });
    ws.on('error', (err) => this.deps.log.debug({ err }, 'websocket error'));
  }

  private async onMessage(
    ws: WebSocket,
    bytes: Buffer,
    peer: Peer,
    bound: () => Session | undefined,
    attach: (s: Session) => void,
  ): Promise<void> {
    if (ws.readyState !== ws.OPEN) return;
    try {
      const msg = decodeAgentToServer(decodeWsFrame(bytes));
      const { reply } = await this.deps.hub.handle(msg, { transport: 'ws', principal: peer.principal, address: peer.address, origin: peer.origin, bound: bound(), attach });
      if (ws.readyState === ws.OPEN) ws.send(encodeWsFrame(encodeServerToAgent(reply)));
    } catch (err) {
      if (err instanceof FrameError) return ws.close(1002, err.message.slice(0, 120));
      if (err instanceof ProtocolError) return ws.close(1007, 'malformed AgentToServer protobuf');
      if (err instanceof AgentRevokedError) return ws.close(4001, 'agent revoked');
      // WebSocket close reasons are at most 123 bytes.
      if (err instanceof EnrollmentRefusedError) return ws.close(err.status === 401 ? 4001 : 4003, err.message.slice(0, 120));
      if (err instanceof RateLimitedError) {
        const msg = decodeAgentToServer(decodeWsFrame(bytes));
        ws.send(encodeWsFrame(encodeServerToAgent(rateLimitedReply(msg.instanceUid, err))));
        return ws.close(1013, 'rate limited, retry later');
      }
      if (err instanceof TokenRevokedError) return ws.close(TOKEN_REVOKED_CLOSE_CODE, 'enrollment token revoked');
      this.deps.log.error({ err }, 'failed to handle OpAMP message');
      ws.close(1011, 'internal error');
    }
  }

  /** Stops accepting; existing connections are closed by the hub. */
  async close(): Promise<void> {
    this.accepting = false;
    for (const ws of this.wss.clients) ws.close(1001, 'server shutting down');
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}
