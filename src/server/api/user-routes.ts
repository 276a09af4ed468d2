/**
 * REST for users, their roles and API tokens (admin), and whoami with the
 * caller's own tokens (anyone with a valid token: list, create, revoke).
 */
import type { ApiApp } from './api-env.js';
import { createRoute, z } from '@hono/zod-openapi';
import type { TokenRecord, UserRecord } from '../store/index.js';
import type { UserService } from '../users/user-service.js';
import { BUILTIN_ADMIN } from '../auth/actor.js';
import { errors, iso, json } from './openapi-helpers.js';
import { TokenListQuery, tokenPageSchema } from './token-page.js';
import { MAX_ROLES_PER_USER, MAX_ACTIVE_TOKENS_PER_USER, MAX_OWN_TOKENS_PER_DAY, OWN_TOKEN_DEFAULT_LIFETIME_DAYS, OWN_TOKEN_MAX_LIFETIME_DAYS } from '../users/limits.js';

const RoleBindingSchema = z
  .object({
    role: z.enum(['viewer', 'operator', 'admin']),
    selector: z.string().max(4096).default('').openapi({ description: "the agents the role applies to ('' = the whole fleet)", example: 'env=staging' }),
  })
  .strict()
  .openapi('RoleBinding');

const User = z
  .object({
    id: z.string(),
    name: z.string(),
    createdAt: z.string(),
    disabledAt: z.string().nullable(),
    builtin: z.boolean().openapi({ description: 'the built-in admin the first-start admin token belongs to' }),
    roles: z.array(z.object({ role: z.string(), selector: z.string() })),
  })
  .openapi('User');

const ApiToken = z
  .object({
    id: z.string(),
    name: z.string(),
    prefix: z.string(),
    createdAt: z.string(),
    expiresAt: z.string().nullable(),
    revokedAt: z.string().nullable(),
    parentId: z.string().nullable().openapi({ description: 'the token this one was created with (by its user, POST /api/v1/whoami/tokens); revoking that one revokes this one too. null: created by an admin' }),
    roles: z.array(z.object({ role: z.string(), selector: z.string() })).nullable().openapi({
      description: "the token's own role bindings: it acts with those within its user's roles at the time of each request. null: it acts with all of its user's roles",
    }),
  })
  .openapi('ApiToken');
const ApiTokenPage = tokenPageSchema(ApiToken, 'ApiTokenPage');
const CreatedApiToken = ApiToken.extend({ token: z.string().openapi({ description: 'the secret, shown once' }) }).openapi('CreatedApiToken');
const RevokedApiToken = ApiToken.extend({
  alsoRevoked: z.array(z.string()).openapi({ description: 'ids of the tokens created with this one (and with those) that this call revoked too' }),
}).openapi('RevokedApiToken');

const NewUser = z.object({ name: z.string().min(1).max(64), roles: z.array(RoleBindingSchema).max(32).default([]) }).strict().openapi('NewUser');
const UserPatch = z
  .object({ disabled: z.boolean().optional(), roles: z.array(RoleBindingSchema).max(32).optional().openapi({ description: 'replaces every role binding' }) })
  .strict()
  .openapi('UserPatch');
const NewToken = z
  .object({
    name: z.string().min(1).max(64),
    expiresIn: z.string().max(16).optional().openapi({ example: '30d', description: 'a duration: 90s, 30m, 24h, 7d' }),
    expiresAt: z.string().max(64).optional().openapi({ description: 'an ISO 8601 date-time' }),
    roles: z
      .array(RoleBindingSchema)
      .max(MAX_ROLES_PER_USER)
      .optional()
      .openapi({
        description:
          "narrows the token to these role bindings, each within the user's roles (the same or a higher role on '' or on a selector the requested one implies, e.g. env=staging,role=web within env=staging; 400 naming those that are not). " +
          "Each request with it acts with those still within the user's roles then (a binding's role capped at the user's, dropped when none covers it). Absent: acts with all of the user's roles",
      }),
  })
  .strict()
  .openapi('NewApiToken');
const NewOwnToken = NewToken.openapi('NewOwnApiToken', {
  description:
    `A token of your own: it may expire no later than the token you call with, and at most ${OWN_TOKEN_MAX_LIFETIME_DAYS} days from now; without an expiry, in ${OWN_TOKEN_DEFAULT_LIFETIME_DAYS} days (or with the token you call with, if sooner). ` +
    'Its roles must be within what the token you call with may do now (GET /api/v1/whoami); without roles, it is narrowed as the token you call with is',
});

const Name = z.object({ name: z.string().min(1).max(64).openapi({ param: { name: 'name', in: 'path' } }) });
const TokenId = z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) });
const TokenRef = Name.extend(TokenId.shape);

const userView = (u: UserRecord) => ({ id: u.id, name: u.name, createdAt: iso(u.createdAt)!, disabledAt: iso(u.disabledAt), builtin: u.id === BUILTIN_ADMIN, roles: u.roles });
const tokenView = (t: TokenRecord) => ({ id: t.id, name: t.name, prefix: t.prefix, createdAt: iso(t.createdAt)!, expiresAt: iso(t.expiresAt), revokedAt: iso(t.revokedAt), parentId: t.parentId, roles: t.roles });
const revokedView = (r: { token: TokenRecord; alsoRevoked: TokenRecord[] }) => ({ ...tokenView(r.token), alsoRevoked: r.alsoRevoked.map((t) => t.id) });

export function addUserRoutes(app: ApiApp, users: UserService): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/whoami',
      summary: 'The user this request acts as (from its token), what it may do and the token',
      responses: {
        200: json(
          z.object({
            id: z.string(),
            name: z.string(),
            roles: z.array(z.object({ role: z.string(), selector: z.string() })).openapi({ description: "what requests with this token may do now: the user's roles, or for a narrowed token those of its roles within the user's" }),
            tokenRoles: z.array(z.object({ role: z.string(), selector: z.string() })).nullable().openapi({ description: "the token's own role bindings; null: it acts with all of the user's roles" }),
            tokenId: z.string(),
          }),
          'you',
        ),
        401: errors[401],
      },
    }),
    (c) => {
      const a = c.get('actor');
      return c.json({ id: a.userId, name: a.name, roles: a.roles, tokenRoles: a.tokenRoles ?? null, tokenId: a.tokenId }, 200);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/v1/users', summary: 'List users and their roles', responses: { 200: json(z.object({ users: z.array(User) }), 'users'), 401: errors[401] } }),
    async (c) => c.json({ users: (await users.list()).map(userView) }, 200),
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/users',
      summary: 'Create a user with role bindings (role on a selector; no token yet: see /users/{name}/tokens)',
      request: { body: { content: { 'application/json': { schema: NewUser } }, required: true } },
      responses: { 201: json(User, 'the user'), ...errors },
    }),
    async (c) => {
      const body = c.req.valid('json');
      return c.json(userView(await users.create(body.name, body.roles)), 201);
    },
  );

  app.openapi(
    createRoute({ method: 'get', path: '/api/v1/users/{name}', summary: 'One user', request: { params: Name }, responses: { 200: json(User, 'the user'), ...errors } }),
    async (c) => c.json(userView(await users.get(c.req.valid('param').name)), 200),
  );

  app.openapi(
    createRoute({
      method: 'patch',
      path: '/api/v1/users/{name}',
      summary: "Disable or enable a user (a disabled user's tokens are refused), or replace its roles (409 LAST_ADMIN when no enabled admin on the whole fleet would remain)",
      request: { params: Name, body: { content: { 'application/json': { schema: UserPatch } }, required: true } },
      responses: { 200: json(User, 'the user after the change'), ...errors },
    }),
    async (c) => c.json(userView(await users.update(c.get('actor'), c.req.valid('param').name, c.req.valid('json'))), 200),
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/users/{name}',
      summary: 'Delete a user: its roles go and its tokens are revoked',
      request: { params: Name },
      responses: { 200: json(z.object({ deleted: z.string() }), 'deleted'), ...errors },
    }),
    async (c) => c.json({ deleted: (await users.delete(c.get('actor'), c.req.valid('param').name)).name }, 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/users/{name}/tokens',
      summary: "A user's API tokens a page at a time (oldest first, or newest with sort=-createdAt), filtered by state (secrets are never shown again)",
      request: { params: Name, query: TokenListQuery },
      responses: { 200: json(ApiTokenPage, 'one page of tokens'), ...errors },
    }),
    async (c) => {
      const page = await users.tokens(c.req.valid('param').name, c.req.valid('query'));
      return c.json({ ...page, tokens: page.tokens.map(tokenView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/users/{name}/tokens',
      summary: "Create an API token for a user, optionally narrowed to roles within the user's (400 naming those that are not); its secret is in this answer only",
      request: { params: Name, body: { content: { 'application/json': { schema: NewToken } }, required: true } },
      responses: { 201: json(CreatedApiToken, 'the token'), ...errors },
    }),
    async (c) => {
      const { record, secret } = await users.createToken(c.req.valid('param').name, c.req.valid('json'));
      return c.json({ ...tokenView(record), token: secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/users/{name}/tokens/{id}',
      summary: "Revoke one of a user's API tokens, and the tokens created with it: refused from the next request on",
      request: { params: TokenRef },
      responses: { 200: json(RevokedApiToken, 'the revoked token'), ...errors },
    }),
    async (c) => {
      const { name, id } = c.req.valid('param');
      return c.json(revokedView(await users.revokeToken(name, id)), 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/whoami/tokens',
      summary: 'Your own API tokens a page at a time (oldest first, or newest with sort=-createdAt), revoked and expired ones too unless filtered by state (secrets are never shown again)',
      request: { query: TokenListQuery },
      responses: { 200: json(ApiTokenPage, 'one page of your tokens'), ...errors },
    }),
    async (c) => {
      const page = await users.ownTokens(c.get('actor'), c.req.valid('query'));
      return c.json({ ...page, tokens: page.tokens.map(tokenView) }, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/whoami/tokens',
      summary:
        `Create an API token for yourself, acting as you (optionally narrowed to roles within what the token you call with may do: 400 naming those that are not); its secret is in this answer only. It expires no later than the token you call with, ` +
        `at most ${OWN_TOKEN_MAX_LIFETIME_DAYS} days from now (400 naming the bound), by default in ${OWN_TOKEN_DEFAULT_LIFETIME_DAYS} days; ` +
        `revoking the token you call with revokes it too. At most ${MAX_ACTIVE_TOKENS_PER_USER} active tokens per user (409 TOKEN_LIMIT) ` +
        `and ${MAX_OWN_TOKENS_PER_DAY} created this way per 24 hours (429)`,
      request: { body: { content: { 'application/json': { schema: NewOwnToken } }, required: true } },
      responses: { 201: json(CreatedApiToken, 'the token'), ...errors, 429: { ...errors[409], description: `over ${MAX_OWN_TOKENS_PER_DAY} tokens created in 24 hours (Retry-After says when)` } },
    }),
    async (c) => {
      const { record, secret } = await users.createOwnToken(c.get('actor'), c.req.valid('json'));
      return c.json({ ...tokenView(record), token: secret }, 201);
    },
  );

  app.openapi(
    createRoute({
      method: 'delete',
      path: '/api/v1/whoami/tokens/{id}',
      summary: "Revoke one of your own API tokens (the one you call with too), and the tokens created with it; another user's token is 404 TOKEN_NOT_FOUND",
      request: { params: TokenId },
      responses: { 200: json(RevokedApiToken, 'the revoked token'), ...errors },
    }),
    async (c) => c.json(revokedView(await users.revokeOwnToken(c.get('actor'), c.req.valid('param').id)), 200),
  );
}
