/**
 * The CLI's HTTP client for /api/v1: bearer token, JSON, and API errors
 * turned into CliErrors with the right exit code.
 */
import { CliError, EXIT } from './exit-codes.js';
import type { Credentials } from './credentials.js';
import { fetchWithCa } from './ca-fetch.js';

export class ApiClient {
  /** `caPem`: trust these CAs for an https server (--ca-file) instead of the bundled ones. */
  constructor(
    readonly creds: Credentials,
    private readonly caPem: string | null = null,
  ) {}

  /** fetch() against this server's URLs, trusting --ca-file when given. */
  fetch(url: string, init: RequestInit = {}): Promise<Response> {
    return this.caPem ? fetchWithCa(url, init, this.caPem) : fetch(url, init);
  }

  request<T>(method: string, path: string, body?: unknown): Promise<T> {
    return this.send<T>(method, path, body === undefined ? undefined : { body: JSON.stringify(body), contentType: 'application/json' });
  }

  /** Sends a file (a Blob streams from disk) as the raw request body. */
  upload<T>(path: string, body: Blob, contentType: string, headers: Record<string, string> = {}): Promise<T> {
    return this.send<T>('POST', path, { body, contentType, headers }, 600_000);
  }

  /**
   * Opens a Server-Sent Events stream (read it with readSse); it has no
   * timeout and stays open until the server ends it or the process exits.
   * API errors become CliErrors as for request().
   */
  async events(path: string): Promise<ReadableStream<Uint8Array>> {
    const res = await this.open('GET', path, { accept: 'text/event-stream' });
    if (res.ok && res.body) return res.body;
    throw this.failure(res, await res.text());
  }

  private async send<T>(method: string, path: string, payload?: { body: string | Blob; contentType: string; headers?: Record<string, string> }, timeoutMs = 30_000): Promise<T> {
    const res = await this.open(method, path, payload ? { ...payload.headers, 'content-type': payload.contentType } : {}, payload?.body, AbortSignal.timeout(timeoutMs));
    const text = await res.text();
    if (res.ok) {
      try {
        return (text ? JSON.parse(text) : null) as T;
      } catch {
        throw new CliError(`${method} ${path}: the server answered ${res.status} with a body that is not JSON`, EXIT.ERROR, 'BAD_RESPONSE');
      }
    }
    throw this.failure(res, text);
  }

  private async open(method: string, path: string, headers: Record<string, string>, body?: string | Blob, signal?: AbortSignal): Promise<Response> {
    try {
      return await this.fetch(this.creds.server + path, {
        method,
        headers: {
          ...(this.creds.token ? { authorization: `Bearer ${this.creds.token}` } : {}),
          ...headers,
        },
        body,
        signal,
      });
    } catch (e) {
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, bad port…) is in its cause.
      const inner = (e as { cause?: { code?: string; message?: string } }).cause;
      const cause = inner?.code ?? inner?.message ?? (e as Error).message;
      throw new CliError(`cannot reach the Corral server at ${this.creds.server} (${cause}); set --server or CORRAL_SERVER`, EXIT.UNREACHABLE, 'UNREACHABLE', { cause: e });
    }
  }

  /** An API error response as a CliError: `{ error: { code, message } }`, or the HTTP status when the body is not that. */
  private failure(res: Response, text: string): CliError {
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      // Not JSON (a proxy's error page, say): the HTTP status says what happened.
      parsed = null;
    }
    const err = (parsed as { error?: { code?: string; message?: string } } | null)?.error;
    const message = err?.message ?? `${res.status} ${res.statusText}`;
    if (res.status === 401) {
      const hint = this.creds.token ? 'the token was refused' : 'no token given';
      return new CliError(`${message}: ${hint}; pass --token, set CORRAL_TOKEN, or run corral login`, EXIT.AUTH, err?.code ?? 'UNAUTHENTICATED');
    }
    return new CliError(message, EXIT.ERROR, err?.code ?? `HTTP_${res.status}`);
  }
}
