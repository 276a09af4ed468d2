/**
 * The CLI's HTTP client for /api/v1: bearer token, JSON, and API errors
 * turned into CliErrors with the right exit code.
 */
import { CliError, EXIT } from './exit-codes.js';
import type { Credentials } from './credentials.js';
import { hostname, userInfo } from 'node:os';

function actor(): string {
  try {
    return `${userInfo().username}@${hostname()}`;
  } catch {
    return `uid-${process.getuid?.() ?? 'unknown'}@${hostname()}`;
  }
}

export class ApiClient {
  constructor(readonly creds: Credentials) {}

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, body === undefined ? undefined : { body: JSON.stringify(body), contentType: 'application/json' });
  }

  /** Sends a file (a Blob streams from disk) as the raw request body. */
  upload<T>(path: string, body: Blob, contentType: string): Promise<T> {
    return this.send<T>('POST', path, { body, contentType }, 600_000);
  }

  private async send<T>(method: string, path: string, payload?: { body: string | Blob; contentType: string }, timeoutMs = 30_000): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.creds.server + path, {
        method,
        headers: {
          ...(this.creds.token ? { authorization: `Bearer ${this.creds.token}` } : {}),
          ...(payload ? { 'content-type': payload.contentType } : {}),
          // Recorded with operator actions (who paused, rolled back, ...).
          'x-corral-actor': actor(),
        },
        body: payload?.body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, bad port…) is in its cause.
      const inner = (e as { cause?: { code?: string; message?: string } }).cause;
      const cause = inner?.code ?? inner?.message ?? (e as Error).message;
      throw new CliError(`cannot reach the Corral server at ${this.creds.server} (${cause}); set --server or CORRAL_SERVER`, EXIT.UNREACHABLE, 'UNREACHABLE', { cause: e });
    }
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page, say): errors fall back to the HTTP status below.
      if (res.ok) throw new CliError(`${method} ${path}: the server answered ${res.status} with a body that is not JSON`, EXIT.ERROR, 'BAD_RESPONSE');
    }
    if (res.ok) return parsed as T;
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const message = err?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401) {
      const hint = this.creds.token ? 'the token was refused' : 'no token given';
      throw new CliError(`${message}: ${hint}; pass --token, set CORRAL_TOKEN, or run corral login`, EXIT.AUTH, err?.code ?? 'UNAUTHENTICATED');
    }
    throw new CliError(message, EXIT.ERROR, err?.code ?? `HTTP_${res.status}`);
  }
}
