/**
 * The package manifest: `corral.yaml` at the root of a package tar.gz.
 * Shared by the CLI (build), the server (push) and the agent (run), so it
 * lives with the other wire formats. Versioned (`apiVersion`), unknown keys
 * rejected, every error names the field.
 *
 * Two kinds (`kind`, default `service`):
 * - `service`: a process the agent supervises (`run`, `stop`, `health`, …).
 * - `agent`: the Corral agent itself (`agent.entry`, no `run`); deploying it
 *   upgrades matching Corral agents (see docs/agent-upgrade.md).
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export const MANIFEST_FILE = 'corral.yaml';
export const MANIFEST_API_VERSION = 'corral.io/v1';

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;
const SIGNAL = z.enum(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGKILL']);
/** A path inside the package or service directory: relative, no `..`. */
const RelativePath = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'must be a relative path without ".."');

const Hook = z
  .object({
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    timeoutSeconds: z.number().positive().max(3600).default(60),
  })
  .strict();

/** A deployment value placeholder, as config templates use it: `{{ port }}`. */
const PLACEHOLDER = /\{\{\s*[A-Za-z_][A-Za-z0-9_.-]*\s*\}\}/g;
/** An http(s) URL once every placeholder has a value. */
const TemplatedUrl = z
  .string()
  .min(1)
  .max(2048)
  .refine((u) => {
    // A URL whose scheme and host come from a value is checked once rendered.
    if (/^\{\{/.test(u)) return true;
    const filled = u.replace(PLACEHOLDER, '1');
    return URL.canParse(filled) && /^https?:$/.test(new URL(filled).protocol);
  }, 'must be an http:// or https:// URL; deployment values may fill parts of it, e.g. http://127.0.0.1:{{ port }}/healthz');
/** A port: a number, or digits and placeholders filled from the deployment's values (`"{{ port }}"`). */
const TemplatedPort = z.union([
  z.number().int().min(1).max(65535),
  z.string().regex(/^(?:\{\{\s*[A-Za-z_][A-Za-z0-9_.-]*\s*\}\}|[0-9])+$/, 'must be a port number 1-65535 or a value placeholder like "{{ port }}"').refine((p) => p.includes('{{'), 'must be a port number 1-65535 or a value placeholder like "{{ port }}"'),
]);

const HealthCheck = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('process') }).strict(),
    z.object({ type: z.literal('http'), url: TemplatedUrl }).strict(),
    z.object({ type: z.literal('tcp'), port: TemplatedPort, host: z.string().min(1).max(255).default('127.0.0.1') }).strict(),
    z.object({ type: z.literal('command'), command: z.string().min(1), args: z.array(z.string()).default([]) }).strict(),
  ])
  .and(
    z.object({
      intervalSeconds: z.number().positive().default(10),
      timeoutSeconds: z.number().positive().default(5),
      healthyThreshold: z.number().int().positive().default(1),
      unhealthyThreshold: z.number().int().positive().default(3),
    }),
  );

const common = {
  apiVersion: z.literal(MANIFEST_API_VERSION),
  name: z.string().regex(NAME, 'lower-case letters, digits and ._- (at most 63), starting with a letter or digit'),
  version: z.string().regex(VERSION, 'letters, digits and .+_- (at most 64)'),
  description: z.string().max(1024).optional(),
  platforms: z
    .array(z.object({ os: z.enum(['linux', 'darwin', 'windows', 'freebsd']), arch: z.enum(['amd64', 'arm64', 'arm32', 'x86', 'any']) }).strict())
    .min(1)
    .default([{ os: 'linux', arch: 'any' }]),
};

export const PackageManifestSchema = z
  .object({
    kind: z.literal('service').default('service'),
    ...common,
    run: z
      .object({
        command: z.string().min(1),
        args: z.array(z.string()).default([]),
        env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names use letters, digits and _'), z.string()).default({}),
        workingDir: RelativePath.default('.'),
        user: z.string().min(1).optional(),
      })
      .strict(),
    stop: z.object({ signal: SIGNAL.default('SIGTERM'), gracePeriodSeconds: z.number().positive().max(3600).default(10) }).strict().default({ signal: 'SIGTERM', gracePeriodSeconds: 10 }),
    restart: z
      .object({
        policy: z.enum(['always', 'on-failure', 'never']).default('always'),
        initialDelayMs: z.number().int().min(0).default(0),
        maxDelayMs: z.number().int().positive().default(60_000),
        resetAfterSeconds: z.number().positive().default(60),
      })
      .strict()
      .default({ policy: 'always', initialDelayMs: 0, maxDelayMs: 60_000, resetAfterSeconds: 60 }),
    health: HealthCheck.default({ type: 'process', intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 1, unhealthyThreshold: 3 }),
    config: z
      .object({
        files: z.array(z.object({ path: RelativePath, template: RelativePath }).strict()).default([]),
        onChange: z.enum(['restart', 'reload']).default('restart'),
        reloadSignal: SIGNAL.default('SIGHUP'),
      })
      .strict()
      .default({ files: [], onChange: 'restart', reloadSignal: 'SIGHUP' }),
    hooks: z.object({ postInstall: Hook.optional(), preStart: Hook.optional(), preUninstall: Hook.optional() }).strict().default({}),
  })
  .strict();

export type PackageManifest = z.infer<typeof PackageManifestSchema>;

/** A package that is the Corral agent: `node <unpacked>/<agent.entry> agent …` runs it from the unpacked directory alone. */
export const AgentPackageManifestSchema = z
  .object({
    kind: z.literal('agent'),
    ...common,
    agent: z.object({ entry: RelativePath }).strict(),
  })
  .strict();

export type AgentPackageManifest = z.infer<typeof AgentPackageManifestSchema>;
export type AnyPackageManifest = PackageManifest | AgentPackageManifest;

/** Keys only a service package has: named in the error when an agent package carries one. */
const SERVICE_ONLY_KEYS = ['run', 'stop', 'restart', 'health', 'config', 'hooks'] as const;

export class ManifestError extends Error {
  readonly code = 'INVALID_MANIFEST';
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/**
 * Parses and validates corral.yaml text of either kind. Throws ManifestError
 * listing every problem with its field path.
 */
export function parseAnyManifest(text: string, source = MANIFEST_FILE): AnyPackageManifest {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new ManifestError(`${source}: not valid YAML: ${(e as Error).message}`);
  }
  const kind = raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>).kind : undefined;
  if (kind !== undefined && kind !== 'service' && kind !== 'agent') {
    throw new ManifestError(`${source} is invalid: kind: must be "service" (the default) or "agent", got ${JSON.stringify(kind)}`);
  }
  if (kind === 'agent') {
    const extra = SERVICE_ONLY_KEYS.filter((k) => k in (raw as Record<string, unknown>));
    if (extra.length > 0) {
      throw new ManifestError(`${source} is invalid: ${extra.map((k) => `${k}: not allowed in a kind: agent package (the agent runs from agent.entry)`).join('; ')}`);
    }
  }
  const result = (kind === 'agent' ? AgentPackageManifestSchema : PackageManifestSchema).safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new ManifestError(`${source} is invalid: ${problems.join('; ')}`);
  }
  return result.data;
}

/** Parses a service package's corral.yaml; an agent package is refused (it cannot run as a service). Throws ManifestError. */
export function parseManifest(text: string, source = MANIFEST_FILE): PackageManifest {
  const m = parseAnyManifest(text, source);
  if (m.kind === 'agent') throw new ManifestError(`${source}: kind: "agent" is the Corral agent itself; it upgrades agents and cannot run as a service`);
  return m;
}
