/**
 * OpAMP over plain HTTP: the agent POSTs an AgentToServer with
 * `Content-Type: application/x-protobuf` (optionally gzip-compressed) and
 * gets a ServerToAgent back at once (no long poll).
 *
 * 401 without a valid token, 413 over 64 MiB (before or after gunzip),
 * 400 for a body that is not an AgentToServer, 429 + Retry-After when too
 * many requests are in flight, 503 + Retry-After when the body would not fit
 * in the process-wide budget of OpAMP bytes in flight (InflightBytes).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { ProtocolError, decodeAgentToServer, encodeServerToAgent } from '../../protocol/index.js';
import type { Store } from '../store/index.js';
import { AgentRevokedError, EnrollmentRefusedError, RateLimitedError, TokenRevokedError } from '../errors.js';
import { authenticateAgent } from '../auth/authenticate.js';
import type { AgentHub } from './agent-hub.js';
import { MAX_MESSAGE_BYTES, PROTOBUF_CONTENT_TYPE } from './limits.js';
import type { InflightBytes } from './inflight-bytes.js';
import { sourceAddress, type FailedAuthGuard } from '../auth/failed-auth.js';
import { requestOrigin } from './endpoint.js';

const gunzipAsync = promisify(gunzip);

export interface HttpTransportOptions {
  maxInFlight: number;
  retryAfterSeconds: number;
}

export interface HttpTransportDeps {
  hub: AgentHub;
  store: Store;
  log: Logger;
  /** Failed authentication per source address: logged, and past a burst refused with 429 + Retry-After. */
  failedAuth?: FailedAuthGuard;
  /** Shared with the WebSocket transport. */
  inflight: InflightBytes;
}

class TooLargeError extends Error {}
class OverBudgetError extends Error {}

/** Past this many bytes a too-large upload is cut off instead of drained. */
const DRAIN_LIMIT_BYTES = 4 * MAX_MESSAGE_BYTES;

/**
 * Reads the body, at most `maxBytes`. A larger body is drained (so the
 * client gets to read our 413 instead of a reset) up to DRAIN_LIMIT_BYTES,
 * then the connection is cut. Every byte kept is first taken from `budget`
 * (`held.bytes` says how many, for the caller to give back); when the budget
 * is spent it rejects with OverBudgetError and stops reading. With a
 * declared length the body is read into one buffer of that size, so a body
 * costs its size once, not twice.
 */
function readBody(req: IncomingMessage, maxBytes: number, budget: InflightBytes, held: { bytes: number }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    let into = Number.isInteger(declared) && declared >= 0 && declared <= maxBytes ? Buffer.allocUnsafe(declared) : null;
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Over budget: the rest is read and dropped (holding nothing), so the client gets to read the 503; a huge body is cut off.
      if (failed) {
        if (size > DRAIN_LIMIT_BYTES) req.destroy();
        return;
      }
      if (size <= maxBytes) {
        if (!budget.tryTake(chunk.length)) {
          failed = true;
          into = null;
          chunks.length = 0;
          return reject(new OverBudgetError());
        }
        held.bytes += chunk.length;
        if (into && size <= into.length) chunk.copy(into, size - chunk.length);
        else chunks.push(chunk);
      } else if (size > DRAIN_LIMIT_BYTES) req.destroy();
    });
    req.on('end', () => {
      if (size > maxBytes) return reject(new TooLargeError());
      resolve(into && size === into.length && chunks.length === 0 ? into : Buffer.concat(into ? [into.subarray(0, Math.min(size, into.length)), ...chunks] : chunks));
    });
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
    private readonly deps: HttpTransportDeps,
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
    const address = sourceAddress(req.socket);
    const penalty = this.deps.failedAuth?.admit(address, 'opamp');
    if (penalty && !penalty.ok) {
      req.resume();
      return plain(res, 429, 'too many failed authentications from this address, retry later', { 'Retry-After': String(Math.max(1, Math.ceil(penalty.retryAfterMs / 1000))) });
    }
    let principal;
    try {
      principal = await authenticateAgent(this.deps.store, req.headers.authorization, Date.now(), req.socket);
    } catch (err) {
      if (!(err instanceof EnrollmentRefusedError)) throw err;
      req.resume();
      return plain(res, err.status, err.message);
    }
    if (!principal) {
      this.deps.failedAuth?.failed(address, 'opamp');
      req.resume();
      return plain(res, 401, 'missing or invalid bearer token');
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > DRAIN_LIMIT_BYTES) {
      plain(res, 413, `message larger than ${MAX_MESSAGE_BYTES} bytes`, { Connection: 'close' });
      req.destroy();
      return;
    }
    const { inflight } = this.deps;
    // The body is drained, not kept (readBody goes on reading and dropping): closing at once would reset the client before it reads the answer.
    const busy = () => {
      req.resume();
      plain(res, 503, `server busy: more than ${inflight.maxBytes} bytes of OpAMP messages in flight, retry later`, { 'Retry-After': String(this.opts.retryAfterSeconds) });
    };
    // A declared body that cannot fit is refused before a byte of it is read.
    if (declared > 0 && declared <= MAX_MESSAGE_BYTES && inflight.used + declared > inflight.maxBytes) return busy();
    const held = { bytes: 0 };
    try {
      await this.readAndHandle(req, res, principal, held, busy);
    } finally {
      inflight.release(held.bytes);
    }
  }

  private async readAndHandle(req: IncomingMessage, res: ServerResponse, principal: Parameters<AgentHub['handle']>[1]['principal'], held: { bytes: number }, busy: () => void): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, MAX_MESSAGE_BYTES, this.deps.inflight, held);
      if ((req.headers['content-encoding'] ?? '').toLowerCase() === 'gzip') {
        body = await gunzipAsync(body, { maxOutputLength: MAX_MESSAGE_BYTES });
        if (!this.deps.inflight.tryTake(body.length)) return busy();
        held.bytes += body.length;
      }
    } catch (err) {
      if (err instanceof OverBudgetError) return busy();
      if (err instanceof TooLargeError || (err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        return plain(res, 413, `message larger than ${MAX_MESSAGE_BYTES} bytes`, { Connection: 'close' });
      }
      return plain(res, 400, 'request body is not valid gzip');
    }
    try {
      const msg = decodeAgentToServer(body);
      const { reply } = await this.deps.hub.handle(msg, { transport: 'http', principal, address: sourceAddress(req.socket), origin: requestOrigin(req) });
      const bytes = encodeServerToAgent(reply);
      res.writeHead(200, { 'Content-Type': PROTOBUF_CONTENT_TYPE, 'Content-Length': bytes.length });
      res.end(bytes);
    } catch (err) {
      if (err instanceof ProtocolError) return plain(res, 400, 'request body is not a valid AgentToServer protobuf');
      if (err instanceof AgentRevokedError) return plain(res, 401, 'agent revoked');
      if (err instanceof EnrollmentRefusedError) return plain(res, err.status, err.message);
      if (err instanceof RateLimitedError) return plain(res, 429, err.message, { 'Retry-After': String(err.retryAfterSeconds) });
      if (err instanceof TokenRevokedError) return plain(res, 401, 'enrollment token revoked');
      this.deps.log.error({ err }, 'failed to handle OpAMP message');
      return plain(res, 500, 'internal error');
    }
  }
}
