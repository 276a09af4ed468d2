/**
 * The systemd unit and EnvironmentFile for running the agent as a service:
 * pure rendering (no file system). The unit-file syntax (ExecStart quoting and
 * its inverse parsing, which `corral agent uninstall` and the tests use to
 * read a rendered unit back) lives in src/systemd/, shared with `corral server install`.
 */
import { SystemdUnitError, plainValue, renderExecStart } from '../../systemd/index.js';

export { SystemdUnitError, parseExecStart, quoteSystemdArg, renderExecStart, unitSetting, unitSettings } from '../../systemd/index.js';

/** Marks units and env files written by `corral agent install`; uninstall only removes units carrying it. */
export const UNIT_MARKER = '# Written by `corral agent install`';

/** The env var the agent reads its enrollment token from (the default of `corral agent --token`). */
export const TOKEN_ENV = 'CORRAL_TOKEN';

export interface AgentUnitSpec {
  /** Absolute path of node (process.execPath). */
  nodePath: string;
  /** Flags for node itself, before the script (e.g. `--max-semi-space-size=1`). */
  nodeArgs: readonly string[];
  /**
   * Absolute path of `dist/bin/corral.js`: through the launch link (`<data>/agent-current/dist/bin/corral.js`);
   * null for a single executable, where nodePath is the agent itself (`<data>/agent-current/bin/corral-agent`).
   */
  script: string | null;
  /** `Environment=` variables for the agent (names and values of plain characters only). */
  environment?: Readonly<Record<string, string>>;
  /** Everything after `corral agent`: never the token. */
  agentArgs: readonly string[];
  /** Absolute path of the EnvironmentFile holding the token (optional at runtime: `-` prefix). */
  envFile: string;
  /** Run the agent as this user instead of root. */
  user?: string;
  /** Seconds systemd waits before restarting the agent after it exits. */
  restartSec: number;
  /** The unit's name, for SyslogIdentifier and the header comment. */
  unitName: string;
}

/** The agent's systemd service unit. */
export function renderAgentUnit(spec: AgentUnitSpec): string {
  if (spec.agentArgs.some((a) => a === '--token' || a.startsWith('--token='))) {
    throw new SystemdUnitError('the token belongs in the EnvironmentFile, not on the command line');
  }
  const exec = renderExecStart([spec.nodePath, ...spec.nodeArgs, ...(spec.script === null ? [] : [spec.script]), 'agent', ...spec.agentArgs]);
  const user = spec.user === undefined ? [] : [`User=${plainValue('--user', spec.user)}`];
  const env = Object.entries(spec.environment ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new SystemdUnitError(`environment variable name "${k}" is not valid`);
    return `Environment=${k}=${plainValue(k, v)}`;
  });
  return `${UNIT_MARKER}; running it again replaces this file,
# \`corral agent uninstall\` removes it. See docs/agent-install.md.
[Unit]
Description=Corral host agent
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${exec}
${env.length ? `# Tells the agent that systemd restarts it, so a self-upgrade points the launch link at the
# new version and lets systemd start it (docs/agent-upgrade.md).
${env.join('\n')}
` : ''}# The enrollment token (${TOKEN_ENV}); "-": the agent starts without the file once it is enrolled.
EnvironmentFile=-${plainValue('--environment-file', spec.envFile)}
${user.map((l) => `${l}\n`).join('')}Restart=always
RestartSec=${spec.restartSec}
# The agent starts every service it supervises in its own process group and re-adopts
# them when it starts again. KillMode=process makes systemd signal only the agent on
# stop and restart; the default (control-group) would kill every service on the host
# each time the agent is restarted or upgraded.
KillMode=process
TimeoutStopSec=15
SyslogIdentifier=${plainValue('--unit-name', spec.unitName.replace(/\.service$/, ''))}

[Install]
WantedBy=multi-user.target
`;
}

/** Token characters that need no quoting in an EnvironmentFile and are never expanded by systemd. */
const SAFE_TOKEN = /^[A-Za-z0-9._~+/=:-]+$/;

/** The EnvironmentFile holding the enrollment token. Throws SystemdUnitError for a token systemd would mangle. */
export function renderEnvFile(token: string, unitName: string): string {
  if (!SAFE_TOKEN.test(token)) throw new SystemdUnitError('the token may only hold letters, digits and ._~+/=:- (as corral tokens do)');
  return `${UNIT_MARKER} for ${unitName}; keep it 0600.
# The agent uses the enrollment token only until it has its own credential (in its data dir);
# this file may be deleted after the agent has connected once.
${TOKEN_ENV}=${token}
`;
}

