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
import { FrameError, ProtocolError, decodeAgentToServer, decodeWsFrame, encodeServerToAgent, encodeWsFrame } from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { AgentRevokedError, TokenRevokedError } from '../errors.js';
import { TOKEN_REVOKED_CLOSE_CODE } from './token-sessions.js';
import { authenticateAgent } from '../auth/authenticate.js';
import type { AgentHub } from './agent-hub.js';
import type { Session } from './session.js';
import { MAX_MESSAGE_BYTES } from './limits.js';
import { requestOrigin } from './endpoint.js';

export interface WsTransportOptions {
  maxConnections: number;
  retryAfterSeconds: number;
}

function refuse(socket: Duplex, status: number, text: string, headers: Record<string, string> = {}): void {
  const body = `${text}\n`;
  const lines = [
    `HTTP/1.1 ${status} ${text}`,
    'Connection: close',
    'Content-Type: text/plain',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

export class WsTransport {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES, perMessageDeflate: false });
  private accepting = true;

  constructor(
    private readonly opts: WsTransportOptions,
    private readonly deps: { hub: AgentHub; store: Store; log: Logger },
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
    authenticateAgent(this.deps.store, req.headers.authorization)
      .then((principal) => {
        if (!principal) return refuse(socket, 401, 'Unauthorized');
        if (!this.accepting || socket.destroyed) return refuse(socket, 503, 'Service Unavailable', { 'Retry-After': String(this.opts.retryAfterSeconds) });
        const origin = requestOrigin(req);
        this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, principal, origin));
      })
      .catch((err: unknown) => {
        this.deps.log.error({ err }, 'authentication failed');
        refuse(socket, 503, 'Service Unavailable', { 'Retry-After': String(this.opts.retryAfterSeconds) });
      });
  }

  private serve(ws: WebSocket, principal: Parameters<AgentHub['handle']>[1]['principal'], origin: string): void {
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
      queue = queue.then(() => this.onMessage(ws, bytes, principal, origin, () => session, attach));
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
    principal: Parameters<AgentHub['handle']>[1]['principal'],
    origin: string,
    bound: () => Session | undefined,
    attach: (s: Session) => void,
  ): Promise<void> {
    if (ws.readyState !== ws.OPEN) return;
    try {
      const msg = decodeAgentToServer(decodeWsFrame(bytes));
      const { reply } = await this.deps.hub.handle(msg, { transport: 'ws', principal, origin, bound: bound(), attach });
      if (ws.readyState === ws.OPEN) ws.send(encodeWsFrame(encodeServerToAgent(reply)));
    } catch (err) {
      if (err instanceof FrameError) return ws.close(1002, err.message.slice(0, 120));
      if (err instanceof ProtocolError) return ws.close(1007, 'malformed AgentToServer protobuf');
      if (err instanceof AgentRevokedError) return ws.close(4001, 'agent revoked');
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
