/** Small helpers every route file uses to describe responses the same way. */
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { ErrorBody } from './schemas.js';
import type { ApiEnv } from './api-env.js';

export const json = <T extends z.ZodType>(schema: T, description: string) => ({ content: { 'application/json': { schema } }, description });

export const errors = {
  400: json(ErrorBody, 'invalid request'),
  401: json(ErrorBody, 'missing or invalid token'),
  404: json(ErrorBody, 'not found'),
  409: json(ErrorBody, 'conflicts with the current state'),
};

export const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Who asked, for events and rollouts: the user the request's token belongs to (set by the auth middleware). */
export function actorOf(c: Context<ApiEnv>): string {
  return c.get('actor').name;
}
