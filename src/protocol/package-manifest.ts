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
import { ResourcesSchema } from './resources.js';

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
    command: z.string().min(1).describe('What to run: a path inside the package (with a slash, e.g. bin/setup) or a program on PATH. Runs in the unpacked version directory with the service environment.'),
    args: z.array(z.string()).default([]).describe('Its arguments.'),
    timeoutSeconds: z.number().positive().max(3600).default(60).describe('Killed, and failed, after this long (at most 3600).'),
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
    z.object({ type: z.literal('process').describe('process: healthy while the process runs (not in a crash loop).') }).strict(),
    z
      .object({
        type: z.literal('http').describe('http: a GET answered 2xx or 3xx (redirects are not followed).'),
        url: TemplatedUrl.describe('The URL to GET. Deployment values fill {{ name }} placeholders, e.g. http://127.0.0.1:{{ port }}/healthz.'),
      })
      .strict(),
    z
      .object({
        type: z.literal('tcp').describe('tcp: a connection to host:port is accepted.'),
        port: TemplatedPort.describe('The port: a number, or a placeholder filled from the deployment values ("{{ port }}").'),
        host: z.string().min(1).max(255).default('127.0.0.1').describe('The host; may use {{ name }} placeholders.'),
      })
      .strict(),
    z
      .object({
        type: z.literal('command').describe('command: a command that exits 0, run in the service directory with the service environment.'),
        command: z.string().min(1).describe('What to run (a path inside the package, or a program on PATH).'),
        args: z.array(z.string()).default([]).describe('Its arguments.'),
      })
      .strict(),
  ])
  .and(
    z.object({
      intervalSeconds: z.number().positive().default(10).describe('Seconds between probes.'),
      timeoutSeconds: z.number().positive().default(5).describe('A probe taking longer fails.'),
      healthyThreshold: z.number().int().positive().default(1).describe('Successes in a row before the service counts as healthy.'),
      unhealthyThreshold: z.number().int().positive().default(3).describe('Failures in a row before it counts as unhealthy.'),
    }),
  );

const common = {
  apiVersion: z.literal(MANIFEST_API_VERSION).describe('The manifest format version.'),
  name: z.string().regex(NAME, 'lower-case letters, digits and ._- (at most 63), starting with a letter or digit').describe('The package name: lower-case letters, digits and ._- (at most 63), starting with a letter or digit.'),
  version: z.string().regex(VERSION, 'letters, digits and .+_- (at most 64)').describe('The package version: letters, digits and .+_- (at most 64). A published name+version+platform never changes content.'),
  description: z.string().max(1024).optional().describe('Free text for people (at most 1024 characters).'),
  platforms: z
    .array(
      z
        .object({
          os: z.enum(['linux', 'darwin', 'windows', 'freebsd']).describe('Operating system.'),
          arch: z.enum(['amd64', 'arm64', 'arm32', 'x86', 'any']).describe('CPU architecture; any: runs on every architecture of that os.'),
        })
        .strict(),
    )
    .min(1)
    .default([{ os: 'linux', arch: 'any' }])
    .describe('Where the package runs; the server stores one record per platform, and an agent takes the exact arch before any.'),
};

export const PackageManifestSchema = z
  .object({
    kind: z.literal('service').default('service').describe('service: a process the agent supervises. (agent: the Corral agent itself, see below.)'),
    ...common,
    run: z
      .object({
        command: z.string().min(1).describe('What to run: a path inside the package (with a slash, e.g. bin/serve.sh; build refuses a package without it) or a program on PATH (e.g. node).'),
        args: z.array(z.string()).default([]).describe('Its arguments.'),
        env: z
          .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names use letters, digits and _'), z.string())
          .default({})
          .describe('Extra environment variables (names: letters, digits and _), on top of PATH, HOME and LANG; CORRAL_SERVICE and CORRAL_SERVICE_DIR are set after them.'),
        workingDir: RelativePath.default('.').describe('The working directory, relative to the unpacked version directory.'),
        user: z.string().min(1).optional().describe('Run as this user (the agent must run as root; an unknown user, or one the agent\'s policy does not allow, fails the install). Default: the agent\'s own user.'),
      })
      .strict()
      .describe('How to run the service.'),
    stop: z
      .object({
        signal: SIGNAL.default('SIGTERM').describe('Sent to the whole process group to stop it.'),
        gracePeriodSeconds: z.number().positive().max(3600).default(10).describe('Then SIGKILL after this long (at most 3600).'),
      })
      .strict()
      .default({ signal: 'SIGTERM', gracePeriodSeconds: 10 })
      .describe('How to stop it.'),
    restart: z
      .object({
        policy: z.enum(['always', 'on-failure', 'never']).default('always').describe('When an exited process is started again: always, on-failure (a non-zero exit or a signal), never.'),
        initialDelayMs: z.number().int().min(0).default(0).describe('Delay before the first restart (0: at once); later failures in a row back off, doubling from it (or from 250 ms when it is 0).'),
        maxDelayMs: z.number().int().positive().default(60_000).describe('The delay never grows past this.'),
        resetAfterSeconds: z.number().positive().default(60).describe('A run at least this long resets the back-off; 3 failures in a row without one are reported as a crash loop (restarts go on).'),
      })
      .strict()
      .default({ policy: 'always', initialDelayMs: 0, maxDelayMs: 60_000, resetAfterSeconds: 60 })
      .describe('When to restart it.'),
    health: HealthCheck.default({ type: 'process', intervalSeconds: 10, timeoutSeconds: 5, healthyThreshold: 1, unhealthyThreshold: 3 }).describe(
      'How the agent tells the service is healthy (what rollouts wait for). One of four types, with the probe timing fields shared by all.',
    ),
    config: z
      .object({
        files: z
          .array(
            z
              .object({
                path: RelativePath.describe('Where the rendered file goes, relative to the unpacked version directory (CORRAL_SERVICE_DIR).'),
                template: RelativePath.describe('The template inside the package; {{ name }} is replaced by the deployment value name, and a placeholder without a value fails the install, naming it. Build and push refuse a package without it.'),
              })
              .strict(),
          )
          .default([])
          .describe('Config files rendered from templates with the deployment values (corral deploy --set name=value).'),
        onChange: z.enum(['restart', 'reload']).default('restart').describe('When only the values change: restart the service, or send it reloadSignal.'),
        reloadSignal: SIGNAL.default('SIGHUP').describe('The signal onChange: reload sends to the process group.'),
      })
      .strict()
      .default({ files: [], onChange: 'restart', reloadSignal: 'SIGHUP' })
      .describe('Config files and what a change of values does.'),
    hooks: z
      .object({
        postInstall: Hook.optional().describe('Runs once after the version is unpacked; a failure fails the install (the previous version keeps running).'),
        preStart: Hook.optional().describe('Runs before the version is first started; a failure fails the change.'),
        preUninstall: Hook.optional().describe('Runs before the service is removed; a failure is logged and removal goes on.'),
      })
      .strict()
      .default({})
      .describe('Commands run at points of the service\'s life.'),
    resources: ResourcesSchema.optional().describe(
      'Limits the agent enforces through the service\'s own cgroup (which also holds its hooks): cpu, memoryMax, memoryHigh, pids. A deployment may override them field by field. An agent that cannot enforce them (no cgroup access, not root) refuses to install the service, unless its local policy allows running without enforcement. See docs/resource-limits.md.',
    ),
  })
  .strict();

export type PackageManifest = z.infer<typeof PackageManifestSchema>;

/** A package that is the Corral agent: `node <unpacked>/<agent.entry> agent …` runs it from the unpacked directory alone. */
export const AgentPackageManifestSchema = z
  .object({
    kind: z.literal('agent').describe('agent: the package is the Corral agent itself; deploying it upgrades matching Corral agents.'),
    ...common,
    agent: z
      .object({ entry: RelativePath.describe('The entry script inside the package: node <unpacked>/<entry> agent … runs the agent.') })
      .strict()
      .describe('How to run the agent from the unpacked package.'),
  })
  .strict();

export type AgentPackageManifest = z.infer<typeof AgentPackageManifestSchema>;
export type AnyPackageManifest = PackageManifest | AgentPackageManifest;

/** Keys only a service package has: named in the error when an agent package carries one. */
const SERVICE_ONLY_KEYS = ['run', 'stop', 'restart', 'health', 'config', 'hooks', 'resources'] as const;

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
