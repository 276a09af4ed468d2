/**
 * The systemd unit and EnvironmentFile for running the control-plane server
 * as a service (`corral server install`): pure rendering, no file system.
 *
 * The unit runs the server as a dedicated user with a private data dir and
 * systemd's sandboxing (systemd.exec(5)); secrets (a PostgreSQL URL with its
 * password, the metrics token) live in a 0600 EnvironmentFile that systemd
 * reads as root, never on the command line where `ps` shows them.
 */
import { SystemdUnitError, plainValue, renderExecStart } from '../../systemd/index.js';

/** Marks units and env files written by `corral server install`; uninstall only removes units carrying it. */
export const SERVER_UNIT_MARKER = '# Written by `corral server install`';

/** Server settings that are secrets: from these flags to these variables of the env file (the server reads each from it). */
export const SECRET_FLAGS = { database: 'CORRAL_DATABASE', metricsToken: 'CORRAL_METRICS_TOKEN' } as const;

/** Variables the env file may set, listed (commented out) in it so an operator sees where each goes. */
const ENV_FILE_HELP: readonly (readonly [string, string])[] = [
  ['CORRAL_DATABASE', 'postgres://user:password@host:5432/db: PostgreSQL instead of SQLite in the data dir'],
  ['CORRAL_METRICS_TOKEN', 'require "Authorization: Bearer <token>" on /metrics'],
  ['CORRAL_TLS_CERT', 'PEM certificate (chain): serve HTTPS/WSS (the user must be able to read it)'],
  ['CORRAL_TLS_KEY', 'PEM private key of CORRAL_TLS_CERT (e.g. root:corral, 0640)'],
  ['CORRAL_AGENT_CA_CERT', "CA certificate that signs agents' client certificates (mTLS)"],
  ['CORRAL_AGENT_CA_KEY', 'its private key'],
  ['CORRAL_MAX_DOWNLOADS', 'artifact downloads streamed at once (default 32)'],
  ['CORRAL_AUDIT_RETENTION', 'keep audit records this long, e.g. 365d (default: forever)'],
  ['CORRAL_FORGET_OFFLINE_AFTER', 'delete agents offline and unseen this long, e.g. 30d (default: never)'],
  ['CORRAL_TOKEN_RETENTION', 'delete tokens revoked or expired this long ago, e.g. 90d; never keeps them (default: 30d)'],
  ['CORRAL_LOG_LEVEL', 'trace, debug, info (default), warn, error'],
  ['CORRAL_ADMIN_TOKEN', 'first start only: the admin token to create instead of a random one'],
  ['CORRAL_ENROLLMENT_TOKEN', 'first start only: the enrollment token to create instead of a random one'],
];

export interface ServerUnitSpec {
  /** Absolute path of node (process.execPath). */
  nodePath: string;
  /** Absolute path of the installed `dist/bin/corral.js`. */
  script: string;
  /** Everything after `corral server`: --data-dir first; never a secret. */
  serverArgs: readonly string[];
  /** The server's data dir (absolute). Under /var/lib it becomes `StateDirectory=`, elsewhere `ReadWritePaths=`. */
  dataDir: string;
  /** Absolute path of the EnvironmentFile (optional at runtime: `-` prefix). */
  envFile: string;
  /** Run the server as this user (and its group); null: as root, without the user sandbox. */
  user: string | null;
  /** The server listens on a port below 1024: keep CAP_NET_BIND_SERVICE, and only that. */
  privilegedPort: boolean;
  /** node or corral.js lives under /home or /root: the sandbox makes home dirs read-only rather than hiding them. */
  homeReadOnly: boolean;
  restartSec: number;
  /** The unit's name, for SyslogIdentifier. */
  unitName: string;
}

/** `StateDirectory=` value for a data dir directly under /var/lib (systemd creates it, owned by the user), else null. */
export function stateDirectoryOf(dataDir: string): string | null {
  const m = /^\/var\/lib\/([A-Za-z0-9_.@-]+(?:\/[A-Za-z0-9_.@-]+)*)$/.exec(dataDir);
  return m && !m[1]!.split('/').some((p) => p === '.' || p === '..') ? m[1]! : null;
}

/** The server's systemd service unit. */
export function renderServerUnit(spec: ServerUnitSpec): string {
  for (const flag of ['--database', '--metrics-token']) {
    if (spec.serverArgs.some((a) => a === flag || a.startsWith(`${flag}=`))) throw new SystemdUnitError(`${flag} is a secret: it belongs in the EnvironmentFile, not on the command line`);
  }
  const exec = renderExecStart([spec.nodePath, spec.script, 'server', ...spec.serverArgs]);
  const state = stateDirectoryOf(spec.dataDir);
  const dataLines = state
    ? [`# systemd creates ${spec.dataDir} before every start, owned by the service user, 0700.`, `StateDirectory=${state}`, 'StateDirectoryMode=0700']
    : [`# The data dir is the only place the server writes (besides a private /tmp).`, `ReadWritePaths=${plainValue('--data-dir', spec.dataDir)}`];
  const userLines = spec.user === null ? [] : [`User=${plainValue('--user', spec.user)}`, `Group=${plainValue('--user', spec.user)}`];
  const caps = spec.privilegedPort
    ? ['# Binding a port below 1024 is the one privilege it keeps.', 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE', 'AmbientCapabilities=CAP_NET_BIND_SERVICE']
    : ['CapabilityBoundingSet='];
  return `${SERVER_UNIT_MARKER}; running it again replaces this file,
# \`corral server uninstall\` removes it. See docs/server-install.md.
[Unit]
Description=Corral control-plane server
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec}
# Secrets and settings (CORRAL_DATABASE, CORRAL_METRICS_TOKEN, CORRAL_TLS_*, ...): 0600, read by systemd as root.
EnvironmentFile=-${plainValue('--environment-file', spec.envFile)}
${userLines.map((l) => `${l}\n`).join('')}${dataLines.join('\n')}
UMask=0077
Restart=always
RestartSec=${spec.restartSec}
# The server stops within 10 s of SIGTERM (it closes connections, then exits).
TimeoutStopSec=20
# Up to --max-connections agent WebSockets (default 15000), each a file descriptor.
LimitNOFILE=65536
SyslogIdentifier=${plainValue('--unit-name', spec.unitName.replace(/\.service$/, ''))}

# Sandboxing (systemd.exec(5)). Not MemoryDenyWriteExecute: V8's JIT compiler needs
# memory that is writable and executable.
NoNewPrivileges=yes
${caps.join('\n')}
ProtectSystem=strict
ProtectHome=${spec.homeReadOnly ? 'read-only' : 'yes'}
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM

[Install]
WantedBy=multi-user.target
`;
}

/** Values that need no quoting in an EnvironmentFile. */
const BARE_VALUE = /^[A-Za-z0-9._~+/=:@%,-]*$/;

/** One `NAME=value` line systemd reads back as exactly `value` (single quotes keep everything literal). */
export function envAssignment(name: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new SystemdUnitError(`environment variable name "${name}" is not valid`);
  if (BARE_VALUE.test(value)) return `${name}=${value}`;
  if (/['\n\r\0]/.test(value)) throw new SystemdUnitError(`${name}: a value with a single quote, a line break or a NUL byte cannot be written to an EnvironmentFile safely`);
  return `${name}='${value}'`;
}

/**
 * Parses the `NAME=value` lines of an env file this module wrote (bare or
 * single-quoted values), so re-running install keeps what it does not change.
 */
export function parseEnvAssignments(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (!m) continue;
    const raw = m[2]!;
    out.set(m[1]!, raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'") ? raw.slice(1, -1) : raw);
  }
  return out;
}

/** The server's EnvironmentFile: the given variables, and the others it may set as comments. */
export function renderServerEnvFile(vars: ReadonlyMap<string, string>, unitName: string): string {
  const set = [...vars].map(([k, v]) => envAssignment(k, v));
  const help = ENV_FILE_HELP.filter(([k]) => !vars.has(k)).map(([k, what]) => `# ${what}\n#${k}=`);
  return `${SERVER_UNIT_MARKER} for ${unitName}; keep it 0600 (it may hold secrets).
# Read by systemd as root when the server starts; \`corral server install\` rewrites it,
# keeping the variables set here. Restart the server after editing it.
${set.length ? `${set.join('\n')}\n` : ''}
# Other settings it may hold (uncomment and set):
${help.join('\n')}
`;
}
