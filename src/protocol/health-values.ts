/**
 * Health checks that use deployment values: an `http` check's `url` and a
 * `tcp` check's `port` and `host` may hold `{{ name }}` placeholders,
 * rendered with the same values and template engine as config files. The
 * agent renders them when it installs a change (a missing value fails the
 * install, naming it); the server checks them when a deployment is created
 * or changed, so the mistake is refused before any agent sees it.
 */
import type { PackageManifest } from './package-manifest.js';
import { TemplateError, renderTemplate } from './template.js';

export type HealthCheckSpec = PackageManifest['health'];
type Rendered<T> = T extends { type: 'tcp' } ? Omit<T, 'port'> & { port: number } : T;
/** A health check with every placeholder filled in: what the agent probes. */
export type RenderedHealthCheck = Rendered<HealthCheckSpec>;

/** Fills the check's placeholders from `values`. Throws TemplateError naming the field and the missing value or bad result. */
export function renderHealthCheck(health: HealthCheckSpec, values: Readonly<Record<string, string>>): RenderedHealthCheck {
  switch (health.type) {
    case 'http': {
      const url = renderTemplate(health.url, values, 'health.url');
      if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) throw new TemplateError(`health.url: "${url}" (from ${health.url}) is not an http:// or https:// URL`);
      return { ...health, url };
    }
    case 'tcp': {
      const host = renderTemplate(health.host, values, 'health.host');
      if (typeof health.port === 'number') return { ...health, host, port: health.port };
      const text = renderTemplate(health.port, values, 'health.port');
      const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
      if (!(port >= 1 && port <= 65535)) throw new TemplateError(`health.port: "${text}" (from ${health.port}) is not a port number 1-65535`);
      return { ...health, host, port };
    }
    default:
      return health;
  }
}

/** Why `values` cannot fill the check (one message naming the field), or null when they can. */
export function healthValuesProblem(health: HealthCheckSpec, values: Readonly<Record<string, string>>): string | null {
  try {
    renderHealthCheck(health, values);
    return null;
  } catch (e) {
    if (e instanceof TemplateError) return e.message;
    throw e;
  }
}
