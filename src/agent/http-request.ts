/**
 * One HTTP(S) request with node:http / node:https, for the agent's downloads
 * and health checks. Not `fetch()`: its first use costs the agent ~12 MiB of
 * RSS (undici and its llhttp WebAssembly) for as long as it runs, and under
 * the agent's `--lite-mode` (node-flags.ts) there is no WebAssembly at all:
 * undici then fails to load and takes the process down. node:http parses
 * with Node's built-in (native) llhttp instead.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import { dialTls, type ServerTrust } from './server-trust.js';

export interface HttpRequestOptions {
  /** Default 'GET'. */
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  /** Aborts the request, before or after the answer started: the promise (or the body stream) then fails with an AbortError. */
  signal?: AbortSignal;
  /** Trusted CAs for https, instead of Node's default store (tests). */
  ca?: SecureContextOptions['ca'];
  /** How an https server is verified (CA file or pinned certificate): the connection is verified before the request is written. */
  trust?: ServerTrust;
}

/**
 * Sends a request without a body. Resolves once the answer's status and
 * headers arrived, whatever the status (redirects are not followed: a 3xx is
 * returned as is). The caller must consume or destroy the body. Rejects for
 * an unsupported protocol, a network or TLS error, or an abort.
 */
export async function request(url: string, opts: HttpRequestOptions = {}): Promise<IncomingMessage> {
  const target = new URL(url);
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new Error(`unsupported protocol ${target.protocol}`);
  const socket = target.protocol === 'https:' && opts.trust && (opts.trust.caPem !== null || opts.trust.fingerprint !== null) ? await dialTls(target, opts.trust) : null;
  return send(target, opts, socket);
}

function send(target: URL, opts: HttpRequestOptions, socket: TLSSocket | null): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, {
      method: opts.method ?? 'GET',
      headers: opts.headers ?? {},
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
      ...(socket ? { createConnection: () => socket } : {}),
    });
    req.once('response', resolve);
    req.once('error', reject);
    req.end();
  });
}

/** Reads and drops the rest of an answer's body (so its connection can be reused); never throws. */
export async function drain(res: IncomingMessage): Promise<void> {
  try {
    for await (const chunk of res) void chunk;
  } catch {
    // A body cut short leaves nothing to reuse; the next request opens another connection.
  }
}
