/**
 * The console's only way to the server: the public REST API under /api/v1
 * with the session's bearer token. Errors carry the API's `{error: {code,
 * message}}` so pages can show the server's own words beside a field.
 */
import { getToken, signOut } from '../session';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** A 400's field at fault, as the server names it: a dotted path into the request (`selector`, `policy.canary`). */
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Token to use instead of the session's (sign-in checks one before keeping it). */
  token?: string;
  /** Send a request refused with 429 again after its Retry-After (default true); false shows the refusal at once. */
  retryRateLimited?: boolean;
}

export function authHeaders(token = getToken()): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** Times a request refused with 429 is sent again after the server's Retry-After (capped), before its error shows. */
const RATE_LIMIT_RETRIES = 5;
const MAX_RETRY_WAIT_MS = 10_000;

function retryWait(res: Response, signal: AbortSignal | undefined): Promise<void> {
  const seconds = Number(res.headers.get('Retry-After'));
  const ms = Math.min(MAX_RETRY_WAIT_MS, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000);
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(t);
      reject(new DOMException('aborted', 'AbortError'));
    });
  });
}

/**
 * One API call. A 429 (the server's per-token rate limit; nothing was done)
 * is retried after its Retry-After, so a bulk action over hundreds of agents
 * slows down instead of failing part-way.
 */
export async function api<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(opts.token ?? getToken()) };
  let body: BodyInit | undefined;
  if (opts.body instanceof Blob || opts.body instanceof ArrayBuffer) body = opts.body;
  else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(path, { method: opts.method ?? 'GET', headers, body, signal: opts.signal });
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err;
      throw new ApiError(0, 'NETWORK', 'cannot reach the server');
    }
    if (res.status !== 429 || attempt >= RATE_LIMIT_RETRIES || opts.retryRateLimited === false) break;
    await retryWait(res, opts.signal);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok) {
    const e = (parsed as { error?: { code?: string; message?: string; field?: string } } | null)?.error;
    // A token that stops working (revoked, expired) ends the session, unless this call was checking a new one.
    if (res.status === 401 && opts.token === undefined) signOut();
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? `${res.status} ${res.statusText}`, typeof e?.field === 'string' ? e.field : null);
  }
  return parsed as T;
}

/** Encodes one path segment (agent ids, names) for an API path. */
export const seg = (s: string) => encodeURIComponent(s);

/** Query string from the defined, non-empty values. */
export function qs(params: Record<string, string | number | undefined | null>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}
