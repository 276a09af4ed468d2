/**
 * The audit middleware: after the handler (and whatever refused the request
 * before it) has answered, records every write (any method but GET, HEAD and
 * OPTIONS, so every job/exec start too) with who, from where, the route
 * template, a summary with secrets masked (src/server/audit/summarize.ts),
 * the target and the outcome (the HTTP status: refusals included).
 *
 * Registered right after authentication: requests without a valid token are
 * answered 401 before this runs and are not recorded (they are counted and
 * rate-limited per address by the REST guard instead, so an anonymous
 * caller cannot flood the log). Every authenticated write is, whatever its
 * outcome. The answer waits for the record to be stored, so a client that
 * got its answer finds its record.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { ApiEnv } from './api-env.js';
import type { AuditService } from '../audit/audit-service.js';
import type { Clock } from '../clock.js';
import { MASK, needsResponse, summarizeRequest } from '../audit/summarize.js';
import type { AuditOutcome } from '../store/index.js';
import type { Actor } from '../auth/actor.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** An error message is recorded up to this many characters. */
export const MAX_AUDIT_MESSAGE_CHARS = 1024;

export function outcomeOf(status: number): AuditOutcome {
  if (status < 400) return 'ok';
  return status === 401 || status === 403 ? 'denied' : 'error';
}

/** `/api/v1/deployments/:name` → `/api/v1/deployments/{name}` (a `{regex}` suffix dropped). */
export function routeTemplate(honoPath: string): string {
  return honoPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, '{$1}');
}

/** The parameters of `path` by the template's `:name` segments. */
function paramsOf(honoPath: string, path: string): Record<string, string> {
  const t = honoPath.replace(/:([A-Za-z0-9_]+)\{[^}]*\}/g, ':$1').split('/');
  const p = path.split('/');
  const out: Record<string, string> = {};
  t.forEach((seg, i) => {
    if (!seg.startsWith(':') || p[i] === undefined) return;
    try {
      out[seg.slice(1)] = decodeURIComponent(p[i]!).slice(0, 256);
    } catch {
      out[seg.slice(1)] = p[i]!.slice(0, 256);
    }
  });
  return out;
}

/** The route that answered: the last matched one that is not middleware (registered with `use`). */
function handlerRoute(c: Context<ApiEnv>): string | null {
  const routes = matchedRoutes(c).filter((r) => r.method !== 'ALL' && !r.path.includes('*'));
  return routes.at(-1)?.path ?? null;
}

/** Strings the request marks secret (secret values, secret config file bodies): scrubbed from whatever is recorded. */
function secretsIn(body: unknown): string[] {
  if (typeof body !== 'object' || body === null) return [];
  const b = body as Record<string, unknown>;
  const out: string[] = [];
  if (typeof b.secretValues === 'object' && b.secretValues !== null) for (const v of Object.values(b.secretValues)) if (typeof v === 'string') out.push(v);
  if (typeof b.files === 'object' && b.files !== null) {
    for (const f of Object.values(b.files as Record<string, unknown>)) {
      const file = f as { secret?: unknown; body?: unknown } | null;
      if (file?.secret === true && typeof file.body === 'string') out.push(file.body);
    }
  }
  // Short strings would mask ordinary words; values this short are masked in the summary anyway.
  return out.filter((s) => s.length >= 4);
}

function scrub(text: string, secrets: string[]): string {
  let out = text;
  for (const s of secrets) out = out.split(s).join(MASK);
  return out;
}

/** `scrub` on every string (keys too) of a JSON value. */
function scrubDeep(v: unknown, secrets: string[]): unknown {
  if (typeof v === 'string') return scrub(v, secrets);
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, secrets));
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [scrub(k, secrets), scrubDeep(x, secrets)]));
}

async function requestBody(c: Context<ApiEnv>): Promise<unknown> {
  const validated = (c.req as unknown as { valid(target: string): unknown }).valid('json');
  if (validated !== undefined) return validated;
  // Only a body someone already read (a validator that refused it, an authorization check): never read one here.
  if (Object.keys(c.req.bodyCache).length === 0) return undefined;
  return c.req.json().catch(() => undefined);
}

async function responseJson(c: Context<ApiEnv>): Promise<Record<string, unknown> | undefined> {
  if (!(c.res.headers.get('content-type') ?? '').includes('application/json')) return undefined;
  try {
    return (await c.res.clone().json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

export function auditMiddleware(deps: { audit: AuditService; clock: Clock; onError: (err: unknown, method: string, path: string) => void }): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    if (READS.has(c.req.method)) return next();
    const at = deps.clock.now();
    await next();
    const actor = c.get('actor');
    if (!actor) return;
    try {
      await record(c, actor, at);
    } catch (err) {
      // The answer stands; the failure is logged and counted where records are stored, or here.
      deps.onError(err, c.req.method, c.req.path);
    }
  };

  async function record(c: Context<ApiEnv>, actor: Actor, at: number): Promise<void> {
    const status = c.res.status;
    const outcome = outcomeOf(status);
    const honoPath = handlerRoute(c);
    const route = honoPath ? routeTemplate(honoPath) : 'unmatched';
    const body = await requestBody(c);
    const answer = outcome !== 'ok' || needsResponse(c.req.method, route) ? await responseJson(c) : undefined;
    const secrets = secretsIn(body);
    const { summary, target } = summarizeRequest({
      method: c.req.method,
      route,
      params: honoPath ? paramsOf(honoPath, c.req.path) : {},
      body,
      response: outcome === 'ok' && needsResponse(c.req.method, route) ? answer : undefined,
    });
    if (!honoPath) summary.path = c.req.path.slice(0, 256);
    const errorMessage = (answer?.error as { message?: unknown } | undefined)?.message;
    const message = outcome === 'ok' ? '' : scrub(typeof errorMessage === 'string' ? errorMessage : `HTTP ${status}`, secrets).slice(0, MAX_AUDIT_MESSAGE_CHARS);
    const clean = (v: Record<string, unknown>) => scrubDeep(v, secrets) as Record<string, unknown>;
    const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
    await deps.audit.record({
      at,
      actor: actor.name,
      actorUserId: actor.userId,
      actorTokenId: actor.tokenId,
      source: incoming?.socket?.remoteAddress ?? '',
      action: `${c.req.method} ${route}`,
      summary: clean(summary),
      target: clean(target),
      status,
      outcome,
      message,
    });
  }
}
