/**
 * The `route` label of HTTP metrics: a known route template (`GET
 * /api/v1/agents/:id`), never a raw path, so requests to made-up paths
 * cannot grow `/metrics`: whatever matches no route is `unmatched`, and a
 * method outside the standard ones is `OTHER`.
 */

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
export const UNMATCHED_ROUTE = 'unmatched';

export type RouteLabeler = (method: string, path: string) => string;

interface Template {
  method: string;
  template: string;
  pattern: RegExp;
  params: number;
}

function compile(method: string, template: string): Template {
  // Hono templates: `:name`, optionally `:name{regex}`; each matches one path segment here.
  const clean = template.replace(/:([A-Za-z0-9_]+)\{[^}]*\}/g, ':$1');
  const source = clean
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return { method, template: clean, pattern: new RegExp(`^${source}/?$`), params: (clean.match(/:/g) ?? []).length };
}

/**
 * Builds a labeler from `[method, template]` pairs (e.g. a Hono app's
 * routes; wildcard middleware entries are skipped). Static templates win
 * over ones with parameters.
 */
export function routeLabeler(routes: Iterable<{ method: string; path: string }>): RouteLabeler {
  const templates: Template[] = [];
  const seen = new Set<string>();
  for (const r of routes) {
    const method = r.method.toUpperCase();
    if (!METHODS.has(method) || r.path.includes('*')) continue;
    const key = `${method} ${r.path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    templates.push(compile(method, r.path));
  }
  templates.sort((a, b) => a.params - b.params);
  return (rawMethod, path) => {
    const method = METHODS.has(rawMethod.toUpperCase()) ? rawMethod.toUpperCase() : 'OTHER';
    // HEAD is answered by GET routes.
    const lookup = method === 'HEAD' ? 'GET' : method;
    for (const t of templates) if (t.method === lookup && t.pattern.test(path)) return `${method} ${t.template}`;
    return `${method} ${UNMATCHED_ROUTE}`;
  };
}
