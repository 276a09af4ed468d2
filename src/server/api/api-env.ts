/** The Hono environment of the REST API: what middleware hands the routes. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Actor } from '../auth/actor.js';
import type { Selector } from '../fleet/selector.js';

export interface ApiEnv {
  Variables: {
    /** Set by the authentication middleware on every authenticated /api/v1 request. */
    actor: Actor;
    /**
     * Set by authorization for a reader whose bindings are all scoped, on
     * routes that list agents (target list-agents): the agents answered,
     * counted and faceted are those one of these selectors matches.
     * Undefined: the whole fleet.
     */
    agentScopes: readonly Selector[] | undefined;
  };
}

export type ApiApp = OpenAPIHono<ApiEnv>;
