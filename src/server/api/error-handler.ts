/**
 * The one place where errors become HTTP responses:
 * `{ "error": { "code", "message", "field"? } }` with a status chosen by
 * code; `field` names the request field a 400 is about, as a dotted path
 * into the request (`selector`, `policy.canary`, `roles`), so a form can
 * show the message beside it.
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';
import { CorralError, RateLimitedError, ValidationError } from '../errors.js';

const STATUS_BY_CODE: Record<string, ContentfulStatusCode> = {
  INVALID_ARGUMENT: 400,
  INVALID_SELECTOR: 400,
  UNAUTHENTICATED: 401,
  AGENT_NOT_FOUND: 404,
  TOKEN_NOT_FOUND: 404,
  TOKEN_LIMIT: 409,
  CONFIG_NOT_FOUND: 404,
  NOT_FOUND: 404,
  AGENT_REVOKED: 409,
  AGENT_NOT_REVOKED: 409,
  INVALID_PACKAGE: 400,
  PACKAGE_CONFLICT: 409,
  ARTIFACT_NOT_FOUND: 404,
  DEPLOYMENT_NOT_FOUND: 404,
  PACKAGE_NOT_FOUND: 404,
  AGENT_UNAVAILABLE: 409,
  AGENT_REFUSED: 409,
  AGENT_TIMEOUT: 504,
  JOB_NOT_FOUND: 404,
  ROLLOUT_NOT_FOUND: 404,
  REVISION_NOT_FOUND: 404,
  ROLLOUT_STATE: 409,
  RATE_LIMITED: 429,
  FORBIDDEN: 403,
  USER_NOT_FOUND: 404,
  USER_EXISTS: 409,
  LAST_ADMIN: 409,
  SELF: 409,
  BUILTIN_USER: 409,
  // The server's secrets key is missing or is not the one the secrets were sealed with: an operator must fix its start options.
  SECRETS_KEY_MISSING: 503,
  SECRET_UNREADABLE: 503,
};

export function errorResponse(c: Context, status: ContentfulStatusCode, code: string, message: string, details?: Record<string, unknown>): Response {
  return c.json({ error: { ...details, code, message } }, status);
}

export function describeZodError(error: ZodError): string {
  return error.issues
    .map((i) => `${i.path.length > 0 ? i.path.join('.') : 'body'}: ${i.message}`)
    .join('; ');
}

/** A request that failed its schema, as a ValidationError naming the first field at fault (none when it is the whole body). */
export function zodValidationError(error: ZodError): ValidationError {
  const path = error.issues[0]?.path ?? [];
  return new ValidationError(describeZodError(error), path.length > 0 ? path.join('.') : undefined);
}

export function handleError(err: unknown, c: Context, log: Logger): Response {
  if (err instanceof CorralError) {
    const status = STATUS_BY_CODE[err.code] ?? 500;
    if (status === 500) log.error({ err }, 'request failed');
    let details = status !== 500 && 'details' in err ? (err.details as Record<string, unknown>) : undefined;
    if (err instanceof ValidationError && err.field !== undefined) details = { ...details, field: err.field };
    if (err instanceof RateLimitedError) c.header('Retry-After', String(err.retryAfterSeconds));
    return errorResponse(c, status, err.code, status === 500 ? 'internal error' : err.message, details);
  }
  if (err instanceof HTTPException && err.status < 500) {
    return errorResponse(c, err.status as ContentfulStatusCode, err.status === 401 ? 'UNAUTHENTICATED' : 'INVALID_ARGUMENT', err.message);
  }
  log.error({ err }, 'request failed');
  return errorResponse(c, 500, 'INTERNAL', 'internal error');
}
