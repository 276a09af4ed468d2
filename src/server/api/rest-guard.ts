/**
 * What every REST (and /metrics) request passes before the API sees it:
 * the failed-authentication penalty of its source address, a rate per
 * source address and per bearer token (429 + Retry-After), and the body
 * size bound for declared lengths (413 naming the limit; streamed bodies
 * are cut by `restBodyLimit` in the API). Answers with the API's JSON error
 * shape. Also watches answers: a 401 counts as a failed authentication.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Clock } from '../clock.js';
import { bearerToken, hashSecret } from '../auth/tokens.js';
import { sourceAddress, type AuthEdge, type FailedAuthGuard } from '../auth/failed-auth.js';
import { KeyedBuckets } from '../rate-limit/token-bucket.js';
import { MAX_RATE_LIMIT_KEYS, MAX_REST_BODY_BYTES, REST_REQUESTS_PER_ADDRESS, REST_REQUESTS_PER_TOKEN } from './limits.js';

/** Past this declared size an oversized body is not even drained: the connection is closed after the 413. */
const DRAIN_LIMIT_BYTES = 4 * MAX_REST_BODY_BYTES;

/** Routes whose body is not JSON and is bounded where it is read. */
const STREAMED_UPLOADS = new Set(['POST /api/v1/packages']);

function answer(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { code, message } }));
}

export class RestGuard {
  private readonly perAddress: KeyedBuckets;
  private readonly perToken: KeyedBuckets;

  constructor(private readonly deps: { clock: Clock; failedAuth: FailedAuthGuard; onLimited?: (reason: 'address' | 'token') => void }) {
    this.perAddress = new KeyedBuckets(REST_REQUESTS_PER_ADDRESS, deps.clock, MAX_RATE_LIMIT_KEYS);
    this.perToken = new KeyedBuckets(REST_REQUESTS_PER_TOKEN, deps.clock, MAX_RATE_LIMIT_KEYS);
  }

  /** Returns true when it answered the request itself (refused it); else the caller goes on. */
  refuse(req: IncomingMessage, res: ServerResponse, path: string, edge: AuthEdge): boolean {
    const address = sourceAddress(req.socket);
    res.once('finish', () => {
      if (res.statusCode === 401) this.deps.failedAuth.failed(address, edge);
    });
    const tooMany = (retryAfterMs: number, reason: 'address' | 'token' | null, message: string) => {
      // Failed-auth refusals are counted by the guard itself.
      if (reason) this.deps.onLimited?.(reason);
      req.resume();
      answer(res, 429, 'RATE_LIMITED', message, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) });
      return true;
    };
    const penalty = this.deps.failedAuth.admit(address, edge);
    if (!penalty.ok) return tooMany(penalty.retryAfterMs, null, 'too many failed authentications from this address; retry later');
    const byAddress = this.perAddress.take(address);
    if (!byAddress.ok) return tooMany(byAddress.retryAfterMs, 'address', `more than ${REST_REQUESTS_PER_ADDRESS.refillPerSecond} requests a second from this address; retry later`);
    const token = bearerToken(req.headers.authorization);
    if (token) {
      const byToken = this.perToken.take(hashSecret(token));
      if (!byToken.ok) return tooMany(byToken.retryAfterMs, 'token', `more than ${REST_REQUESTS_PER_TOKEN.refillPerSecond} requests a second with this token; retry later`);
    }
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_REST_BODY_BYTES && !STREAMED_UPLOADS.has(`${req.method ?? ''} ${path}`)) {
      // A body a little over is read and dropped, so the client gets to read the answer instead of a reset; a huge one is cut off.
      const drain = declared <= DRAIN_LIMIT_BYTES;
      if (drain) req.resume();
      answer(res, 413, 'PAYLOAD_TOO_LARGE', `request body is ${declared} bytes, over the limit of ${MAX_REST_BODY_BYTES} bytes (MAX_REST_BODY_BYTES)`, drain ? {} : { Connection: 'close' });
      return true;
    }
    return false;
  }
}
