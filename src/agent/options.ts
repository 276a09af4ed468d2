/** Agent options: flags and env compiled once into what the agent runs on. */
import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { DEFAULT_BACKOFF, type BackoffPolicy } from './backoff.js';
import { parseFingerprint, readCaFile, ServerTrustError, type ServerTrust } from './server-trust.js';
import { DEFAULT_POLICY_FILE, loadAgentPolicy, type AgentPolicy } from './policy/agent-policy.js';

export interface AgentOptions {
  /** http(s)://HOST:PORT of the Corral server. */
  server: string;
  /** Enrollment token (used until the agent has its own credential). */
  token?: string;
  /** PEM file of the CAs that sign the server's certificate, instead of the system CAs (https:// servers only). */
  caFile?: string;
  /** `sha256:<64 hex>` of the server's certificate: trust exactly that certificate (https:// servers only). */
  serverFingerprint?: string;
  /** mTLS: make a key pair, get a client certificate through OpAMP's CSR flow, present it (https:// servers only). Default false. */
  mtls?: boolean;
  dataDir: string;
  labels?: Record<string, string>;
  name?: string;
  /** Heartbeat seconds until the server offers its own. Default 30. */
  heartbeatSeconds?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Refuse exec jobs (they get a clear error). Default false. Shorthand for the policy's `exec.enabled: false`. */
  noExec?: boolean;
  /**
   * The local policy file (policy/agent-policy.ts). Default
   * /etc/corral/agent-policy.yaml; absent file → default policy; invalid or
   * not root-owned → compileAgentOptions throws AgentPolicyError.
   */
  policyFile?: string;
  /** Seconds between resource samples sent to the server. Default 5. */
  sampleSeconds?: number;
  /** Seconds a new agent version has to connect and report healthy before the upgrade watcher reverts it. Default 60. */
  upgradeGraceSeconds?: number;
  /** A service's stdout.log or stderr.log is rotated once over this size. Default 10 MiB. */
  logMaxBytes?: number;
  /** Seconds between checks of output file sizes. Default 10. */
  logCheckSeconds?: number;
  /** Name of the cgroup that holds the cgroups of services declaring resources. Default "corral". */
  cgroupParent?: string;
  /**
   * The service manager that restarts the agent when it exits (the unit
   * `corral agent install` writes sets CORRAL_AGENT_SUPERVISOR=systemd):
   * `systemd`, or absent/empty for none. Self-upgrades then go through it.
   */
  supervisor?: string;
  /** The systemd unit running the agent (CORRAL_AGENT_UNIT); required with supervisor systemd. */
  supervisorUnit?: string;
}

/** The env vars the agent's systemd unit sets, read by `corral agent`. */
export const SUPERVISOR_ENV = 'CORRAL_AGENT_SUPERVISOR';
export const SUPERVISOR_UNIT_ENV = 'CORRAL_AGENT_UNIT';

/** A service manager restarting the agent, as compiled from the options. */
export interface AgentSupervisor {
  kind: 'systemd';
  /** Full unit name, e.g. corral-agent.service. */
  unit: string;
}

export interface CompiledAgentOptions {
  opampUrl: string;
  token: string | null;
  /** How the server is verified over TLS (system CAs by default). */
  trust: ServerTrust;
  /** Get and present a TLS client certificate (client-certificate.ts). */
  mtls: boolean;
  dataDir: string;
  labels: Record<string, string>;
  name: string;
  heartbeatMs: number;
  backoff: BackoffPolicy;
  noExec: boolean;
  /** What this agent allows, whatever the server asks. */
  policy: AgentPolicy;
  sampleMs: number;
  upgradeGraceMs: number;
  logMaxBytes: number;
  logCheckMs: number;
  supervisor: AgentSupervisor | null;
  cgroupParent: string;
}

export class AgentOptionsError extends Error {
  readonly code = 'INVALID_ARGUMENT';
}

const LABEL_KEY = /^[A-Za-z0-9._/-]{1,128}$/;
const LABEL_VALUE = /^[A-Za-z0-9._/:-]{0,256}$/;

/** Parses `k=v` label flags; throws AgentOptionsError naming the bad one. */
export function parseLabels(pairs: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq < 0 ? '' : pair.slice(0, eq);
    const value = eq < 0 ? '' : pair.slice(eq + 1);
    if (eq < 0 || !LABEL_KEY.test(key) || !LABEL_VALUE.test(value)) {
      throw new AgentOptionsError(`--label "${pair}": expected key=value (keys: letters, digits, ._/-; values also :)`);
    }
    labels[key] = value;
  }
  return labels;
}

export function compileAgentOptions(o: AgentOptions): CompiledAgentOptions {
  let url: URL;
  try {
    url = new URL(o.server);
  } catch {
    throw new AgentOptionsError(`--server must be a URL like http://corral:4320, got "${o.server}"`);
  }
  if (!['http:', 'https:', 'ws:', 'wss:'].includes(url.protocol)) throw new AgentOptionsError(`--server must be http(s):// or ws(s)://, got "${o.server}"`);
  url.protocol = url.protocol === 'https:' || url.protocol === 'wss:' ? 'wss:' : 'ws:';
  const trust = compileTrust(o, url.protocol === 'wss:');
  if (o.mtls && url.protocol !== 'wss:') throw new AgentOptionsError(`--mtls needs an https:// (or wss://) --server, got "${o.server}"`);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/opamp';
  const heartbeat = o.heartbeatSeconds ?? 30;
  if (!(heartbeat > 0)) throw new AgentOptionsError(`--heartbeat must be a positive number of seconds`);
  const grace = o.upgradeGraceSeconds ?? 60;
  if (!(grace > 0)) throw new AgentOptionsError(`--upgrade-grace must be a positive number of seconds`);
  const logMaxBytes = o.logMaxBytes ?? 10 * 1024 * 1024;
  if (!Number.isInteger(logMaxBytes) || logMaxBytes < 1) throw new AgentOptionsError(`--log-max-bytes must be a positive whole number of bytes`);
  const logCheck = o.logCheckSeconds ?? 10;
  if (!(logCheck > 0)) throw new AgentOptionsError(`--log-check-interval must be a positive number of seconds`);
  const cgroupParent = o.cgroupParent ?? 'corral';
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(cgroupParent) || cgroupParent.startsWith('cgroup.') || cgroupParent === '.' || cgroupParent === '..') {
    throw new AgentOptionsError(`--cgroup-parent must be letters, digits and ._- (at most 64), not "." or "..", not starting with "cgroup.", got "${cgroupParent}"`);
  }
  let supervisor: AgentSupervisor | null = null;
  if (o.supervisor) {
    if (o.supervisor !== 'systemd') throw new AgentOptionsError(`${SUPERVISOR_ENV} must be "systemd" or empty, got "${o.supervisor}"`);
    if (!o.supervisorUnit || !/^[A-Za-z0-9_.:@-]+\.service$/.test(o.supervisorUnit)) {
      throw new AgentOptionsError(`${SUPERVISOR_UNIT_ENV} must name the agent's unit (like corral-agent.service), got "${o.supervisorUnit ?? ''}"`);
    }
    supervisor = { kind: 'systemd', unit: o.supervisorUnit };
  }
  return {
    opampUrl: url.toString(),
    token: o.token || null,
    trust,
    mtls: o.mtls ?? false,
    dataDir: resolve(o.dataDir),
    labels: o.labels ?? {},
    name: o.name || hostname(),
    heartbeatMs: heartbeat * 1000,
    backoff: { ...DEFAULT_BACKOFF, ...o.backoff },
    noExec: o.noExec ?? false,
    policy: loadAgentPolicy(resolve(o.policyFile ?? DEFAULT_POLICY_FILE)),
    sampleMs: Math.max(0.2, o.sampleSeconds ?? 5) * 1000,
    upgradeGraceMs: Math.round(grace * 1000),
    logMaxBytes,
    logCheckMs: Math.max(50, Math.round(logCheck * 1000)),
    supervisor,
    cgroupParent,
  };
}

function compileTrust(o: AgentOptions, secure: boolean): ServerTrust {
  if (!o.caFile && !o.serverFingerprint) return { caPem: null, fingerprint: null };
  if (o.caFile && o.serverFingerprint) throw new AgentOptionsError('use --ca-file or --server-fingerprint, not both');
  if (!secure) throw new AgentOptionsError(`${o.caFile ? '--ca-file' : '--server-fingerprint'} needs an https:// (or wss://) --server, got "${o.server}"`);
  try {
    return { caPem: o.caFile ? readCaFile('--ca-file', o.caFile) : null, fingerprint: o.serverFingerprint ? parseFingerprint('--server-fingerprint', o.serverFingerprint) : null };
  } catch (e) {
    if (e instanceof ServerTrustError) throw new AgentOptionsError(e.message);
    throw e;
  }
}
