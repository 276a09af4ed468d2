/**
 * OpAMP over plain HTTP: the agent POSTs an AgentToServer with
 * `Content-Type: application/x-protobuf` (optionally gzip-compressed) and
 * gets a ServerToAgent back at once (no long poll).
 *
 * 401 without a valid token, 413 over 64 MiB (before or after gunzip),
 * 400 for a body that is not an AgentToServer, 429 + Retry-After when too
 * many requests are in flight.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { ProtocolError, decodeAgentToServer, encodeServerToAgent } from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { AgentRevokedError, TokenRevokedError } from '../errors.js';
import { authenticateAgent } from '../auth/authenticate.js';
import type { AgentHub } from './agent-hub.js';
import { MAX_MESSAGE_BYTES, PROTOBUF_CONTENT_TYPE } from './limits.js';
import { requestOrigin } from './endpoint.js';

const gunzipAsync = promisify(gunzip);

export interface HttpTransportOptions {
  maxInFlight: number;
  retryAfterSeconds: number;
}

class TooLargeError extends Error {}

/** Past this many bytes a too-large upload is cut off instead of drained. */
const DRAIN_LIMIT_BYTES = 4 * MAX_MESSAGE_BYTES;

/**
 * Reads the body, at most `maxBytes`. A larger body is drained (so the
 * client gets to read our 413 instead of a reset) up to DRAIN_LIMIT_BYTES,
 * then the connection is cut.
 */
function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
      else if (size > DRAIN_LIMIT_BYTES) req.destroy();
    });
    req.on('end', () => (size > maxBytes ? reject(new TooLargeError()) : resolve(Buffer.concat(chunks))));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new TooLargeError());
    });
  });
}

function plain(res: ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${text}\n`);
}

export class HttpTransport {
  private inFlight = 0;

  constructor(
    private readonly opts: HttpTransportOptions,
    private readonly deps: { hub: AgentHub; store: Store; log: Logger },
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (this.inFlight >= this.opts.maxInFlight) {
      req.resume();
      return plain(res, 429, 'too many requests in flight', { 'Retry-After': String(this.opts.retryAfterSeconds) });
    }
    this.inFlight++;
    try {
      await this.serve(req, res);
    } finally {
      this.inFlight--;
    }
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const principal = await authenticateAgent(this.deps.store, req.headers.authorization);
    if (!principal) {
      req.resume();
      return plain(res, 401, 'missing or invalid bearer token');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > DRAIN_LIMIT_BYTES) {
      plain(res, 413, `message larger than ${MAX_MESSAGE_BYTES} bytes`, { Connection: 'close' });
      req.destroy();
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, MAX_MESSAGE_BYTES);
      if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
        body = await gunzipAsync(body, { maxOutputLength: MAX_MESSAGE_BYTES });
      }
    } catch (err) {
      if (err instanceof TooLargeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        return plain(res, 413, `message larger than ${MAX_MESSAGE_BYTES} bytes`, { Connection: 'close' });
      }
      return plain(res, 400, 'request body is not valid gzip');
    }
    try {
      const msg = decodeAgentToServer(body);
      const { reply } = await this.deps.hub.handle(msg, { transport: 'http', principal, origin: requestOrigin(req) });
      const bytes = encodeServerToAgent(reply);
      res.writeHead(200, { 'Content-Type': PROTOBUF_CONTENT_TYPE, 'Content-Length': bytes.length });
      res.end(bytes);
    } catch (err) {
      if (err instanceof ProtocolError) return plain(res, 400, 'request body is not a valid AgentToServer protobuf');
      if (err instanceof AgentRevokedError) return plain(res, 401, 'agent revoked');
      if (err instanceof TokenRevokedError) return plain(res, 401, 'enrollment token revoked');
      this.deps.log.error({ err }, 'failed to handle OpAMP message');
      return plain(res, 500, 'internal error');
    }
  }
}
