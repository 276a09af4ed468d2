/**
 * What an audit record says about a request: a summary of the change and its
 * target, built per route from the validated input (and, for what only the
 * answer knows, the response) — never the request body wholesale.
 *
 * Secrets never enter: config file bodies are recorded as size and sha256
 * (a secret file only as its size), deployment values by key only, secret
 * values as "***", enrollment-token and API-token secrets never (only the token's id).
 * Routes this file does not know get their parameters and the names of the
 * body's fields, plus a few descriptive fields (name, selector, roles, ...)
 * with anything secret-looking masked. Every summary is bounded.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './chain.js';

export interface AuditRequestView {
  method: string;
  /** Route template with `{param}` placeholders, e.g. `/api/v1/deployments/{name}`. */
  route: string;
  params: Record<string, string>;
  /** The validated JSON body; undefined when there was none or it was invalid. */
  body: unknown;
  /** The JSON answer of a successful request; undefined otherwise. */
  response: unknown;
}

export interface AuditSummary {
  summary: Record<string, unknown>;
  target: Record<string, unknown>;
}

export const MASK = '***';
/** A summary or target larger than this (as JSON) is replaced by its field names and sha256. */
export const MAX_SUMMARY_CHARS = 16 * 1024;
/** Agent ids listed in a target; the count is always there. */
export const MAX_TARGET_AGENT_IDS = 100;
/** An exec command is recorded up to this many characters (with the sha256 of all of it). */
export const MAX_COMMAND_CHARS = 4096;

/** Field names whose values are never recorded by the generic summary. */
const SECRET_KEY = /secret|token|password|passwd|credential|private|key$|^values$/i;
/** Fields the generic summary records (masked where secret-looking): they describe, they do not carry secrets. */
const DESCRIPTIVE = new Set(['name', 'selector', 'role', 'roles', 'description', 'disabled', 'expiresAt', 'expiresIn', 'mode', 'labels', 'displayName', 'email']);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function maskDeep(v: unknown, depth = 0): unknown {
  if (depth > 6) return MASK;
  if (Array.isArray(v)) return v.slice(0, 100).map((x) => maskDeep(x, depth + 1));
  if (!isObj(v)) return typeof v === 'string' ? v.slice(0, 1024) : v;
  return Object.fromEntries(Object.entries(v).slice(0, 200).map(([k, x]) => [k, SECRET_KEY.test(k) ? MASK : maskDeep(x, depth + 1)]));
}

function agentTarget(ids: string[]): Obj {
  return { agentIds: ids.slice(0, MAX_TARGET_AGENT_IDS), agentCount: ids.length };
}

function responseIds(list: unknown, field: string): string[] {
  return Array.isArray(list) ? list.map((x) => (isObj(x) ? str(x[field]) : undefined)).filter((x): x is string => x !== undefined) : [];
}

function configFiles(files: unknown): Obj {
  if (!isObj(files)) return {};
  const out: Obj = {};
  for (const [name, f] of Object.entries(files)) {
    if (!isObj(f)) continue;
    const body = str(f.body) ?? '';
    const size = Buffer.byteLength(body, 'utf8');
    // A secret's hash would let anyone who can read the log test guesses: only its size.
    out[name] = f.secret === true ? { size, secret: true, body: MASK } : { size, sha256: sha256(body), contentType: str(f.contentType) ?? '' };
  }
  return out;
}

function deploymentSummary(b: Obj): Obj {
  const values = isObj(b.values) ? Object.keys(b.values).sort() : [];
  const secretValues = isObj(b.secretValues) ? Object.fromEntries(Object.keys(b.secretValues).sort().map((k) => [k, MASK])) : undefined;
  return {
    package: b.package,
    version: b.version,
    selector: b.selector,
    desiredState: b.desiredState,
    valueKeys: values,
    ...(secretValues ? { secretValues } : {}),
    ...(b.policy !== undefined ? { policy: maskDeep(b.policy) } : {}),
    ...(b.rollout !== undefined ? { rollout: maskDeep(b.rollout) } : {}),
  };
}

function commandSummary(command: unknown): Obj {
  const args = Array.isArray(command) ? command.map(String) : [];
  const full = JSON.stringify(args);
  if (full.length <= MAX_COMMAND_CHARS) return { command: args };
  const kept: string[] = [];
  let used = 0;
  for (const a of args) {
    const room = MAX_COMMAND_CHARS - used;
    if (room <= 0) break;
    kept.push(a.slice(0, room));
    used += Math.min(a.length, room) + 3;
  }
  return { command: kept, commandTruncated: true, commandArgs: args.length, commandSha256: sha256(full) };
}

type Rule = (v: AuditRequestView, b: Obj, r: Obj) => AuditSummary;

function apiTokenCreated(b: Obj, r: Obj): AuditSummary {
  // `roles`: what the token was narrowed to (the answer's: a self-made token without roles is narrowed as its parent), null for none.
  return { summary: { name: b.name, expiresAt: b.expiresAt, expiresIn: b.expiresIn, expires: r.expiresAt, parentToken: r.parentId, roles: 'roles' in r ? r.roles : b.roles }, target: { id: r.id } };
}

function apiTokenRevoked(r: Obj): AuditSummary {
  const also = Array.isArray(r.alsoRevoked) ? r.alsoRevoked.filter((x): x is string => typeof x === 'string') : [];
  return { summary: also.length > 0 ? { alsoRevoked: also.slice(0, 100), alsoRevokedCount: also.length } : {}, target: {} };
}

const RULES: Record<string, Rule> = {
  'POST /api/v1/deployments': (_v, b, r) => ({
    summary: { ...deploymentSummary(b), ...(r.rollout !== undefined ? { rollout: r.rollout, targets: r.targets } : {}) },
    target: { deployment: b.name, selector: b.selector },
  }),
  'POST /api/v1/deployments/{name}/restart': (v, _b, r) => ({ summary: {}, target: { deployment: v.params.name, ...(r.results ? agentTarget(responseIds(r.results, 'id')) : {}) } }),
  'PUT /api/v1/configs/{name}': (v, b) => ({ summary: { selector: b.selector, files: configFiles(b.files) }, target: { config: v.params.name, selector: b.selector } }),
  'PATCH /api/v1/agents/{id}': (v, b) => ({ summary: { labels: maskDeep(b.labels) }, target: agentTarget([v.params.id!]) }),
  'POST /api/v1/agents/rotate-credentials': (_v, b, r) => ({ summary: {}, target: { selector: b.selector, ...(r.agents ? agentTarget(responseIds(r.agents, 'id')) : {}) } }),
  'POST /api/v1/enrollment-tokens': (_v, b, r) => ({
    // Never the answer's `token` (the secret): only its id.
    summary: { name: b.name, labels: maskDeep(b.labels), expiresAt: b.expiresAt, expiresIn: b.expiresIn, maxAgents: b.maxAgents, requireApproval: b.requireApproval },
    target: { enrollmentToken: r.id },
  }),
  'DELETE /api/v1/enrollment-tokens/{id}': (v) => ({ summary: {}, target: { enrollmentToken: v.params.id } }),
  // API tokens: never the answer's `token` (the secret): the id, and the expiry the server settled on.
  // The target is as for revoking: the user's `name` (admin routes) and the token's `id`.
  'POST /api/v1/users/{name}/tokens': (_v, b, r) => apiTokenCreated(b, r),
  'POST /api/v1/whoami/tokens': (_v, b, r) => apiTokenCreated(b, r),
  'DELETE /api/v1/users/{name}/tokens/{id}': (_v, _b, r) => apiTokenRevoked(r),
  'DELETE /api/v1/whoami/tokens/{id}': (_v, _b, r) => apiTokenRevoked(r),
  'POST /api/v1/jobs': (_v, b, r) => ({
    summary: { ...commandSummary(b.command), service: b.service, timeoutSeconds: b.timeoutSeconds, maxConcurrency: b.maxConcurrency, errorBudget: b.errorBudget },
    target: { selector: b.selector, job: r.id, ...(r.hosts ? agentTarget(responseIds(r.hosts, 'agentId')) : {}) },
  }),
  'POST /api/v1/packages': (_v, _b, r) => {
    const pkgs = Array.isArray(r.packages) ? r.packages.filter(isObj) : [];
    return {
      summary: { artifacts: pkgs.slice(0, 32).map((p) => ({ name: p.name, version: p.version, os: p.os, arch: p.arch, sha256: p.sha256, size: p.size })) },
      target: { package: pkgs[0]?.name, version: pkgs[0]?.version },
    };
  },
};

function byParams(v: AuditRequestView): Obj {
  const t: Obj = {};
  for (const [k, val] of Object.entries(v.params)) {
    if (k === 'id' && v.route.startsWith('/api/v1/agents/')) Object.assign(t, agentTarget([val]));
    else if (k === 'name' && v.route.startsWith('/api/v1/deployments/')) t.deployment = val;
    else if (k === 'name' && v.route.startsWith('/api/v1/configs/')) t.config = val;
    else if (k === 'ref' && v.route.startsWith('/api/v1/rollouts/')) t.rollout = val;
    else t[k] = val.slice(0, 256);
  }
  return t;
}

function generic(v: AuditRequestView, b: Obj, r: Obj): AuditSummary {
  const summary: Obj = {};
  if (isObj(v.body)) {
    summary.fields = Object.keys(b).sort().slice(0, 100);
    for (const k of Object.keys(b)) if (DESCRIPTIVE.has(k)) summary[k] = SECRET_KEY.test(k) ? MASK : maskDeep(b[k]);
  }
  const target = byParams(v);
  // The deployment a rollout action touched (the answer names it).
  if (v.route.startsWith('/api/v1/rollouts/') && typeof r.deployment === 'string') target.deployment = r.deployment;
  if (v.route.startsWith('/api/v1/rollouts/') && typeof r.id === 'string') target.rollout = r.id;
  return { summary, target };
}

/** Replaces an oversized part by its field names and the sha256 of its JSON. */
function bounded(part: Obj): Obj {
  const text = canonicalJson(part);
  if (text.length <= MAX_SUMMARY_CHARS) return part;
  return { truncated: true, fields: Object.keys(part).slice(0, 50), sha256: sha256(text), chars: text.length };
}

/** Drops undefined fields (absent from the record rather than null). */
function clean(o: Obj): Obj {
  return JSON.parse(canonicalJson(o)) as Obj;
}

export function summarizeRequest(v: AuditRequestView): AuditSummary {
  const rule = RULES[`${v.method} ${v.route}`];
  const b = isObj(v.body) ? v.body : {};
  const r = isObj(v.response) ? v.response : {};
  const s = rule ? rule(v, b, r) : generic(v, b, r);
  return { summary: bounded(clean(s.summary)), target: bounded(clean({ ...byParams(v), ...s.target })) };
}

const RESPONSE_READ: ReadonlySet<string> = new Set([
  'POST /api/v1/deployments',
  'POST /api/v1/deployments/{name}/restart',
  'POST /api/v1/agents/rotate-credentials',
  'POST /api/v1/enrollment-tokens',
  'POST /api/v1/jobs',
  'POST /api/v1/packages',
  'POST /api/v1/users/{name}/tokens',
  'POST /api/v1/whoami/tokens',
  'DELETE /api/v1/users/{name}/tokens/{id}',
  'DELETE /api/v1/whoami/tokens/{id}',
]);

/** The routes whose JSON answer the summary reads (the others' answers are not parsed). */
export function needsResponse(method: string, route: string): boolean {
  return RESPONSE_READ.has(`${method} ${route}`) || route.startsWith('/api/v1/rollouts/');
}
