/**
 * `corral agent install` / `uninstall`: writes (or removes) the agent's
 * systemd unit and token EnvironmentFile and drives `systemctl` through an
 * injectable runner, so tests can record the calls instead of needing systemd.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { AGENT_NODE_FLAGS } from '../node-flags.js';
import { SUPERVISOR_ENV, SUPERVISOR_UNIT_ENV } from '../options.js';
import { LaunchLinkError, launchLinkPath, pointLaunchLink, readLaunchLink } from '../upgrade/launch-link.js';
import { unitDataDir, writeFileAtomicMode } from '../../systemd/index.js';
import { TOKEN_ENV, UNIT_MARKER, renderAgentUnit, renderEnvFile, unitSetting } from './systemd-unit.js';

export const DEFAULT_UNIT_NAME = 'corral-agent';
export const DEFAULT_UNIT_DIR = '/etc/systemd/system';
export const DEFAULT_DATA_DIR = '/var/lib/corral-agent';
/** systemd's own test for "booted with systemd" (sd_booted(3)). */
export const SYSTEMD_RUN_DIR = '/run/systemd/system';
export const FALLBACK_DOC = 'docs/agent-install.md';
export { writeFileAtomicMode };

export type AgentInstallErrorCode = 'SYSTEMD_NOT_FOUND' | 'ROOT_REQUIRED' | 'INVALID_ARGUMENT' | 'NOT_OURS' | 'SYSTEMCTL_FAILED';

export class AgentInstallError extends Error {
  constructor(
    readonly code: AgentInstallErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** What a user passes to `corral agent install`. */
export interface AgentInstallOptions {
  /** Server URL, put on the agent's command line (required). */
  server: string;
  /** Enrollment token, written only to the env file. Absent: an existing env file is kept (the agent may already be enrolled). */
  token?: string;
  /** The agent's data dir; made absolute against the cwd. Default /var/lib/corral-agent. */
  dataDir?: string;
  /** Further `corral agent` flags (labels, name, ...), already validated; never --server, --token or --data-dir. */
  agentArgs?: string[];
  /** Default `corral-agent`; `.service` is added when missing. */
  unitName?: string;
  /** Default /etc/systemd/system. Any other dir lifts the root requirement (for tests and staging). */
  unitDir?: string;
  /** `--environment-file` (not --env-file: Node 20 takes that flag for itself even after the script, nodejs/node#54232). Default /etc/corral/agent.env, or /etc/corral/<unit-name>.env for another unit name. */
  envFile?: string;
  /** Run the agent as this user (default root, which running services as `run.user` needs). */
  user?: string;
  /** Print what would be written and run; touch nothing. */
  dryRun?: boolean;
  /** Enable and start (default) or only enable. */
  start?: boolean;
  /** Absolute node executable. */
  nodePath: string;
  /** Flags for node. Default AGENT_NODE_FLAGS (`--lite-mode --no-expose-wasm --max-semi-space-size=1`: a small idle agent). */
  nodeArgs?: string[];
  /** Absolute path of dist/bin/corral.js (symlinks resolved), or of the single executable. */
  script: string;
  /** `script` is a single executable (run as is, without node or node flags). Default false. */
  singleExecutable?: boolean;
  /**
   * The package root `script` belongs to (the directory holding dist/ and
   * node_modules/: a checkout, an npm install, or an unpacked agent version).
   * `<data>/agent-current` is pointed at it and the unit runs the script
   * through that link. Default: three levels above `script`.
   */
  packageRoot?: string;
  /** Default 5. */
  restartSec?: number;
  /** The directory whose existence means systemd is the init system. Default /run/systemd/system; tests point it elsewhere. */
  systemdRunDir?: string;
}

export interface CompiledAgentInstallOptions {
  unitName: string;
  unitPath: string;
  envFile: string;
  dataDir: string;
  token: string | null;
  user: string | null;
  dryRun: boolean;
  start: boolean;
  requiresRoot: boolean;
  systemdRunDir: string;
  unit: string;
  envFileContent: string | null;
  /** `<data>/agent-current`, and the package root it is pointed at. */
  launchLink: string;
  packageRoot: string;
}

export interface AgentUninstallOptions {
  unitName?: string;
  unitDir?: string;
  /** Also remove the agent's data dir (read from the unit's --data-dir unless given). */
  purge?: boolean;
  dataDir?: string;
  dryRun?: boolean;
  systemdRunDir?: string;
}

/** Runs a command to completion. The default spawns it (found on PATH); tests pass a recorder. */
export type CommandRunner = (command: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

export interface InstallDeps {
  run: CommandRunner;
  /** One line of output for the operator. */
  out: (line: string) => void;
  /** The effective uid (undefined off POSIX). */
  uid: number | undefined;
}

export const spawnRunner: CommandRunner = (command, args) =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new AgentInstallError('SYSTEMCTL_FAILED', `cannot run ${command}: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });

function unitFileName(name: string): string {
  const base = name.endsWith('.service') ? name : `${name}.service`;
  if (!/^[A-Za-z0-9_.:-]+\.service$/.test(base)) throw new AgentInstallError('INVALID_ARGUMENT', `--unit-name "${name}": letters, digits and _.:- only`);
  return base;
}

function defaultEnvFile(unitFile: string): string {
  const bare = unitFile.replace(/\.service$/, '');
  return bare === DEFAULT_UNIT_NAME ? '/etc/corral/agent.env' : `/etc/corral/${bare}.env`;
}

function absolute(flag: string, p: string): string {
  if (!isAbsolute(p)) throw new AgentInstallError('INVALID_ARGUMENT', `${flag} must be an absolute path, got "${p}"`);
  return p;
}

/** Validates and defaults; renders the unit and env file. Throws AgentInstallError (or SystemdUnitError for unrenderable values). */
export function compileAgentInstallOptions(o: AgentInstallOptions): CompiledAgentInstallOptions {
  if (!o.server) throw new AgentInstallError('INVALID_ARGUMENT', '--server (or CORRAL_SERVER) is required');
  const unitName = unitFileName(o.unitName ?? DEFAULT_UNIT_NAME);
  const unitDir = resolve(o.unitDir ?? DEFAULT_UNIT_DIR);
  const envFile = absolute('--environment-file', o.envFile ?? defaultEnvFile(unitName));
  const dataDir = resolve(o.dataDir ?? DEFAULT_DATA_DIR);
  const restartSec = o.restartSec ?? 5;
  const agentArgs = ['--server', o.server, '--data-dir', dataDir, ...(o.agentArgs ?? [])];
  const script = absolute('corral.js path', o.script);
  const packageRoot = absolute('package root', o.packageRoot ?? resolve(script, '..', '..', '..'));
  const inRoot = relative(packageRoot, script);
  if (inRoot === '' || inRoot.startsWith('..') || isAbsolute(inRoot)) throw new AgentInstallError('INVALID_ARGUMENT', `${script} is not inside the package root ${packageRoot}`);
  const launchLink = launchLinkPath(dataDir);
  // Through the launch link, so a self-upgrade (or a revert) only has to re-point the link.
  const sea = o.singleExecutable === true;
  const unit = renderAgentUnit({
    nodePath: sea ? join(launchLink, inRoot) : absolute('node path', o.nodePath),
    nodeArgs: sea ? [] : (o.nodeArgs ?? [...AGENT_NODE_FLAGS]),
    script: sea ? null : join(launchLink, inRoot),
    environment: { [SUPERVISOR_ENV]: 'systemd', [SUPERVISOR_UNIT_ENV]: unitName },
    agentArgs,
    envFile,
    user: o.user,
    restartSec,
    unitName,
  });
  return {
    unitName,
    unitPath: join(unitDir, unitName),
    envFile,
    dataDir,
    token: o.token || null,
    user: o.user ?? null,
    dryRun: o.dryRun ?? false,
    start: o.start ?? true,
    requiresRoot: unitDir === DEFAULT_UNIT_DIR,
    systemdRunDir: o.systemdRunDir ?? SYSTEMD_RUN_DIR,
    unit,
    envFileContent: o.token ? renderEnvFile(o.token, unitName) : null,
    launchLink,
    packageRoot,
  };
}

/** Throws SYSTEMD_NOT_FOUND, naming the fallback doc, unless `runDir` is a directory. */
export function assertSystemd(runDir: string): void {
  let isDir = false;
  try {
    isDir = statSync(runDir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (!isDir) {
    throw new AgentInstallError(
      'SYSTEMD_NOT_FOUND',
      `systemd is not the init system on this host (${runDir} does not exist), and \`corral agent install\` only writes systemd units. ` +
        `For OpenRC, runit, supervisord or cron, see "Hosts without systemd" in ${FALLBACK_DOC}.`,
    );
  }
}

/** Root is needed to write the system unit dir, except for a dry run or another --unit-dir. */
export function assertRoot(o: { dryRun: boolean; requiresRoot: boolean }, uid: number | undefined, verb: string): void {
  if (o.dryRun || !o.requiresRoot || uid === 0) return;
  throw new AgentInstallError('ROOT_REQUIRED', `${verb} writes ${DEFAULT_UNIT_DIR} and runs systemctl: run it as root (sudo), or add --dry-run to see what it would do`);
}

async function systemctl(deps: InstallDeps, args: string[]): Promise<void> {
  deps.out(`$ systemctl ${args.join(' ')}`);
  const r = await deps.run('systemctl', args);
  if (r.code !== 0) {
    throw new AgentInstallError('SYSTEMCTL_FAILED', `systemctl ${args.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
  }
}

function redact(envFile: string): string {
  return envFile.replace(new RegExp(`^(${TOKEN_ENV}=.{0,14}).*$`, 'm'), '$1... (redacted)');
}

/**
 * assertSystemd, except that a dry run (which runs nothing) goes on without
 * systemd: it returns the reason, for the dry run to print as a note.
 */
function systemdMissing(runDir: string, dryRun: boolean): string | null {
  try {
    assertSystemd(runDir);
    return null;
  } catch (e) {
    if (dryRun && e instanceof AgentInstallError && e.code === 'SYSTEMD_NOT_FOUND') return e.message;
    throw e;
  }
}

/**
 * Installs (or replaces) and enables the unit; starts or restarts the agent
 * unless `start` is false. A dry run prints what it would write and run,
 * also on a host without systemd (with a note saying so).
 */
export async function installAgentService(o: CompiledAgentInstallOptions, deps: InstallDeps): Promise<void> {
  const noSystemd = systemdMissing(o.systemdRunDir, o.dryRun);
  assertRoot(o, deps.uid, 'corral agent install');
  const replacing = existsSync(o.unitPath);
  const commands: string[][] = [['daemon-reload']];
  if (!o.start) commands.push(['enable', o.unitName]);
  else if (replacing) commands.push(['enable', o.unitName], ['restart', o.unitName]);
  else commands.push(['enable', '--now', o.unitName]);

  if (o.dryRun) {
    deps.out(`# dry run: nothing is written or run`);
    if (noSystemd) deps.out(`# note: ${noSystemd}`);
    deps.out(`# ${o.unitPath} (0644)${replacing ? ', replacing the existing unit' : ''}`);
    deps.out(o.unit);
    deps.out(`# ${o.launchLink} -> ${o.packageRoot}`);
    if (o.envFileContent) deps.out(`# ${o.envFile} (0600)\n${redact(o.envFileContent)}`);
    else deps.out(`# ${o.envFile}: not written (no --token); the agent must already be enrolled in ${o.dataDir}`);
    for (const c of commands) deps.out(`$ systemctl ${c.join(' ')}`);
    return;
  }

  if (o.envFileContent) {
    mkdirSync(dirname(o.envFile), { recursive: true, mode: 0o755 });
    writeFileAtomicMode(o.envFile, o.envFileContent, 0o600);
    deps.out(`wrote ${o.envFile} (0600, holds the enrollment token)`);
  } else if (!existsSync(o.envFile)) {
    deps.out(`no --token: the agent must already be enrolled in ${o.dataDir}`);
  }
  pointInstalledLink(o, deps);
  mkdirSync(dirname(o.unitPath), { recursive: true });
  writeFileAtomicMode(o.unitPath, o.unit, 0o644);
  deps.out(replacing ? `replaced the existing ${o.unitPath}` : `wrote ${o.unitPath}`);
  for (const c of commands) await systemctl(deps, c);
  const bare = o.unitName.replace(/\.service$/, '');
  if (o.start) deps.out(`${o.unitName} is enabled and ${replacing ? 'restarted' : 'started'}; logs: journalctl -u ${bare} -f`);
  else deps.out(`${o.unitName} is enabled; start it with: systemctl ${replacing ? 'restart' : 'start'} ${bare}`);
}

/** Points `<data>/agent-current` at the corral being installed (before the unit that runs through it). */
function pointInstalledLink(o: CompiledAgentInstallOptions, deps: InstallDeps): void {
  if (!existsSync(o.dataDir)) {
    mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
    deps.out(`created the data dir ${o.dataDir} (0700)${o.user ? `: let ${o.user} write it (chown ${o.user} ${o.dataDir})` : ''}`);
  }
  let before: string | null;
  try {
    before = readLaunchLink(o.launchLink);
    pointLaunchLink(o.launchLink, o.packageRoot);
  } catch (e) {
    if (e instanceof LaunchLinkError) throw new AgentInstallError('INVALID_ARGUMENT', e.message, { cause: e });
    throw e;
  }
  deps.out(before && before !== o.packageRoot ? `pointed ${o.launchLink} at ${o.packageRoot} (was ${before})` : `${o.launchLink} -> ${o.packageRoot}`);
}

/**
 * Disables and stops the unit, removes it and its env file, reloads systemd;
 * with `purge` also removes the data dir. A unit that does not exist is
 * reported and left alone (exit 0); one not written by install is refused.
 */
export async function uninstallAgentService(u: AgentUninstallOptions, deps: InstallDeps): Promise<void> {
  const unitName = unitFileName(u.unitName ?? DEFAULT_UNIT_NAME);
  const unitDir = resolve(u.unitDir ?? DEFAULT_UNIT_DIR);
  const unitPath = join(unitDir, unitName);
  const dryRun = u.dryRun ?? false;
  const noSystemd = systemdMissing(u.systemdRunDir ?? SYSTEMD_RUN_DIR, dryRun);
  assertRoot({ dryRun, requiresRoot: unitDir === DEFAULT_UNIT_DIR }, deps.uid, 'corral agent uninstall');
  if (!existsSync(unitPath)) {
    deps.out(`${unitPath} does not exist: nothing to uninstall`);
    return;
  }
  const unit = readFileSync(unitPath, 'utf8');
  if (!unit.startsWith(UNIT_MARKER)) {
    throw new AgentInstallError('NOT_OURS', `${unitPath} was not written by \`corral agent install\`; remove it by hand`);
  }
  const envFile = unitSetting(unit, 'EnvironmentFile')?.replace(/^-/, '');
  const dataDir = u.dataDir === undefined ? unitDataDir(unit) : resolve(u.dataDir);
  if (u.purge && !dataDir) throw new AgentInstallError('INVALID_ARGUMENT', `--purge: no --data-dir in ${unitPath}; pass --data-dir`);
  const removals = [unitPath, ...(envFile && existsSync(envFile) ? [envFile] : []), ...(u.purge && dataDir ? [dataDir] : [])];
  if (dryRun) {
    deps.out('# dry run: nothing is removed or run');
    if (noSystemd) deps.out(`# note: ${noSystemd}`);
    deps.out(`$ systemctl disable --now ${unitName}`);
    for (const p of removals) deps.out(`would remove ${p}`);
    deps.out('$ systemctl daemon-reload');
    return;
  }
  await systemctl(deps, ['disable', '--now', unitName]);
  unlinkSync(unitPath);
  deps.out(`removed ${unitPath}`);
  if (envFile && existsSync(envFile)) {
    unlinkSync(envFile);
    deps.out(`removed ${envFile}`);
  }
  await systemctl(deps, ['daemon-reload']);
  if (u.purge && dataDir) {
    rmSync(dataDir, { recursive: true, force: true });
    deps.out(`removed the data dir ${dataDir}`);
  } else {
    deps.out(`kept the data dir${dataDir ? ` ${dataDir}` : ''} (identity and credential; --purge removes it)`);
  }
  deps.out('services the agent supervised run in their own process groups and were not stopped; undeploy them from the server first to stop them');
}
