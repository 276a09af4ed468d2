/**
 * REST for the fleet list and an agent's config diff: `GET /api/v1/agents` (everything at once, as the
 * CLI reads it, or one server-side page of it) and `GET
 * /api/v1/agents/facets` (counts for the console's filters), `GET /api/v1/agents/{id}/config-diff`.
 */
import { createRoute, z } from '@hono/zod-openapi';
import type { ApiApp } from './api-env.js';
import type { FleetService } from '../fleet/fleet-service.js';
import { ValidationError } from '../errors.js';
import { AGENT_LIST_STATUSES, AGENT_SORT_KEYS, type AgentListStatus } from '../store/index.js';
import { MAX_AGENT_PAGE, MAX_CURSOR_CHARS, MAX_FACET_KEYS, MAX_FACET_VALUES } from '../fleet/agent-list.js';
import { errors, json } from './openapi-helpers.js';
import { SEARCH_SEPARATOR } from '../store/index.js';
import { AgentConfigStatus, AgentSummary } from './schemas.js';

const MAX_Q_CHARS = 256;

const Selector = z.string().max(4096).optional().openapi({ description: 'Corral selector (`env=prod,role in (a,b),!canary,claim.host.arch=arm64`); a parse error is 400 INVALID_SELECTOR with its position', example: 'env=prod,!canary' });
const Q = z
  .string()
  .max(MAX_Q_CHARS)
  .refine((s) => !s.includes(SEARCH_SEPARATOR), 'q: must not contain the control character U+001F')
  .optional()
  .openapi({ description: 'free text, any case: a part of the name, of a trusted label value or of the host name (host.name), or the start of the id; without U+001F' });
const Status = z
  .union([z.string().max(64), z.array(z.string().max(64)).max(AGENT_LIST_STATUSES.length)])
  .optional()
  .openapi({
    description: `${AGENT_LIST_STATUSES.join(' | ')}, repeated (status=online&status=offline) or as a comma list; any of them matches. pending: enrolled, waiting for approval (not revoked); online/offline: approved agents`,
    example: 'online,pending',
  });

const AgentPage = z
  .object({
    agents: z.array(AgentSummary),
    total: z.number().openapi({ description: 'agents matching the filter, on all pages' }),
    nextCursor: z.string().nullable().openapi({ description: 'pass as `cursor` for the next page; null on the last page (and always without `limit`)' }),
    warnings: z.array(z.string()).openapi({ description: 'when a selector matches no agent: why, e.g. a label key no agent has ("did you mean env?")' }),
  })
  .openapi('AgentPage');

const Count = z.record(z.string(), z.number());
const AgentFacets = z
  .object({
    total: z.number().openapi({ description: 'agents matching the filter' }),
    byStatus: Count.openapi({ description: 'online, offline, pending, revoked: each agent counted once, so they add up to total' }),
    labels: z.record(z.string(), Count).openapi({ description: `trusted label key → value → agents: the ${MAX_FACET_KEYS} keys on most agents, each with its ${MAX_FACET_VALUES} most frequent values` }),
    os: Count.openapi({ description: `os.type → agents ('' when unreported); the ${MAX_FACET_VALUES} most frequent` }),
    arch: Count.openapi({ description: `host.arch → agents; the ${MAX_FACET_VALUES} most frequent` }),
    version: Count.openapi({ description: `agent version (service.version) → agents; the ${MAX_FACET_VALUES} most frequent` }),
  })
  .openapi('AgentFacets');

const ConfigFile = z.object({ contentType: z.string(), body: z.string() });
const ConfigDiff = z
  .object({
    agentId: z.string(),
    config: AgentConfigStatus,
    configNames: z.array(z.string()).openapi({ description: 'the named configs and deployments (deployment/<name>@<revision>) merged into what is offered' }),
    effectiveReported: z.boolean().openapi({ description: 'false: the agent reports no effective config (not every OpAMP agent does); every offered file then shows as missing' }),
    files: z.array(
      z.object({
        name: z.string(),
        state: z.enum(['same', 'changed', 'missing', 'extra']).openapi({ description: 'same; changed; missing: offered, not running; extra: running, not offered' }),
        desired: ConfigFile.nullable().openapi({ description: 'what the server offers' }),
        effective: ConfigFile.nullable().openapi({ description: 'what the agent reports running' }),
      }),
    ),
  })
  .openapi('ConfigDiff');

function statusesOf(input: string | string[] | undefined): AgentListStatus[] | undefined {
  if (input === undefined) return undefined;
  const list = (Array.isArray(input) ? input : [input]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  for (const s of list) {
    if (!AGENT_LIST_STATUSES.includes(s as AgentListStatus)) throw new ValidationError(`status must be ${AGENT_LIST_STATUSES.join(', ')}; got "${s}"`, 'status');
  }
  return [...new Set(list)] as AgentListStatus[];
}

export function addAgentListRoutes(app: ApiApp, fleet: FleetService): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents',
      summary: 'List agents: all at once (no limit, cursor, q, status or sort given), or one page at a time, filtered and sorted by the server',
      description:
        'Without `limit`, `cursor`, `q`, `status` and `sort`: every agent the selector matches, by name (total = their count, nextCursor null). ' +
        'With any of them: one page of `limit` (default 100) agents in `sort` order, after the agent `cursor` names (keyset paging: ' +
        'agents added or removed meanwhile never make a page repeat or skip another agent), and the total matching.',
      request: {
        query: z.object({
          selector: Selector,
          q: Q,
          status: Status,
          sort: z
            .string()
            .max(16)
            .optional()
            .openapi({ description: `${AGENT_SORT_KEYS.join(', ')}; prefix - for descending; ties by id. lastSeen: time; version: agent version (service.version); os: os.type`, example: '-lastSeen' }),
          limit: z.coerce.number().int().min(1).max(MAX_AGENT_PAGE).optional().openapi({ description: `agents per page, 1 to ${MAX_AGENT_PAGE}` }),
          cursor: z.string().max(MAX_CURSOR_CHARS).optional().openapi({ description: 'nextCursor from the previous page (opaque; valid only with the same sort)' }),
        }),
      },
      responses: { 200: json(AgentPage, 'agents'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const selector = q.selector ?? '';
      const scopes = c.get('agentScopes');
      const paged = q.limit !== undefined || q.cursor !== undefined || q.q !== undefined || q.status !== undefined || q.sort !== undefined;
      if (!paged) {
        const agents = await fleet.listAgents(selector, scopes);
        return c.json({ agents, total: agents.length, nextCursor: null, warnings: agents.length === 0 && selector.trim() !== '' ? await fleet.whyNoAgentMatches(selector, scopes) : [] }, 200);
      }
      const page = await fleet.listAgentPage({ selector, q: q.q, statuses: statusesOf(q.status), sort: q.sort, limit: q.limit ?? 100, cursor: q.cursor, scopes });
      return c.json(page, 200);
    },
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents/{id}/config-diff',
      summary: 'Desired against effective config: what the server offers the agent, file by file, against what it reports running',
      request: { params: z.object({ id: z.string().min(1).max(64).openapi({ param: { name: 'id', in: 'path' } }) }) },
      responses: { 200: json(ConfigDiff, 'the diff'), ...errors },
    }),
    async (c) => c.json(await fleet.configDiff(c.req.valid('param').id), 200),
  );

  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/agents/facets',
      summary: 'Counts of the agents a filter matches, by status, label key and value, OS, arch and agent version (bounded)',
      request: { query: z.object({ selector: Selector, q: Q, status: Status }) },
      responses: { 200: json(AgentFacets, 'counts'), 400: errors[400], 401: errors[401] },
    }),
    async (c) => {
      const q = c.req.valid('query');
      return c.json(await fleet.agentFacets({ selector: q.selector ?? '', q: q.q, statuses: statusesOf(q.status), scopes: c.get('agentScopes') }), 200);
    },
  );
}
