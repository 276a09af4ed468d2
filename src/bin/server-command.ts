/** `corral server`: runs the control plane until SIGTERM/SIGINT. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CliError, EXIT } from '../cli/index.js';
import { pino } from 'pino';

// The server's modules (HTTP stack, store drivers, metrics) load only when a server runs,
// so the agent and the CLI, which share this executable, do not pay for them.
const loadServer = () => import('../server/index.js');

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
    return n;
  };
}

function count(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a non-negative integer (0 = unlimited)`);
    return n;
  };
}

function seconds(v: string): number {
  const n = Number(v.replace(/s$/, ''));
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number of seconds, e.g. 30 or 0.5');
  return n;
}

function rate(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive number (per second), e.g. 100 or 0.5`);
    return n;
  };
}

export interface ServerFlags {
  listen: string;
  dataDir: string;
  database?: string;
  heartbeat: number;
  offlineAfter: number;
  maxConnections: number;
  maxDownloads: number;
  maxOpampInflightMib: number;
  wsFirstMessageTimeout: number;
  metricsToken?: string;
  secretsKeyFile?: string;
  maxEnrollmentsPerSecond: number;
  publicUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  agentCaCert?: string;
  agentCaKey?: string;
  agentCertValidity?: number;
  credentialGrace: number;
  rolloutDefaults?: Record<string, unknown>;
  requireApproval?: boolean;
  auditRetention?: string;
  forgetOfflineAfter?: string;
  tokenRetention?: string;
  logLevel: string;
}

function jsonObject(flag: string) {
  return (value: string): Record<string, unknown> => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch (e) {
      throw new InvalidArgumentError(`${flag} must be a JSON object: ${(e as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidArgumentError(`${flag} must be a JSON object`);
    return parsed as Record<string, unknown>;
  };
}

/** The `corral server` flags as the server's options (also validates `corral server install`'s). */
export function serverOptionsFrom(flags: ServerFlags) {
  return {
    listen: flags.listen,
    dataDir: flags.dataDir,
    database: flags.database,
    heartbeatSeconds: flags.heartbeat,
    offlineAfterMissed: flags.offlineAfter,
    maxConnections: flags.maxConnections,
    maxDownloads: flags.maxDownloads,
    maxOpampInflightMib: flags.maxOpampInflightMib,
    wsFirstMessageTimeoutSeconds: flags.wsFirstMessageTimeout,
    metricsToken: flags.metricsToken,
    secretsKeyFile: flags.secretsKeyFile,
    maxEnrollmentsPerSecond: flags.maxEnrollmentsPerSecond,
    publicUrl: flags.publicUrl,
    tlsCert: flags.tlsCert,
    tlsKey: flags.tlsKey,
    agentCaCert: flags.agentCaCert,
    agentCaKey: flags.agentCaKey,
    agentCertValiditySeconds: flags.agentCertValidity,
    credentialGraceSeconds: flags.credentialGrace,
    rolloutDefaults: flags.rolloutDefaults,
    requireApproval: flags.requireApproval ?? false,
    auditRetention: flags.auditRetention,
    forgetOfflineAfter: flags.forgetOfflineAfter,
    tokenRetention: flags.tokenRetention,
  };
}

export function serverCommand(): Command {
  const cmd = new Command('server')
    .description('Run the Corral control plane: OpAMP on /v1/opamp, REST on /api/v1, /metrics, /healthz, all on one port')
    .option('--listen <host:port>', 'address to listen on (port 0 picks a free port)', '127.0.0.1:4320')
    .option('--data-dir <dir>', 'data directory (SQLite store lives here)', './corral-data')
    .option('--database <url>', 'postgres://user@host:5432/db to use PostgreSQL instead of SQLite', process.env.CORRAL_DATABASE)
    .option('--heartbeat <seconds>', 'heartbeat interval offered to agents', seconds, 30)
    .option('--offline-after <n>', 'missed heartbeats before an agent is offline', int('--offline-after'), 3)
    .option('--max-connections <n>', 'OpAMP WebSocket connections accepted before answering 503', int('--max-connections'), 15_000)
    .addOption(
      new Option('--max-downloads <n>', 'artifact downloads streamed at once before answering 503 + Retry-After (agents queue and resume); 0 = unlimited')
        .env('CORRAL_MAX_DOWNLOADS')
        .argParser(count('--max-downloads'))
        .default(32),
    )
    .option('--max-opamp-inflight-mib <n>', 'OpAMP body MiB (HTTP and WebSocket together) held at once; past it 503 + Retry-After / close 1013; at least 64', int('--max-opamp-inflight-mib'), 128)
    .option('--ws-first-message-timeout <seconds>', 'close an OpAMP WebSocket that sends no first message within this long', seconds, 30)
    .option('--max-enrollments-per-second <n>', 'new agents one enrollment token, and one source address, may enroll per second (burst: 10 s worth); past it 429 + Retry-After', rate('--max-enrollments-per-second'), 100)
    .addOption(
      new Option('--metrics-token <token>', 'require Authorization: Bearer <token> on /metrics (at least 16 characters); default: /metrics is open').env('CORRAL_METRICS_TOKEN'),
    )
    .addOption(
      new Option(
        '--secrets-key-file <file>',
        'key that encrypts secret values and config files at rest (32 bytes, base64 or hex, mode 0600); default with SQLite: <data-dir>/secrets.key, created on first start; with PostgreSQL required once any secret exists, the same file on every replica',
      ).env('CORRAL_SECRETS_KEY_FILE'),
    )
    .option(
      '--public-url <url>',
      'http(s) URL agents reach this server at, offered to them after enrollment (wss:// or https:// per transport); default: none, agents keep the URL they were given',
    )
    .option('--tls-cert <file>', 'serve HTTPS/WSS with this PEM certificate (chain); reloaded when the file changes or on SIGHUP (env CORRAL_TLS_CERT); default: plain HTTP', process.env.CORRAL_TLS_CERT)
    .option('--tls-key <file>', 'PEM private key of --tls-cert (env CORRAL_TLS_KEY)', process.env.CORRAL_TLS_KEY)
    .option(
      '--agent-ca-cert <file>',
      'PEM CA certificate to sign agents\' client certificates with (mTLS through OpAMP CSRs from agents started with --mtls); needs --tls-cert (env CORRAL_AGENT_CA_CERT); default: no agent certificates',
      process.env.CORRAL_AGENT_CA_CERT,
    )
    .option('--agent-ca-key <file>', 'PEM private key of --agent-ca-cert (env CORRAL_AGENT_CA_KEY)', process.env.CORRAL_AGENT_CA_KEY)
    .option('--agent-cert-validity <seconds>', 'how long an agent client certificate signed with --agent-ca-cert is valid; agents renew at 2/3 of it', seconds, 30 * 24 * 3600)
    .option('--credential-grace <seconds>', "how long an agent's old credential still works after `corral agent rotate-credentials` offered it a new one (until it uses the new one)", seconds, 600)
    .option('--rollout-defaults <json>', 'rollout policy fields to use instead of the built-in defaults, e.g. \'{"batches":4,"maxInFlight":"10%"}\'', jsonObject('--rollout-defaults'))
    .option('--require-approval', 'new agents wait (pending: no config, packages, exec or credential) until corral agent approve')
    .option(
      '--audit-retention <duration>',
      'keep audit records this long (90d, 720h; at least 1h), pruning older ones hourly and recording each pruning (env CORRAL_AUDIT_RETENTION); default: forever',
      process.env.CORRAL_AUDIT_RETENTION,
    )
    .option(
      '--forget-offline-after <duration>',
      'delete agents offline and unseen longer than this (30d, 720h), as corral agent delete does, with an agent.forgotten event and an audit record; revoked agents are kept; a forgotten agent that returns is refused until re-enrolled (env CORRAL_FORGET_OFFLINE_AFTER); default: never',
      process.env.CORRAL_FORGET_OFFLINE_AFTER,
    )
    .option(
      '--token-retention <duration>',
      'delete API tokens revoked or expired longer ago than this (30d, 720h; at least 1h), and enrollment tokens likewise once no agent enrolled with them, recording each deletion (a token.deleted event and an audit record); 0 or never keeps them (env CORRAL_TOKEN_RETENTION); default: 30d',
      process.env.CORRAL_TOKEN_RETENTION,
    )
    .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.CORRAL_LOG_LEVEL ?? 'info')
    .addHelpText(
      'after',
      `
On first start the server prints an admin token and an enrollment token once.
Set CORRAL_ADMIN_TOKEN / CORRAL_ENROLLMENT_TOKEN on first start to choose them.
New enrollment tokens: corral token create (--label binds trusted labels; --expires,
--max-agents, --require-approval). New admin token: corral server rotate-admin-token.
With --require-approval every new agent waits until an operator approves it
(corral agents shows it pending; corral agent approve ID / corral agent reject ID).
As a systemd service: sudo corral server install (docs/server-install.md); backups:
corral server backup --to FILE (SQLite) or pg_dump.

Examples:
  corral server
  corral server --listen 0.0.0.0:4320 --database postgres://corral@db:5432/corral --secrets-key-file /etc/corral/secrets.key

Secrets (deploy --set-secret, config put --secret) are sealed with AES-256-GCM under the
--secrets-key-file key; back it up apart from the database (docs/security.md, "Secrets").
New key file: corral server gen-secrets-key > secrets.key (then chmod 600).`,
    )
    .action(async (flags: ServerFlags) => {
      const { compileServerOptions, startServer } = await loadServer();
      const log = pino({ level: flags.logLevel, base: { component: 'server' } }, pino.destination(2));
      const opts = compileServerOptions(serverOptionsFrom(flags));
      const server = await startServer(opts, { log });
      const where = opts.database ? `postgres ${new URL(opts.database).host}` : `sqlite ${opts.dataDir}`;
      const lines = [`Corral server listening on ${server.url} (store: ${where})`];
      if (server.consoleUrl) lines.push(`Web console: ${server.consoleUrl}`);
      if (server.firstStart) {
        lines.push(
          'First start: these tokens are shown only once. Keep them safe.',
          `  admin token:      ${server.firstStart.adminToken}`,
          `  enrollment token: ${server.firstStart.enrollmentToken}`,
        );
      }
      process.stdout.write(`${lines.join('\n')}\n`);
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info({ signal }, 'shutting down');
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        server.stop().then(
          () => process.exit(0),
          (err: unknown) => {
            log.error({ err }, 'shutdown failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      // Reloads the TLS certificate (a renewal); never stops the server.
      process.on('SIGHUP', () => server.reloadTls());
    });

  // `server` has --data-dir and --database too: without this, commander hands
  // `rotate-admin-token --data-dir X` to the parent and the subcommand gets its defaults.
  cmd.enablePositionalOptions();
  cmd
    .command('rotate-admin-token')
    .description('Revoke every admin token and print a new one (works on the store directly; the server may be running)')
    .option('--data-dir <dir>', 'the server\'s data directory (its SQLite store)', './corral-data')
    .option('--database <url>', 'the server\'s PostgreSQL URL, if it uses one (default: $CORRAL_DATABASE)', process.env.CORRAL_DATABASE)
    .action(async (_flags: unknown, sub: Command) => {
      const { compileServerOptions, openStore, rotateAdminToken } = await loadServer();
      // Given before the subcommand (`server --data-dir X rotate-admin-token`), they are the parent's: take them from there.
      const given = (key: string): string | undefined =>
        (sub.getOptionValueSource(key) !== 'cli' && cmd.getOptionValueSource(key) === 'cli' ? cmd.getOptionValue(key) : sub.getOptionValue(key)) as string | undefined;
      const opts = compileServerOptions({ dataDir: given('dataDir'), database: given('database') });
      if (!opts.database && !existsSync(join(opts.dataDir, 'corral.db'))) {
        throw new CliError(`no Corral store in ${opts.dataDir} (no corral.db there); pass the server's --data-dir, or --database for PostgreSQL`, EXIT.ERROR, 'STORE_NOT_FOUND');
      }
      const store = await openStore({ database: opts.database, dataDir: opts.dataDir });
      try {
        const token = await rotateAdminToken(store, Date.now(), process.env.CORRAL_ADMIN_TOKEN);
        process.stdout.write(`new admin token: ${token}\n`);
      } finally {
        await store.close();
      }
    });
  cmd
    .command('backup')
    .description("Copy the SQLite store (signing key, tokens, credentials, desired state, artifacts) to a new file while the server runs (SQLite's online backup); for PostgreSQL use pg_dump")
    .requiredOption('--to <file>', 'the backup file to write (must not exist; written 0600)')
    .option('--data-dir <dir>', "the server's data directory (its SQLite store)", './corral-data')
    .option('--database <url>', "the server's PostgreSQL URL, if it uses one: refused, pointing at pg_dump (default: $CORRAL_DATABASE)", process.env.CORRAL_DATABASE)
    .option('-o, --output <format>', 'table or json', 'table')
    .addHelpText(
      'after',
      `
Run it as the server's user. To restore: stop the server, remove corral.db, corral.db-wal and
corral.db-shm from the data dir, copy the backup in as corral.db (owned by that user, 0600), start.

Example:
  sudo -u corral corral server backup --data-dir /var/lib/corral --to /var/backups/corral/corral-$(date +%F).db`,
    )
    .action(async (flags: { to: string; output: string }, sub: Command) => {
      const given = (key: string): string | undefined =>
        (sub.getOptionValueSource(key) !== 'cli' && cmd.getOptionValueSource(key) === 'cli' ? cmd.getOptionValue(key) : sub.getOptionValue(key)) as string | undefined;
      const database = given('database');
      if (database) {
        throw new CliError(
          `the store is PostgreSQL (${database.replace(/\/\/[^@/]*@/, '//')}): back it up with pg_dump, e.g. pg_dump --format=custom --file=corral.dump "$CORRAL_DATABASE"`,
          EXIT.ERROR,
          'USE_PG_DUMP',
        );
      }
      const { backupSqliteStore } = await loadServer();
      const r = await backupSqliteStore(given('dataDir') ?? './corral-data', flags.to);
      if (flags.output === 'json') process.stdout.write(`${JSON.stringify(r)}\n`);
      else process.stdout.write(`backed up the store to ${r.file} (${r.bytes} bytes, 0600)\n`);
    });
  cmd
    .command('rotate-secrets-key')
    .description('Re-seal every secret value and secret config file with a new key, in one transaction (works on the store directly; stop the servers first)')
    .requiredOption('--new-key-file <file>', 'the new key (make one with: corral server gen-secrets-key)')
    .option('--old-key-file <file>', 'the key the secrets are sealed with now (default with SQLite: <data-dir>/secrets.key)')
    .option('--data-dir <dir>', "the server's data directory (its SQLite store)", './corral-data')
    .option('--database <url>', "the server's PostgreSQL URL, if it uses one (default: $CORRAL_DATABASE)", process.env.CORRAL_DATABASE)
    .addHelpText(
      'after',
      `
Then start every server with --secrets-key-file pointing at the new key (with SQLite's default,
move it to <data-dir>/secrets.key). Keep the old key until every server runs with the new one.

Example:
  (umask 077; corral server gen-secrets-key > new.key)
  corral server rotate-secrets-key --data-dir /var/lib/corral --new-key-file new.key
  mv new.key /var/lib/corral/secrets.key`,
    )
    .action(async (_flags: unknown, sub: Command) => {
      const { compileServerOptions, openStore, rotateSecretsKey, SecretBox } = await loadServer();
      const given = (key: string): string | undefined =>
        (sub.getOptionValueSource(key) !== 'cli' && cmd.getOptionValueSource(key) === 'cli' ? cmd.getOptionValue(key) : sub.getOptionValue(key)) as string | undefined;
      const opts = compileServerOptions({ dataDir: given('dataDir'), database: given('database'), secretsKeyFile: sub.getOptionValue('oldKeyFile') as string | undefined });
      if (!opts.database && !existsSync(join(opts.dataDir, 'corral.db'))) {
        throw new CliError(`no Corral store in ${opts.dataDir} (no corral.db there); pass the server's --data-dir, or --database for PostgreSQL`, EXIT.ERROR, 'STORE_NOT_FOUND');
      }
      if (!opts.secretsKey) throw new CliError('--old-key-file is needed with PostgreSQL (the key the secrets are sealed with now)', EXIT.ERROR, 'INVALID_ARGUMENT');
      const from = SecretBox.load(opts.secretsKey.file, { create: false });
      const to = SecretBox.load(sub.getOptionValue('newKeyFile') as string, { create: false });
      if (from.keyId === to.keyId) throw new CliError(`the new key file holds the same key (${to.keyId}) as the old one`, EXIT.ERROR, 'INVALID_ARGUMENT');
      const store = await openStore({ database: opts.database, dataDir: opts.dataDir });
      try {
        const n = await rotateSecretsKey(store, from, to);
        process.stdout.write(`re-sealed ${n.values} secret values and ${n.files} secret files with key ${to.keyId} (was ${from.keyId}); start every server with this key file now\n`);
      } finally {
        await store.close();
      }
    });
  cmd
    .command('gen-secrets-key')
    .description('Print a new random secrets key (for --secrets-key-file); write it to a file only the server may read')
    .addHelpText('after', `
Example:
  (umask 077; corral server gen-secrets-key > /etc/corral/secrets.key)`)
    .action(async () => {
      const { newSecretsKeyText } = await loadServer();
      process.stdout.write(newSecretsKeyText());
    });
  return cmd;
}
