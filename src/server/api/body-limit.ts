/**
 * The REST body bound for streamed (chunked) bodies: past MAX_REST_BODY_BYTES
 * the request is answered 413 naming the limit. Declared lengths are
 * refused earlier, before the API (rest-guard.ts). Package uploads stream
 * to the package service, which bounds them itself.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorResponse } from './error-handler.js';
import { MAX_REST_BODY_BYTES } from './limits.js';

export function restBodyLimit(): MiddlewareHandler {
  const limit = bodyLimit({
    maxSize: MAX_REST_BODY_BYTES,
    onError: (c) => errorResponse(c, 413, 'PAYLOAD_TOO_LARGE', `request body is over the limit of ${MAX_REST_BODY_BYTES} bytes (MAX_REST_BODY_BYTES)`),
  });
  return (c, next) => (c.req.method === 'POST' && c.req.path === '/api/v1/packages' ? next() : limit(c, next));
}
