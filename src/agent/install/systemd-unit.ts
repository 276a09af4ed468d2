/**
 * The systemd unit and EnvironmentFile for running the agent as a service:
 * pure rendering (no file system), plus the inverse parsing that
 * `corral agent uninstall` and the tests use to read a rendered unit back.
 *
 * systemd reads an `ExecStart=` line in three passes, so a literal argument
 * is escaped for all three (systemd.service(5), "Command lines"):
 *   1. specifiers: `%x` is expanded on the whole line first, `%%` is a `%`;
 *   2. splitting: whitespace separates words, a word may be wrapped in double
 *      quotes, and C escapes (`\\`, `\"`, `\n`, `\xNN`) are decoded;
 *   3. environment: at exec time `$NAME`/`${NAME}` are substituted, `$$` is a `$`.
 */

export class SystemdUnitError extends Error {
  readonly code = 'INVALID_UNIT';
}

/** Marks units and env files written by `corral agent install`; uninstall only removes units carrying it. */
export const UNIT_MARKER = '# Written by `corral agent install`';

/** The env var the agent reads its enrollment token from (the default of `corral agent --token`). */
export const TOKEN_ENV = 'CORRAL_TOKEN';

/** Words systemd passes through unchanged: no whitespace, quotes, backslash, `%`, `$` or `;`. */
const BARE_WORD = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * Quotes one argument for an `ExecStart=` line so that systemd passes exactly
 * `arg` to the process. Throws SystemdUnitError for a NUL byte (no argv can hold one).
 */
export function quoteSystemdArg(arg: string): string {
  if (arg.includes('\0')) throw new SystemdUnitError('an argument cannot contain a NUL byte');
  if (BARE_WORD.test(arg)) return arg;
  let out = '"';
  for (const ch of arg) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === '"') out += '\\"';
    else if (ch === '%') out += '%%';
    else if (ch === '$') out += '$$';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/** Joins a whole argv (argv[0] an absolute executable path) for `ExecStart=`. */
export function renderExecStart(argv: readonly string[]): string {
  if (!argv[0]?.startsWith('/')) throw new SystemdUnitError(`ExecStart needs an absolute executable path, got "${argv[0] ?? ''}"`);
  return argv.map(quoteSystemdArg).join(' ');
}

export interface AgentUnitSpec {
  /** Absolute path of node (process.execPath). */
  nodePath: string;
  /** Flags for node itself, before the script (e.g. `--max-semi-space-size=1`). */
  nodeArgs: readonly string[];
  /** Absolute path of `dist/bin/corral.js`: through the launch link (`<data>/agent-current/dist/bin/corral.js`). */
  script: string;
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

/** A value for a plain (non-command) unit setting: absolute path or name, no characters systemd would reinterpret. */
function plainValue(what: string, v: string): string {
  if (!/^[A-Za-z0-9_@+=:,./-]+$/.test(v)) throw new SystemdUnitError(`${what} "${v}" may only hold letters, digits and _@+=:,./-`);
  return v;
}

/** The agent's systemd service unit. */
export function renderAgentUnit(spec: AgentUnitSpec): string {
  if (spec.agentArgs.some((a) => a === '--token' || a.startsWith('--token='))) {
    throw new SystemdUnitError('the token belongs in the EnvironmentFile, not on the command line');
  }
  const exec = renderExecStart([spec.nodePath, ...spec.nodeArgs, spec.script, 'agent', ...spec.agentArgs]);
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

/** The value of the last `Key=` line of a unit or env file, or undefined. */
export function unitSetting(text: string, key: string): string | undefined {
  return unitSettings(text, key).at(-1);
}

/** The values of every `Key=` line, in order (for settings that may repeat, like `Environment=`). */
export function unitSettings(text: string, key: string): string[] {
  const values: string[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s?(.*)$/.exec(line);
    if (m && m[1] === key) values.push(m[2]!.trimEnd());
  }
  return values;
}

const C_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/**
 * Splits an `ExecStart=` value into the argv systemd would exec: `%%`, quotes,
 * C escapes and `$$`. Throws SystemdUnitError for what it does not model
 * (other specifiers, `$VAR` substitution, `;` command separators, prefixes like `-`/`@`).
 */
export function parseExecStart(value: string): string[] {
  const line = value.replace(/%(.?)/g, (_m, c: string) => {
    if (c === '%') return '%';
    throw new SystemdUnitError(`specifier %${c} is not supported`);
  });
  const words: string[] = [];
  let i = 0;
  const escape = (): string => {
    const c = line[i + 1];
    if (c === undefined) throw new SystemdUnitError('trailing backslash');
    if (c === 'x') {
      const hex = line.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new SystemdUnitError(`bad escape \\x${hex}`);
      i += 4;
      return String.fromCharCode(parseInt(hex, 16));
    }
    const mapped = C_ESCAPES[c];
    if (mapped === undefined) throw new SystemdUnitError(`escape \\${c} is not supported`);
    i += 2;
    return mapped;
  };
  for (;;) {
    while (i < line.length && /\s/.test(line[i]!)) i++;
    if (i >= line.length) break;
    let word = '';
    const quote = line[i] === '"' || line[i] === "'" ? line[i] : undefined;
    if (quote) {
      i++;
      while (line[i] !== quote) {
        if (i >= line.length) throw new SystemdUnitError('unterminated quote');
        if (line[i] === '\\') word += escape();
        else word += line[i++];
      }
      i++;
      if (i < line.length && !/\s/.test(line[i]!)) throw new SystemdUnitError('a closing quote must end the word');
    } else {
      if (line[i] === ';') throw new SystemdUnitError('";" command separators are not supported');
      while (i < line.length && !/\s/.test(line[i]!)) {
        if (line[i] === '\\') word += escape();
        else word += line[i++];
      }
    }
    words.push(
      word.replace(/\$(.?)/g, (_m, c: string) => {
        if (c === '$') return '$';
        throw new SystemdUnitError('environment substitution ($NAME) is not supported');
      }),
    );
  }
  if (!words[0]?.startsWith('/')) throw new SystemdUnitError(`ExecStart must start with an absolute path, got "${words[0] ?? ''}"`);
  return words;
}
