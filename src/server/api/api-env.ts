/** The Hono environment of the REST API: what middleware hands the routes. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Actor } from '../auth/actor.js';

export interface ApiEnv {
  Variables: {
    /** Set by the authentication middleware on every authenticated /api/v1 request. */
    actor: Actor;
  };
}

export type ApiApp = OpenAPIHono<ApiEnv>;
