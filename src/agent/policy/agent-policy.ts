/**
 * The agent's local policy: a root-owned YAML file on the host (default
 * /etc/corral/agent-policy.yaml, `corral agent --policy FILE`) that says
 * what this agent will do whatever the server asks. It is read once at
 * start; nothing that arrives over OpAMP can change it.
 *
 * ```yaml
 * version: 1
 * exec:
 *   enabled: true             # false: every exec job fails on this host (--no-exec does the same)
 *   allow: [uptime, [systemctl, status]]   # absent: any command. A string allows that program with
 *                                          # any arguments; a list allows commands starting with exactly those words
 *   maxTimeoutSeconds: 3600   # jobs asking for longer are refused. Default 86400
 * services:
 *   allowRoot: true           # false: services and hooks must declare run.user, and not root
 *   allowedUsers: [svc-app]   # absent: any user; otherwise run.user must be one of these
 *   allowUnenforcedLimits: false  # true: a service declaring resources runs (unlimited, with a
 *                             # warning) on a host where the agent cannot enforce them; default: it fails to install
 * packages:
 *   publisherKeys: [PEM, …]   # ed25519 public keys; when set, only packages one of them signed
 *                             # (corral package sign) are installed. Default: none (server signature only)
 * path: /usr/local/sbin:...   # PATH of every process the agent starts (default DEFAULT_PATH)
 * ```
 *
 * Outcomes, each distinct: the file is absent → the documented defaults
 * (DEFAULT_AGENT_POLICY); the file is invalid (bad YAML, unknown key, wrong
 * type, missing version) or writable by anyone but root (the file or a
 * directory above it) → the agent refuses to start, naming the problem.
 */
import { lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { KeyObject } from 'node:crypto';
import { publisherPublicKey } from '../../protocol/index.js';
import { DEFAULT_PATH } from '../environment.js';

export const DEFAULT_POLICY_FILE = '/etc/corral/agent-policy.yaml';
export const POLICY_VERSION = 1;
/** The longest exec timeout any agent accepts (24 h), also the default maximum. */
export const MAX_EXEC_TIMEOUT_SECONDS = 24 * 3600;

const Word = z.string().min(1).max(4096);

const PolicySchema = z
  .object({
    version: z.literal(POLICY_VERSION, { message: `must be ${POLICY_VERSION}` }),
    exec: z
      .object({
        enabled: z.boolean().default(true),
        allow: z.array(z.union([Word, z.array(Word).min(1)])).optional(),
        maxTimeoutSeconds: z.number().positive().max(MAX_EXEC_TIMEOUT_SECONDS).default(MAX_EXEC_TIMEOUT_SECONDS),
      })
      .strict()
      .default({ enabled: true, maxTimeoutSeconds: MAX_EXEC_TIMEOUT_SECONDS }),
    services: z
      .object({
        allowRoot: z.boolean().default(true),
        allowedUsers: z.array(z.string().min(1).max(256)).optional(),
        allowUnenforcedLimits: z.boolean().default(false),
      })
      .strict()
      .default({ allowRoot: true, allowUnenforcedLimits: false }),
    packages: z
      .object({
        publisherKeys: z
          .array(
            z.string().superRefine((pem, ctx) => {
              try {
                publisherPublicKey(pem);
              } catch (e) {
                ctx.addIssue({ code: 'custom', message: (e as Error).message });
              }
            }),
          )
          .default([]),
      })
      .strict()
      .default({ publisherKeys: [] }),
    path: z
      .string()
      .min(1)
      .refine((p) => p.split(':').every((d) => d.startsWith('/')), 'every directory must be absolute')
      .default(DEFAULT_PATH),
  })
  .strict();

/** The policy the agent runs on (compiled: defaults filled in). */
export interface AgentPolicy {
  /** Where it came from: the file, or null for the defaults (no file). */
  source: string | null;
  exec: {
    enabled: boolean;
    /** null: any command. */
    allow: (string | string[])[] | null;
    maxTimeoutMs: number;
  };
  services: {
    allowRoot: boolean;
    /** null: any user. */
    allowedUsers: string[] | null;
    /** Run services whose resource limits cannot be enforced here (no cgroups), unlimited. Default false: they fail to install. */
    allowUnenforcedLimits: boolean;
  };
  packages: {
    /** Pinned publisher keys; empty: no publisher signature required. */
    publisherKeys: KeyObject[];
  };
  path: string;
}

export const DEFAULT_AGENT_POLICY: AgentPolicy = {
  source: null,
  exec: { enabled: true, allow: null, maxTimeoutMs: MAX_EXEC_TIMEOUT_SECONDS * 1000 },
  services: { allowRoot: true, allowedUsers: null, allowUnenforcedLimits: false },
  packages: { publisherKeys: [] },
  path: DEFAULT_PATH,
};

export class AgentPolicyError extends Error {
  readonly code = 'INVALID_POLICY';
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'AgentPolicyError';
  }
}

/** Parses policy text. Throws AgentPolicyError naming every bad field. */
export function parseAgentPolicy(text: string, file: string): AgentPolicy {
  let raw: unknown;
  try {
    raw = parseYaml(text, { maxAliasCount: 10 });
  } catch (e) {
    throw new AgentPolicyError(`agent policy ${file}: not valid YAML: ${(e as Error).message}`, file);
  }
  const r = PolicySchema.safeParse(raw ?? {});
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
    throw new AgentPolicyError(`agent policy ${file} is invalid: ${problems.join('; ')}`, file);
  }
  const p = r.data;
  return {
    source: file,
    exec: { enabled: p.exec.enabled, allow: p.exec.allow ?? null, maxTimeoutMs: p.exec.maxTimeoutSeconds * 1000 },
    services: { allowRoot: p.services.allowRoot, allowedUsers: p.services.allowedUsers ?? null, allowUnenforcedLimits: p.services.allowUnenforcedLimits },
    packages: { publisherKeys: p.packages.publisherKeys.map((pem) => publisherPublicKey(pem)) },
    path: p.path,
  };
}

/**
 * Refuses a file that someone other than root could change: the file must
 * be owned by root and not group- or world-writable, and so must every
 * directory above it (a sticky directory, like /tmp, may be world-writable:
 * no one else can replace a root-owned file in it).
 */
function checkOwnership(file: string): void {
  const real = realpathSync(file);
  const st = statSync(real);
  if (!st.isFile()) throw new AgentPolicyError(`agent policy ${file} is not a regular file`, file);
  if (st.uid !== 0) throw new AgentPolicyError(`agent policy ${file} must be owned by root (it is owned by uid ${st.uid})`, file);
  if ((st.mode & 0o022) !== 0) throw new AgentPolicyError(`agent policy ${file} is writable by group or others (mode ${(st.mode & 0o777).toString(8)}); make it 0644 or stricter`, file);
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const d = lstatSync(dir);
    const sticky = (d.mode & 0o1000) !== 0;
    if (d.uid !== 0) throw new AgentPolicyError(`agent policy ${file}: directory ${dir} must be owned by root (it is owned by uid ${d.uid})`, file);
    if ((d.mode & 0o022) !== 0 && !sticky) throw new AgentPolicyError(`agent policy ${file}: directory ${dir} is writable by group or others (mode ${(d.mode & 0o777).toString(8)})`, file);
    if (dir === '/') break;
  }
}

/**
 * Loads the policy from `file`. Absent file → DEFAULT_AGENT_POLICY. Throws
 * AgentPolicyError when the file is invalid or not safely owned.
 */
export function loadAgentPolicy(file: string): AgentPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_AGENT_POLICY;
    throw new AgentPolicyError(`agent policy ${file} cannot be read: ${(e as Error).message}`, file);
  }
  checkOwnership(file);
  return parseAgentPolicy(text, file);
}
