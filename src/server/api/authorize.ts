/**
 * The authorization middleware of /api/v1: after authentication has set the
 * actor, it finds the matched route's rule in ACCESS_RULES (none: refused,
 * deny by default), checks the actor holds the role, and for a scoped
 * binding checks the target is within the scope (see access-rules.ts and
 * scope.ts). Refusals are 403 FORBIDDEN naming the role needed and the
 * user's roles; a selector reaching beyond the scope names the agents
 * outside it. List answers are filtered down to the scope for scoped readers
 * (agent lists by the route itself, from `agentScopes`).
 */
import type { Context, MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import type { Store, AgentRecord } from '../store/index.js';
import type { RoleBinding } from '../auth/actor.js';
import type { ApiEnv } from './api-env.js';
import { ACCESS_RULES, PUBLIC_ROUTES, routeKey, type AccessRule } from './access-rules.js';
import { bindingsGranting, describeRoles, holderText, scopeKeys, scopesContaining, scopesMatching, unscoped } from './scope.js';
import { matchesSelector, parseSelector, SelectorError } from '../fleet/selector.js';
import { selectableAttributes } from '../fleet/agent-labels.js';
import { errorResponse } from './error-handler.js';

/** How many agents outside the scope a refusal names before "and N more". */
const MAX_NAMED_AGENTS = 10;

export interface AuthorizeDeps {
  store: Store;
}

class Refusal {
  constructor(
    readonly status: 400 | 403,
    readonly code: string,
    readonly message: string,
  ) {}
}

interface MatchedRoute {
  /** `GET /api/v1/agents/{id}` */
  key: string;
  /** The route's path parameters (middleware sees only its own, so they are read here from the handler's template). */
  params: Record<string, string>;
}

/** The route the request matched, or null when only middleware matched (a 404). */
export function matchedRoute(c: Context): MatchedRoute | null {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  // The first matching route is the one that answers (`/agents/facets` before `/agents/:id`); its
  // validators and handler share its path.
  const last = handlers[0];
  if (!last) return null;
  const params: Record<string, string> = {};
  const template = last.path.split('/');
  const actual = c.req.path.split('/');
  template.forEach((segment, i) => {
    const m = /^:([A-Za-z0-9_]+)/.exec(segment);
    if (!m || actual[i] === undefined) return;
    try {
      params[m[1]!] = decodeURIComponent(actual[i]!);
    } catch {
      params[m[1]!] = actual[i]!;
    }
  });
  return { key: routeKey(c.req.method === 'HEAD' ? 'GET' : c.req.method, last.path), params };
}

export function authorize(deps: AuthorizeDeps): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const route = matchedRoute(c);
    if (route === null || PUBLIC_ROUTES.has(route.key)) return next();
    const { key } = route;
    const rule = ACCESS_RULES[key];
    const actor = c.get('actor');
    if (!rule) return errorResponse(c, 403, 'FORBIDDEN', `${key} has no access rule, so it is refused to everyone (deny by default)`);
    if (rule.role === 'authenticated') return next();
    const bindings = bindingsGranting(actor, rule.role);
    if (bindings.length === 0) {
      return errorResponse(c, 403, 'FORBIDDEN', `${key} needs role ${rule.role}; ${holderText(actor)} has ${describeRoles(actor.roles)}`);
    }
    if (unscoped(bindings)) return next();
    try {
      await checkScope(c, deps, route, rule, bindings);
    } catch (e) {
      if (e instanceof Refusal) return errorResponse(c, e.status, e.code, e.message);
      if (e instanceof SelectorError) return errorResponse(c, 400, e.code, e.message);
      throw e;
    }
    await next();
    if (rule.target.startsWith('list-') && rule.target !== 'list-agents') await filterList(c, deps, rule, bindings);
  };
}

const scopeText = (bindings: RoleBinding[]) => describeRoles(bindings);

async function liveAgents(store: Store): Promise<AgentRecord[]> {
  return (await store.listAgents()).filter((a) => a.status !== 'revoked');
}

/** Refuses unless `selector` is within one of the scopes, naming the agents it reaches outside them. */
async function requireWithin(deps: AuthorizeDeps, what: string, selector: string, bindings: RoleBinding[]): Promise<void> {
  if (scopesContaining(selector, bindings).length > 0) return;
  const parsed = parseSelector(selector);
  const outside = (await liveAgents(deps.store)).filter((a) => {
    const attrs = selectableAttributes(a);
    return matchesSelector(parsed, attrs) && scopesMatching(attrs, bindings).length === 0;
  });
  const shown = outside.slice(0, MAX_NAMED_AGENTS).map((a) => `${a.name || a.id} (${a.id})`);
  const more = outside.length > MAX_NAMED_AGENTS ? ` and ${outside.length - MAX_NAMED_AGENTS} more` : '';
  throw new Refusal(
    403,
    'FORBIDDEN',
    outside.length > 0
      ? `${what} selector "${selector}" reaches agents outside your scope (${scopeText(bindings)}): ${shown.join(', ')}${more}`
      : `${what} selector "${selector}" does not restrict itself to your scope (${scopeText(bindings)}): a selector is within a scope only when it contains every requirement of the scope (e.g. add ${bindings[0]!.selector})`,
  );
}

async function requireAgent(deps: AuthorizeDeps, id: string, bindings: RoleBinding[]): Promise<RoleBinding[] | null> {
  const agent = await deps.store.getAgent(id);
  if (!agent) return null; // the route answers 404
  const covering = scopesMatching(selectableAttributes(agent), bindings);
  if (covering.length === 0) throw new Refusal(403, 'FORBIDDEN', `agent ${agent.name || agent.id} (${agent.id}) is outside your scope (${scopeText(bindings)})`);
  return covering;
}

/** The JSON body, or null when it is not JSON (the route's validation answers 400). */
async function jsonBody(c: Context): Promise<Record<string, unknown> | null> {
  if (!c.req.header('content-type')?.includes('json')) return null;
  try {
    const body: unknown = await c.req.json();
    return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

async function checkScope(c: Context<ApiEnv>, deps: AuthorizeDeps, route: MatchedRoute, rule: AccessRule, bindings: RoleBinding[]): Promise<void> {
  const { store } = deps;
  const { key } = route;
  const param = (name: string) => route.params[name] ?? '';
  switch (rule.target) {
    case 'anywhere':
      return;
    case 'fleet':
      throw new Refusal(403, 'FORBIDDEN', `${key} needs role ${rule.role} on the whole fleet; ${holderText(c.get('actor'))} has ${describeRoles(c.get('actor').roles)}`);
    case 'agent':
      await requireAgent(deps, param('id'), bindings);
      return;
    case 'agent-labels': {
      const covering = await requireAgent(deps, param('id'), bindings);
      if (!covering) return;
      const labels = (await jsonBody(c))?.labels;
      const changed = typeof labels === 'object' && labels !== null ? Object.keys(labels) : [];
      // Allowed when one covering scope looks at none of the changed keys.
      const clean = covering.filter((b) => changed.every((k) => !scopeKeys(b).has(k)));
      if (clean.length === 0) {
        const keys = [...new Set(covering.flatMap((b) => [...scopeKeys(b)]))].filter((k) => changed.includes(k));
        throw new Refusal(403, 'FORBIDDEN', `label ${keys.join(', ')} decides your scope (${scopeText(covering)}): changing it could move the agent into or out of your scope; ask an operator on the whole fleet`);
      }
      return;
    }
    case 'deployment': {
      const d = await store.getDeployment(param('name'));
      if (d) await requireWithin(deps, `deployment ${d.name}:`, d.selector, bindings);
      return;
    }
    case 'deployment-put': {
      const body = await jsonBody(c);
      if (typeof body?.selector === 'string') await requireWithin(deps, 'the deployment\'s', body.selector, bindings);
      const existing = typeof body?.name === 'string' ? await store.getDeployment(body.name) : null;
      if (existing) await requireWithin(deps, `the existing deployment ${existing.name}:`, existing.selector, bindings);
      if (typeof body?.selector !== 'string') throw new Refusal(400, 'INVALID_ARGUMENT', 'selector: a string is required');
      return;
    }
    case 'config':
    case 'config-put': {
      if (rule.target === 'config-put') {
        const body = await jsonBody(c);
        if (typeof body?.selector !== 'string') throw new Refusal(400, 'INVALID_ARGUMENT', 'selector: a string is required');
        await requireWithin(deps, 'the config\'s', body.selector, bindings);
      }
      const existing = await store.getConfig(param('name'));
      if (existing) await requireWithin(deps, `config ${existing.name}:`, existing.selector, bindings);
      return;
    }
    case 'rollout': {
      const ref = param('ref');
      const r = (/^[0-9a-f-]{36}$/.test(ref) ? await store.rollouts.getRollout(ref) : null) ?? (await store.rollouts.listRollouts(ref, 1))[0];
      const d = r ? await store.getDeployment(r.deployment) : null;
      if (d) await requireWithin(deps, `deployment ${d.name} (of the rollout):`, d.selector, bindings);
      return;
    }
    case 'job': {
      const job = /^[0-9a-f-]{36}$/.test(param('id')) ? await store.getJob(param('id')) : null;
      if (job) await requireWithin(deps, 'the job\'s', job.job.spec.selector, bindings);
      return;
    }
    case 'body-selector': {
      const body = await jsonBody(c);
      if (typeof body?.selector !== 'string') throw new Refusal(400, 'INVALID_ARGUMENT', 'selector: a string is required');
      await requireWithin(deps, 'the', body.selector, bindings);
      return;
    }
    case 'list-agents':
      // The route cuts its answer in the store query (page, total and counts alike).
      c.set('agentScopes', bindings.map((b) => parseSelector(b.selector)));
      return;
    case 'list-deployments':
    case 'list-configs':
    case 'list-rollouts':
    case 'list-events':
    case 'list-jobs':
      return;
  }
}

/** Cuts a 200 list answer down to what the scoped reader's bindings cover. */
async function filterList(c: Context<ApiEnv>, deps: AuthorizeDeps, rule: AccessRule, bindings: RoleBinding[]): Promise<void> {
  if (c.res.status !== 200 || !c.res.headers.get('content-type')?.includes('json')) return;
  const body = (await c.res.clone().json()) as Record<string, unknown[]>;
  const within = (selector: string) => {
    try {
      return scopesContaining(selector, bindings).length > 0;
    } catch {
      return false;
    }
  };
  const agentIds = async () => new Set((await deps.store.listAgents()).filter((a) => scopesMatching(selectableAttributes(a), bindings).length > 0).map((a) => a.id));
  const deploymentNames = async () => new Set((await deps.store.listDeployments()).filter((d) => within(d.selector)).map((d) => d.name));
  switch (rule.target) {
    case 'list-deployments':
      body.deployments = (body.deployments as { selector: string }[]).filter((d) => within(d.selector));
      break;
    case 'list-configs':
      body.configs = (body.configs as { selector: string }[]).filter((x) => within(x.selector));
      break;
    case 'list-rollouts': {
      const names = await deploymentNames();
      body.rollouts = (body.rollouts as { deployment: string }[]).filter((r) => names.has(r.deployment));
      break;
    }
    case 'list-jobs':
      // The route already asked the store for these selectors only (job-routes.ts); this checks its answer.
      body.jobs = (body.jobs as { selector: string }[]).filter((j) => within(j.selector));
      break;
    case 'list-events': {
      const ids = await agentIds();
      const names = await deploymentNames();
      const configs = new Set((await deps.store.listConfigs()).filter((x) => within(x.selector)).map((x) => x.name));
      body.events = (body.events as { type: string; agentId: string | null; data: Record<string, unknown> }[]).filter((e) => {
        if (e.agentId !== null) return ids.has(e.agentId);
        // Fleet events: those of deployments (rollout.*: data.deployment; deployment.*: data.name) and configs in scope.
        const name = typeof e.data.name === 'string' ? e.data.name : '';
        if (typeof e.data.deployment === 'string') return names.has(e.data.deployment);
        if (e.type.startsWith('deployment.')) return names.has(name);
        if (e.type.startsWith('config.')) return configs.has(name);
        return false;
      });
      break;
    }
    default:
      return;
  }
  const headers = new Headers(c.res.headers);
  headers.delete('content-length');
  c.res = new Response(JSON.stringify(body), { status: 200, headers });
}
