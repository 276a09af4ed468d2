/**
 * `corral server install` / `uninstall`: writes (or removes) the server's
 * systemd unit and 0600 EnvironmentFile, creates the dedicated user, and
 * drives `systemctl` through an injectable runner, so tests record the calls
 * instead of needing systemd or root.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { SYSTEMD_RUN_DIR, systemdBooted, unitDataDir, unitSetting, writeFileAtomicMode, type CommandRunner } from '../../systemd/index.js';
import { SECRET_FLAGS, SERVER_UNIT_MARKER, parseEnvAssignments, renderServerEnvFile, renderServerUnit, stateDirectoryOf } from './server-unit.js';

export const DEFAULT_SERVER_UNIT_NAME = 'corral-server';
export const DEFAULT_SERVER_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_SERVER_DATA_DIR = '/var/lib/corral';
export const DEFAULT_SERVER_USER = 'corral';
export const SERVER_INSTALL_DOC = 'docs/server-install.md';

export type ServerInstallErrorCode = 'SYSTEMD_NOT_FOUND' | 'ROOT_REQUIRED' | 'INVALID_ARGUMENT' | 'NOT_OURS' | 'COMMAND_FAILED';

export class ServerInstallError extends Error {
  constructor(
    readonly code: ServerInstallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a user passes to `corral server install`. */
export interface ServerInstallOptions {
  /** The server's data dir; made absolute against the cwd. Default /var/lib/corral. */
  dataDir?: string;
  /** Further `corral server` flags, already validated; never --data-dir or a secret flag. */
  serverArgs?: string[];
  /** The `--listen` address, to see whether the port needs CAP_NET_BIND_SERVICE. Default the server's 127.0.0.1:4320. */
  listen?: string;
  /** Secrets for the env file, by variable name (CORRAL_DATABASE, CORRAL_METRICS_TOKEN). Absent ones keep their value in an existing file. */
  secrets?: Record<string, string>;
  /** Default `corral-server`; `.service` is added when missing. */
  unitName?: string;
  /** Default /etc/systemd/system. Any other dir lifts the root requirement (tests, staging). */
  unitDir?: string;
  /** Default /etc/corral/server.env, or /etc/corral/<unit-name>.env for another unit name. */
  envFile?: string;
  /** The user the server runs as, created (a system user with its own group) when missing. Default `corral`; `root` runs it as root. */
  user?: string;
  /** Print what would be written and run; touch nothing. */
  dryRun?: boolean;
  /** Enable and start (default) or only enable. */
  start?: boolean;
  /** Absolute node executable. */
  nodePath: string;
  /** Absolute path of dist/bin/corral.js (symlinks resolved). */
  script: string;
  /** Default 5. */
  restartSec?: number;
  /** The directory whose existence means systemd is the init system. Default /run/systemd/system; tests point it elsewhere. */
  systemdRunDir?: string;
}

export interface CompiledServerInstallOptions {
  unitName: string;
  unitPath: string;
  envFile: string;
  dataDir: string;
  /** null: runs as root. */
  user: string | null;
  secrets: Record<string, string>;
  dryRun: boolean;
  start: boolean;
  requiresRoot: boolean;
  systemdRunDir: string;
  unit: string;
  /** The data dir is not under /var/lib, so install creates it and gives it to the user (systemd does that for /var/lib). */
  createDataDir: boolean;
  /** Paths the service user must be able to read but which sit in home dirs. */
  homePaths: string[];
}

export interface ServerUninstallOptions {
  unitName?: string;
  unitDir?: string;
  /** Also remove the data dir (the database, the signing key): read from the unit's --data-dir unless given. */
  purge?: boolean;
  dataDir?: string;
  dryRun?: boolean;
  systemdRunDir?: string;
}

export interface ServerInstallDeps {
  run: CommandRunner;
  /** One line of output for the operator. */
  out: (line: string) => void;
  /** The effective uid (undefined off POSIX). */
  uid: number | undefined;
}

function unitFileName(name: string): string {
  const base = name.endsWith('.service') ? name : `${name}.service`;
  if (!/^[A-Za-z0-9_.:-]+\.service$/.test(base)) throw new ServerInstallError('INVALID_ARGUMENT', `--unit-name "${name}": letters, digits and _.:- only`);
  return base;
}

function absolute(flag: string, p: string): string {
  if (!isAbsolute(p)) throw new ServerInstallError('INVALID_ARGUMENT', `${flag} must be an absolute path, got "${p}"`);
  return p;
}

/** The port of a `host:port` (or `[v6]:port`) listen address, or null when it cannot be read. */
function listenPort(listen: string): number | null {
  const m = /:(\d+)$/.exec(listen);
  return m ? Number(m[1]) : null;
}

const IN_HOME = /^\/(home|root|run\/user)(\/|$)/;

/** Validates and defaults; renders the unit. Throws ServerInstallError (or SystemdUnitError for unrenderable values). */
export function compileServerInstallOptions(o: ServerInstallOptions): CompiledServerInstallOptions {
  const unitName = unitFileName(o.unitName ?? DEFAULT_SERVER_UNIT_NAME);
  const unitDir = resolve(o.unitDir ?? DEFAULT_SERVER_UNIT_DIR);
  const bare = unitName.replace(/\.service$/, '');
  const envFile = absolute('--environment-file', o.envFile ?? (bare === DEFAULT_SERVER_UNIT_NAME ? '/etc/corral/server.env' : `/etc/corral/${bare}.env`));
  const dataDir = resolve(o.dataDir ?? DEFAULT_SERVER_DATA_DIR);
  if (dataDir === '/') throw new ServerInstallError('INVALID_ARGUMENT', '--data-dir cannot be /');
  const userName = o.user ?? DEFAULT_SERVER_USER;
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(userName)) throw new ServerInstallError('INVALID_ARGUMENT', `--user "${userName}": a user name (lower-case letters, digits, _ and -, at most 32)`);
  const user = userName === 'root' ? null : userName;
  const nodePath = absolute('node path', o.nodePath);
  const script = absolute('corral.js path', o.script);
  const secretNames = new Set<string>(Object.values(SECRET_FLAGS));
  for (const name of Object.keys(o.secrets ?? {})) {
    if (!secretNames.has(name)) throw new ServerInstallError('INVALID_ARGUMENT', `${name} is not a server secret (${[...secretNames].join(', ')})`);
  }
  const port = listenPort(o.listen ?? '127.0.0.1:4320');
  const homePaths = [nodePath, script, dataDir].filter((p) => IN_HOME.test(p));
  const unit = renderServerUnit({
    nodePath,
    script,
    serverArgs: ['--data-dir', dataDir, ...(o.serverArgs ?? [])],
    dataDir,
    envFile,
    user,
    privilegedPort: port !== null && port > 0 && port < 1024 && user !== null,
    homeReadOnly: homePaths.length > 0,
    restartSec: o.restartSec ?? 5,
    unitName,
  });
  return {
    unitName,
    unitPath: join(unitDir, unitName),
    envFile,
    dataDir,
    user,
    secrets: { ...(o.secrets ?? {}) },
    dryRun: o.dryRun ?? false,
    start: o.start ?? true,
    requiresRoot: unitDir === DEFAULT_SERVER_UNIT_DIR,
    systemdRunDir: o.systemdRunDir ?? SYSTEMD_RUN_DIR,
    unit,
    createDataDir: stateDirectoryOf(dataDir) === null,
    homePaths,
  };
}

/** Why systemd cannot be used here, or null. A dry run goes on without it (and prints this as a note). */
function systemdMissing(runDir: string): string | null {
  if (systemdBooted(runDir)) return null;
  return (
    `systemd is not the init system on this host (${runDir} does not exist), and \`corral server install\` only writes systemd units. ` +
    `Run \`corral server\` under your init system as ${SERVER_INSTALL_DOC} describes.`
  );
}

function preflight(o: { dryRun: boolean; requiresRoot: boolean; systemdRunDir: string }, uid: number | undefined, verb: string): string | null {
  const missing = systemdMissing(o.systemdRunDir);
  if (missing && !o.dryRun) throw new ServerInstallError('SYSTEMD_NOT_FOUND', missing);
  if (!o.dryRun && o.requiresRoot && uid !== 0) {
    throw new ServerInstallError('ROOT_REQUIRED', `${verb} writes ${DEFAULT_SERVER_UNIT_DIR}, creates a user and runs systemctl: run it as root (sudo), or add --dry-run to see what it would do`);
  }
  return missing;
}

/** An argv as a shell would need it typed (for the operator to read or copy). */
function shellLine(command: string, args: string[]): string {
  return [command, ...args].map((a) => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

async function runChecked(deps: ServerInstallDeps, command: string, args: string[]): Promise<void> {
  deps.out(`$ ${shellLine(command, args)}`);
  let r: Awaited<ReturnType<CommandRunner>>;
  try {
    r = await deps.run(command, args);
  } catch (e) {
    throw new ServerInstallError('COMMAND_FAILED', (e as Error).message, { cause: e });
  }
  if (r.code !== 0) throw new ServerInstallError('COMMAND_FAILED', `${command} ${args.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
}

function redact(text: string): string {
  return text.replace(/^([A-Z_]+=)(.*)$/gm, (_m, k: string, v: string) => (v.length > 0 ? `${k}... (redacted)` : `${k}`));
}

function useraddArgs(o: CompiledServerInstallOptions, user: string): string[] {
  return ['--system', '--user-group', '--home-dir', o.dataDir, '--no-create-home', '--shell', '/usr/sbin/nologin', '--comment', 'Corral server', user];
}

/**
 * Creates the user if missing, writes the env file (0600, merging into an
 * existing one) and the unit (0644), reloads systemd, enables the unit and
 * starts (or restarts) the server unless `start` is false. A dry run prints
 * all of it and touches nothing, also on a host without systemd.
 */
export async function installServerService(o: CompiledServerInstallOptions, deps: ServerInstallDeps): Promise<void> {
  const noSystemd = preflight(o, deps.uid, 'corral server install');
  const replacing = existsSync(o.unitPath);
  const previous = existsSync(o.envFile) ? parseEnvAssignments(readFileSync(o.envFile, 'utf8')) : new Map<string, string>();
  const vars = new Map([...previous, ...Object.entries(o.secrets)]);
  const envFileContent = renderServerEnvFile(vars, o.unitName);
  const userExists = o.user === null || (o.dryRun ? null : (await deps.run('id', ['-u', o.user])).code === 0);
  const commands: string[][] = [['daemon-reload']];
  if (!o.start) commands.push(['enable', o.unitName]);
  else if (replacing) commands.push(['enable', o.unitName], ['restart', o.unitName]);
  else commands.push(['enable', '--now', o.unitName]);

  if (o.dryRun) {
    deps.out('# dry run: nothing is written or run');
    if (noSystemd) deps.out(`# note: ${noSystemd}`);
    if (o.user) deps.out(`# unless user ${o.user} exists:\n$ ${shellLine('useradd', useraddArgs(o, o.user))}`);
    if (o.createDataDir) deps.out(`# ${o.dataDir} (0700${o.user ? `, owned by ${o.user}` : ''})`);
    deps.out(`# ${o.unitPath} (0644)${replacing ? ', replacing the existing unit' : ''}`);
    deps.out(o.unit);
    deps.out(`# ${o.envFile} (0600)${existsSync(o.envFile) ? ', keeping the variables it sets' : ''}\n${redact(envFileContent)}`);
    for (const c of commands) deps.out(`$ systemctl ${c.join(' ')}`);
    return;
  }

  if (o.user && !userExists) await runChecked(deps, 'useradd', useraddArgs(o, o.user));
  if (o.createDataDir) {
    if (!existsSync(o.dataDir)) {
      mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
      deps.out(`created the data dir ${o.dataDir} (0700)`);
    }
    if (o.user) await runChecked(deps, 'chown', [`${o.user}:${o.user}`, o.dataDir]);
  }
  mkdirSync(dirname(o.envFile), { recursive: true, mode: 0o755 });
  writeFileAtomicMode(o.envFile, envFileContent, 0o600);
  deps.out(`wrote ${o.envFile} (0600${vars.size ? `: ${[...vars.keys()].join(', ')}` : ''})`);
  mkdirSync(dirname(o.unitPath), { recursive: true });
  writeFileAtomicMode(o.unitPath, o.unit, 0o644);
  deps.out(replacing ? `replaced the existing ${o.unitPath}` : `wrote ${o.unitPath}`);
  for (const p of o.homePaths) deps.out(`warning: ${p} is in a home directory: user ${o.user ?? 'root'} must be able to reach it (the unit makes home dirs read-only)`);
  for (const c of commands) await runChecked(deps, 'systemctl', c);
  const bare = o.unitName.replace(/\.service$/, '');
  if (o.start) {
    deps.out(`${o.unitName} is enabled and ${replacing ? 'restarted' : 'started'}; logs: journalctl -u ${bare} -f`);
    if (!replacing) deps.out(`its first start prints an admin token and an enrollment token to the journal (journalctl -u ${bare} -n 20); see ${SERVER_INSTALL_DOC}`);
  } else {
    deps.out(`${o.unitName} is enabled; start it with: systemctl ${replacing ? 'restart' : 'start'} ${bare}`);
  }
}

/**
 * Stops and disables the unit, removes it and its env file, reloads systemd;
 * with `purge` also removes the data dir. Keeps the user. A unit that does
 * not exist is reported and left alone; one not written by install is refused.
 */
export async function uninstallServerService(u: ServerUninstallOptions, deps: ServerInstallDeps): Promise<void> {
  const unitName = unitFileName(u.unitName ?? DEFAULT_SERVER_UNIT_NAME);
  const unitDir = resolve(u.unitDir ?? DEFAULT_SERVER_UNIT_DIR);
  const unitPath = join(unitDir, unitName);
  const dryRun = u.dryRun ?? false;
  const noSystemd = preflight({ dryRun, requiresRoot: unitDir === DEFAULT_SERVER_UNIT_DIR, systemdRunDir: u.systemdRunDir ?? SYSTEMD_RUN_DIR }, deps.uid, 'corral server uninstall');
  if (!existsSync(unitPath)) {
    deps.out(`${unitPath} does not exist: nothing to uninstall`);
    return;
  }
  const unit = readFileSync(unitPath, 'utf8');
  if (!unit.startsWith(SERVER_UNIT_MARKER)) throw new ServerInstallError('NOT_OURS', `${unitPath} was not written by \`corral server install\`; remove it by hand`);
  const envFile = unitSetting(unit, 'EnvironmentFile')?.replace(/^-/, '');
  const dataDir = u.dataDir === undefined ? unitDataDir(unit) : resolve(u.dataDir);
  if (u.purge && !dataDir) throw new ServerInstallError('INVALID_ARGUMENT', `--purge: no --data-dir in ${unitPath}; pass --data-dir`);
  const removals = [unitPath, ...(envFile && existsSync(envFile) ? [envFile] : []), ...(u.purge && dataDir ? [dataDir] : [])];
  if (dryRun) {
    deps.out('# dry run: nothing is removed or run');
    if (noSystemd) deps.out(`# note: ${noSystemd}`);
    deps.out(`$ systemctl disable --now ${unitName}`);
    for (const p of removals) deps.out(`would remove ${p}`);
    deps.out('$ systemctl daemon-reload');
    return;
  }
  await runChecked(deps, 'systemctl', ['disable', '--now', unitName]);
  unlinkSync(unitPath);
  deps.out(`removed ${unitPath}`);
  if (envFile && existsSync(envFile)) {
    unlinkSync(envFile);
    deps.out(`removed ${envFile}`);
  }
  await runChecked(deps, 'systemctl', ['daemon-reload']);
  if (u.purge && dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
    deps.out(`removed the data dir ${dataDir} (the store, the signing key)`);
  } else {
    deps.out(`kept the data dir${dataDir ? ` ${dataDir}` : ''} (the store and the package-signing key; --purge removes it)`);
  }
  const user = unitSetting(unit, 'User');
  if (user) deps.out(`kept the user ${user} (userdel ${user} removes it)`);
}
