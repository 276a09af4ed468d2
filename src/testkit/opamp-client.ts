/**
 * A bare OpAMP client for tests: speaks the wire format directly (HTTP or
 * WebSocket) so tests can send exactly what a third-party agent — or an
 * attacker — would.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import {
  AgentToServerSchema,
  create,
  decodeServerToAgent,
  decodeWsFrame,
  encodeAgentToServer,
  encodeWsFrame,
  type AgentToServer,
  type ServerToAgent,
} from '../protocol/index.js';
import type { MessageInitShape } from '@bufbuild/protobuf';

export type AgentToServerInit = MessageInitShape<typeof AgentToServerSchema>;

export function newInstanceUid(): Uint8Array {
  const b = randomBytes(16);
  b[6] = (b[6]! & 0x0f) | 0x70;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return new Uint8Array(b);
}

export function agentToServer(init: AgentToServerInit): AgentToServer {
  return create(AgentToServerSchema, init);
}

/** POSTs one message; returns the HTTP status and, for 200, the decoded reply. */
export async function postOpamp(
  url: string,
  token: string,
  body: Uint8Array,
  headers: Record<string, string> = {},
): Promise<{ status: number; reply: ServerToAgent | null; text: string; headers: Headers }> {
  const res = await fetch(`${url}/v1/opamp`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${token}`, ...headers },
    body,
  });
  const bytes = new Uint8Array(await res.arrayBuffer());
  const isProto = res.headers.get('content-type') === 'application/x-protobuf';
  return {
    status: res.status,
    reply: res.status === 200 && isProto ? decodeServerToAgent(bytes) : null,
    text: isProto ? '' : Buffer.from(bytes).toString('utf8'),
    headers: res.headers,
  };
}

export function encodeForHttp(msg: AgentToServerInit): Uint8Array {
  return encodeAgentToServer(agentToServer(msg));
}

/** A WebSocket OpAMP connection with a queue of received replies. */
export class WsOpampClient {
  readonly replies: ServerToAgent[] = [];
  closeCode: number | null = null;
  closeReason = '';
  private waiters: (() => void)[] = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer) => {
      this.replies.push(decodeServerToAgent(decodeWsFrame(new Uint8Array(data))));
      this.wake();
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.wake();
    });
    ws.on('error', () => this.wake());
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Connects; rejects with the HTTP status when the upgrade is refused. */
  static connect(url: string, token: string): Promise<WsOpampClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/opamp`, { headers: { authorization: `Bearer ${token}` } });
      ws.once('open', () => resolve(new WsOpampClient(ws)));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`upgrade refused: ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
    });
  }

  sendRaw(bytes: Uint8Array): void {
    this.ws.send(bytes);
  }

  send(msg: AgentToServerInit): void {
    this.ws.send(encodeWsFrame(encodeAgentToServer(agentToServer(msg))));
  }

  /** Waits for the n-th reply (1-based) or for the close. */
  async next(n = this.replies.length + 1, timeoutMs = 10_000): Promise<ServerToAgent | null> {
    const deadline = Date.now() + timeoutMs;
    while (this.replies.length < n && this.closeCode === null) {
      if (Date.now() > deadline) throw new Error(`no reply #${n} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.replies[n - 1] ?? null;
  }

  async closed(timeoutMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.closeCode === null) {
      if (Date.now() > deadline) throw new Error(`connection not closed within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
    return this.closeCode;
  }

  close(): void {
    this.ws.close();
  }
}
