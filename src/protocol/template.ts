/**
 * Config templates: `{{ name }}` is replaced by the deployment value
 * `name`. A placeholder without a value is an error naming it, so a typo
 * never ships an empty setting. The one template engine: the agent renders
 * config files and health checks with it, the server checks health-check
 * values with it at deploy time.
 */
export class TemplateError extends Error {
  readonly code = 'TEMPLATE_ERROR';
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*\}\}/g;

/** The value names a template refers to, in order of first use. */
export function templateKeys(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

export function renderTemplate(template: string, values: Readonly<Record<string, string>>, source: string): string {
  const missing = new Set<string>();
  const out = template.replace(PLACEHOLDER, (_m, key: string) => {
    if (!Object.hasOwn(values, key)) {
      missing.add(key);
      return '';
    }
    return values[key]!;
  });
  if (missing.size > 0) throw new TemplateError(`${source}: no value for ${[...missing].map((k) => `{{ ${k} }}`).join(', ')} (set it with --set ${[...missing][0]}=...)`);
  return out;
}
