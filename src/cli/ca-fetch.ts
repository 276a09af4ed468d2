/**
 * `fetch` for https servers signed by a private CA (`--ca-file`): Node 20's
 * global fetch trusts only the bundled CAs (and NODE_EXTRA_CA_CERTS, read at
 * start), so a request with a CA goes through node:https instead and comes
 * back as a standard Response (streamed body, for SSE too).
 */
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { CliError, EXIT } from './exit-codes.js';

/** Reads `--ca-file`; a usage error naming the file when it is unreadable or holds no certificate. */
export function readCliCaFile(path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CliError(`--ca-file ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, EXIT.ERROR, 'INVALID_ARGUMENT');
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new CliError(`--ca-file ${path}: no PEM certificate in it`, EXIT.ERROR, 'INVALID_ARGUMENT');
  return text;
}

const NO_BODY = new Set([101, 204, 205, 304]);

/** A fetch that trusts `caPem` for https:// URLs (http:// is refused: a CA makes sense only with TLS). */
export function fetchWithCa(url: string, init: RequestInit, caPem: string): Promise<Response> {
  const target = new URL(url);
  if (target.protocol !== 'https:') return Promise.reject(new Error(`--ca-file needs an https:// server, got ${target.protocol}//`));
  return new Promise((resolve, reject) => {
    const headers = new Headers(init.headers);
    const body = init.body;
    if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Blob)) {
      return reject(new Error('fetchWithCa sends string or Blob bodies only'));
    }
    const req = request(target, { method: init.method ?? 'GET', headers: Object.fromEntries(headers), ca: caPem, ...(init.signal ? { signal: init.signal } : {}) }, (res) => {
      const out = new Headers();
      for (const [k, v] of Object.entries(res.headers)) {
        if (v !== undefined) out.set(k, Array.isArray(v) ? v.join(', ') : v);
      }
      const status = res.statusCode ?? 502;
      const stream = NO_BODY.has(status) || init.method === 'HEAD' ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      if (!stream) res.resume();
      resolve(new Response(stream, { status, statusText: res.statusMessage ?? '', headers: out }));
    });
    req.once('error', (err) => reject(Object.assign(new TypeError('fetch failed'), { cause: err })));
    if (typeof body === 'string') req.end(body);
    else if (body instanceof Blob) {
      Readable.fromWeb(body.stream() as import('node:stream/web').ReadableStream).pipe(req);
    } else req.end();
  });
}
