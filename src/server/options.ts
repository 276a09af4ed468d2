/**
 * Server options: what a user passes (`ServerOptions`, from flags or code)
 * compiled once into what the server runs on (`CompiledServerOptions`).
 */
import { resolve } from 'node:path';
import { ValidationError } from './errors.js';
import { DEFAULT_ENROLLMENTS_PER_SECOND_PER_TOKEN } from './auth/limits.js';
import { parseDurationMs } from './auth/enrollment-scope.js';
import { DEFAULT_MAX_INFLIGHT_BODY_MIB, DEFAULT_WS_FIRST_MESSAGE_TIMEOUT_MS, MAX_MESSAGE_BYTES } from './opamp/limits.js';
import type { SecretsKeyOption } from './secrets/secrets-key.js';
import { FORGET_STARTUP_GRACE_MS, forgetSweepMs } from './fleet/offline-forgetter.js';
import { DEFAULT_TOKEN_RETENTION, MIN_TOKEN_RETENTION_MS, tokenSweepMs } from './users/token-retention.js';
import { DEFAULT_POLICY, mergePolicy, PolicyOverridesSchema, type RolloutPolicy } from './rollouts/policy.js';

function rolloutDefaults(value: Record<string, unknown> | undefined): RolloutPolicy {
  const parsed = PolicyOverridesSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ValidationError(`--rollout-defaults: ${issue.path.join('.') || '(top)'}: ${issue.message}`, 'rolloutDefaults');
  }
  return mergePolicy(DEFAULT_POLICY, parsed.data);
}

export const DEFAULT_MAX_DOWNLOADS = 32;

export interface ServerOptions {
  /** host:port to listen on. Default 127.0.0.1:4320; port 0 picks a free one. */
  listen?: string;
  /** Where the SQLite file (and later artifacts) live. Default ./corral-data. */
  dataDir?: string;
  /** Empty: SQLite in the data dir. A postgres:// URL selects PostgreSQL. */
  database?: string;
  /** Heartbeat interval offered to agents, seconds. Default 30. */
  heartbeatSeconds?: number;
  /** Agents are offline after this many missed heartbeats. Default 3. */
  offlineAfterMissed?: number;
  /** Open OpAMP WebSocket connections this process accepts before answering 503. Default 15000. */
  maxConnections?: number;
  /** Concurrent OpAMP HTTP requests before answering 429. Default 256. */
  maxHttpInFlight?: number;
  /**
   * URL agents should use to reach this server (http(s)://host[:port][/prefix]).
   * Offered to enrolling agents in their transport's scheme; without it they keep the URL they dialled.
   */
  publicUrl?: string;
  /** PEM certificate (chain) to serve TLS with; needs `tlsKey`. Reloaded when the file changes or on SIGHUP. */
  tlsCert?: string;
  /** PEM private key of `tlsCert`. */
  tlsKey?: string;
  /** PEM CA that signs agents' client certificates (mTLS through OpAMP CSRs); needs `tlsCert` and `agentCaKey`. */
  agentCaCert?: string;
  /** PEM private key of `agentCaCert`. */
  agentCaKey?: string;
  /** Validity of an agent client certificate; default 30 days, at least 10 s. */
  agentCertValiditySeconds?: number;
  /** Seconds a credential replaced by a rotation is still accepted. Default 600. */
  credentialGraceSeconds?: number;
  /** How often to look for changes made by other replicas, ms. Default 1000. */
  pollMs?: number;
  /** Rollout policy fields that differ from the built-in defaults, for every deployment. */
  rolloutDefaults?: Record<string, unknown>;
  /** How often rollouts are evaluated, ms. Default 1000. */
  rolloutTickMs?: number;
  /**
   * Artifact downloads this process streams at once; past it a download is
   * answered 503 + Retry-After and the agent retries later, resuming with
   * Range. 0 means unlimited. Default 32.
   */
  maxDownloads?: number;
  /** New agents wait as `pending` (nothing offered) until `corral agent approve`. Default false. */
  requireApproval?: boolean;
  /**
   * OpAMP body bytes (HTTP and WebSocket together) this process holds at
   * once, MiB; past it HTTP gets 503 + Retry-After and WebSockets close with
   * 1013. At least 64 (one message of the spec's maximum size). Default 128.
   */
  maxOpampInflightMib?: number;
  /** A WebSocket that sends no complete first message within this long is closed, seconds. Default 30. */
  wsFirstMessageTimeoutSeconds?: number;
  /** New agents one enrollment token may enroll per second (burst: ten seconds' worth). Default 100. */
  maxEnrollmentsPerSecond?: number;
  /** When set, `/metrics` answers only requests with `Authorization: Bearer <this>`. Default: open. */
  metricsToken?: string;
  /**
   * File holding the 32-byte key that seals secret values and config files
   * (base64 or hex). SQLite: default `<dataDir>/secrets.key`, created 0600 on
   * first start. PostgreSQL: no default (every replica needs the same key):
   * the file must exist; without it, writing a secret is refused and a store
   * that holds secrets refuses to start.
   */
  secretsKeyFile?: string;
  /**
   * Keep audit records this long (a duration: 90d, 12h, 30m); older ones are
   * pruned hourly, and the pruning is itself recorded. Default: keep forever.
   */
  auditRetention?: string;
  /**
   * Forget (delete, as `corral agent delete` does) agents that have been
   * offline and unseen longer than this duration (30d, 720h; at least the
   * time after which an agent is offline), checked every half of it (1 s to
   * 10 min). Revoked agents are kept. Default "never".
   */
  forgetOfflineAfter?: string;
  /**
   * Delete API tokens revoked, or expired, longer ago than this duration
   * (30d, 720h; at least 1h), and enrollment tokens likewise once no agent
   * names them; swept every tenth of it (1 min to 1 h). "0" or "never"
   * keeps them for ever. Default "30d".
   */
  tokenRetention?: string;
}

export interface CompiledServerOptions {
  host: string;
  port: number;
  dataDir: string;
  database: string;
  heartbeatMs: number;
  offlineAfterMs: number;
  maxConnections: number;
  maxHttpInFlight: number;
  publicUrl: string | null;
  /** Serve TLS with these files; null for plain HTTP. */
  tls: { certFile: string; keyFile: string } | null;
  /** Sign agents' CSRs and accept their client certificates; null for no mTLS. */
  agentCa: { certFile: string; keyFile: string; validityMs: number } | null;
  credentialGraceMs: number;
  pollMs: number;
  retryAfterSeconds: number;
  rolloutDefaults: RolloutPolicy;
  rolloutTickMs: number;
  /** 0 = unlimited. */
  maxDownloads: number;
  requireApproval: boolean;
  maxOpampInflightBytes: number;
  wsFirstMessageTimeoutMs: number;
  maxEnrollmentsPerSecond: number;
  /** null: /metrics is open. */
  metricsToken: string | null;
  /** The secrets key file and whether to create it when missing; null: no key (PostgreSQL without --secrets-key-file). */
  secretsKey: SecretsKeyOption | null;
  /** null: audit records are kept forever. */
  auditRetentionMs: number | null;
  /** null: offline agents are kept until deleted by hand. */
  forgetOffline: { afterMs: number; afterText: string; everyMs: number; graceMs: number } | null;
  /** null: dead tokens are kept for ever. */
  tokenRetention: { afterMs: number; afterText: string; everyMs: number } | null;
}

function positive(name: string, value: number | undefined, fallback: number, { integer = true } = {}): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v))) {
    throw new ValidationError(`${name} must be a positive ${integer ? 'integer' : 'number'}, got ${String(value)}`, name);
  }
  return v;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < 0) throw new ValidationError(`${name} must be a non-negative integer (0 = unlimited), got ${String(value)}`, name);
  return v;
}

function metricsToken(token: string | undefined): string | null {
  if (token === undefined || token === '') return null;
  if (token.length < 16 || /\s/.test(token)) throw new ValidationError('--metrics-token must be at least 16 characters without spaces', 'metricsToken');
  return token;
}

/** The shortest audit retention: anything shorter is a typo (and would prune records while they are being read). */
export const MIN_AUDIT_RETENTION_MS = 3600_000;

function auditRetention(text: string | undefined): number | null {
  if (text === undefined || text === '' || text === 'forever') return null;
  const ms = parseDurationMs(text);
  if (ms === null) throw new ValidationError(`--audit-retention must be a duration like 90d, 720h or "forever", got "${text}"`, 'auditRetention');
  if (ms < MIN_AUDIT_RETENTION_MS) throw new ValidationError(`--audit-retention must be at least 1h, got "${text}"`, 'auditRetention');
  return ms;
}

function forgetOffline(text: string | undefined, offlineAfterMs: number): CompiledServerOptions['forgetOffline'] {
  if (text === undefined || text === '' || text === 'never') return null;
  const afterMs = parseDurationMs(text);
  if (afterMs === null) throw new ValidationError(`--forget-offline-after must be a duration like 30d, 720h or "never", got "${text}"`, 'forgetOfflineAfter');
  if (afterMs < offlineAfterMs) {
    throw new ValidationError(`--forget-offline-after must be at least the time after which an agent is offline (--heartbeat × --offline-after = ${offlineAfterMs / 1000}s), got "${text}"`, 'forgetOfflineAfter');
  }
  return { afterMs, afterText: text, everyMs: forgetSweepMs(afterMs), graceMs: Math.min(afterMs, FORGET_STARTUP_GRACE_MS) };
}

function tokenRetention(text: string | undefined): CompiledServerOptions['tokenRetention'] {
  const given = text === undefined || text === '' ? DEFAULT_TOKEN_RETENTION : text;
  if (given === '0' || given === 'never') return null;
  const afterMs = parseDurationMs(given);
  if (afterMs === null) throw new ValidationError(`--token-retention must be a duration like 30d, 720h, or "0" / "never" to keep dead tokens, got "${given}"`, 'tokenRetention');
  if (afterMs < MIN_TOKEN_RETENTION_MS) throw new ValidationError(`--token-retention must be at least 1h (or "never"), got "${given}"`, 'tokenRetention');
  return { afterMs, afterText: given, everyMs: tokenSweepMs(afterMs) };
}

function inflightBytes(mib: number | undefined): number {
  const v = positive('maxOpampInflightMib', mib, DEFAULT_MAX_INFLIGHT_BODY_MIB);
  const min = MAX_MESSAGE_BYTES / (1024 * 1024);
  if (v < min) throw new ValidationError(`maxOpampInflightMib must be at least ${min} (one OpAMP message of the maximum size), got ${v}`, 'maxOpampInflightMib');
  return v * 1024 * 1024;
}

function secretsKey(file: string | undefined, database: string, dataDir: string): SecretsKeyOption | null {
  if (file !== undefined && file !== '') return { file: resolve(file), create: database === '' };
  // SQLite: the key sits beside the database (back it up apart from it). PostgreSQL: replicas must share one, so no per-host default.
  return database === '' ? { file: resolve(dataDir, 'secrets.key'), create: true } : null;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new ValidationError(`--listen must be HOST:PORT (e.g. 127.0.0.1:4320), got "${listen}"`, 'listen');
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

export function compileServerOptions(o: ServerOptions): CompiledServerOptions {
  const { host, port } = parseListen(o.listen ?? '127.0.0.1:4320');
  const heartbeatMs = positive('heartbeatSeconds', o.heartbeatSeconds, 30, { integer: false }) * 1000;
  const missed = positive('offlineAfterMissed', o.offlineAfterMissed, 3);
  const database = o.database ?? '';
  if (database !== '' && !/^postgres(ql)?:\/\//.test(database)) {
    throw new ValidationError(`--database must be empty (SQLite in the data dir) or a postgres:// URL`, 'database');
  }
  if (o.publicUrl !== undefined && !/^https?:\/\/[^/]+/.test(o.publicUrl)) {
    throw new ValidationError(`--public-url must be an http(s) URL, got "${o.publicUrl}"`, 'publicUrl');
  }
  if (Boolean(o.tlsCert) !== Boolean(o.tlsKey)) {
    throw new ValidationError(`--tls-cert and --tls-key go together: got only ${o.tlsCert ? '--tls-cert' : '--tls-key'}`, o.tlsCert ? 'tlsKey' : 'tlsCert');
  }
  if (Boolean(o.agentCaCert) !== Boolean(o.agentCaKey)) {
    throw new ValidationError(`--agent-ca-cert and --agent-ca-key go together: got only ${o.agentCaCert ? '--agent-ca-cert' : '--agent-ca-key'}`, o.agentCaCert ? 'agentCaKey' : 'agentCaCert');
  }
  if (o.agentCaCert && !o.tlsCert) throw new ValidationError('--agent-ca-cert needs --tls-cert: client certificates are only presented over TLS', 'agentCaCert');
  const validity = positive('agentCertValiditySeconds', o.agentCertValiditySeconds, 30 * 24 * 3600, { integer: false });
  if (validity < 10) throw new ValidationError(`--agent-cert-validity must be at least 10 seconds, got ${validity}`, 'agentCertValiditySeconds');
  const dataDir = resolve(o.dataDir ?? 'corral-data');
  return {
    host,
    port,
    secretsKey: secretsKey(o.secretsKeyFile, database, dataDir),
    agentCa: o.agentCaCert && o.agentCaKey ? { certFile: resolve(o.agentCaCert), keyFile: resolve(o.agentCaKey), validityMs: validity * 1000 } : null,
    tls: o.tlsCert && o.tlsKey ? { certFile: resolve(o.tlsCert), keyFile: resolve(o.tlsKey) } : null,
    credentialGraceMs: positive('credentialGraceSeconds', o.credentialGraceSeconds, 600, { integer: false }) * 1000,
    dataDir,
    database,
    heartbeatMs,
    offlineAfterMs: heartbeatMs * missed,
    maxConnections: positive('maxConnections', o.maxConnections, 15_000),
    maxHttpInFlight: positive('maxHttpInFlight', o.maxHttpInFlight, 256),
    publicUrl: o.publicUrl?.replace(/\/+$/, '') ?? null,
    pollMs: positive('pollMs', o.pollMs, 1000),
    retryAfterSeconds: 5,
    rolloutDefaults: rolloutDefaults(o.rolloutDefaults),
    rolloutTickMs: positive('rolloutTickMs', o.rolloutTickMs, 1000),
    maxDownloads: nonNegative('maxDownloads', o.maxDownloads, DEFAULT_MAX_DOWNLOADS),
    requireApproval: o.requireApproval ?? false,
    maxOpampInflightBytes: inflightBytes(o.maxOpampInflightMib),
    metricsToken: metricsToken(o.metricsToken),
    auditRetentionMs: auditRetention(o.auditRetention),
    forgetOffline: forgetOffline(o.forgetOfflineAfter, heartbeatMs * missed),
    tokenRetention: tokenRetention(o.tokenRetention),
    maxEnrollmentsPerSecond: positive('maxEnrollmentsPerSecond', o.maxEnrollmentsPerSecond, DEFAULT_ENROLLMENTS_PER_SECOND_PER_TOKEN, { integer: false }),
    wsFirstMessageTimeoutMs: positive('wsFirstMessageTimeoutSeconds', o.wsFirstMessageTimeoutSeconds, DEFAULT_WS_FIRST_MESSAGE_TIMEOUT_MS / 1000, { integer: false }) * 1000,
  };
}
