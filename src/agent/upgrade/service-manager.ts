/**
 * The service manager that restarts the agent (today: systemd), as the
 * upgrade watcher sees it: the unit's main pid, how often it restarted the
 * agent on its own, and a restart on request. An interface, so the watch
 * logic is tested with a scripted manager and the end-to-end test with a
 * fake `systemctl` on PATH.
 */
import { execFile } from 'node:child_process';

/** What `systemctl show` says about the unit. */
export interface UnitStatus {
  /** The running main process; 0 when none (stopped, or waiting to restart). */
  mainPid: number;
  /** Automatic restarts since the unit was last started by hand (systemd's NRestarts, 235+). */
  restarts: number;
  /** active | activating | deactivating | inactive | failed | reloading | ... */
  activeState: string;
  /** running | auto-restart | dead | ... */
  subState: string;
  /** How the last main process ended; null before any exit. */
  lastExit: { code: number | null; signal: string | null } | null;
}

export interface ServiceManager {
  /** e.g. `systemd unit corral-agent.service`, for logs and messages. */
  readonly description: string;
  /** Throws when the manager cannot be asked (no systemctl, unknown unit). */
  status(): Promise<UnitStatus>;
  /** Stops the main process and starts ExecStart again now; also clears a failed state. Throws on failure. */
  restart(): Promise<void>;
}

export class ServiceManagerError extends Error {
  readonly code = 'SERVICE_MANAGER';
}

export type Run = (command: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

const COMMAND_TIMEOUT_MS = 20_000;

/** Runs a command with a deadline (a hung systemctl must not hang the watcher). */
export const runCommand: Run = (command, args) =>
  new Promise((resolve) => {
    execFile(command, args, { timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ code, stdout, stderr: stderr || (err && typeof err.code !== 'number' ? err.message : '') });
    });
  });

const PROPERTIES = ['MainPID', 'NRestarts', 'ActiveState', 'SubState', 'ExecMainCode', 'ExecMainStatus'];

/** Signal numbers Linux uses for the exits systemd reports by number. */
const SIGNALS: Record<number, string> = { 1: 'SIGHUP', 2: 'SIGINT', 3: 'SIGQUIT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 13: 'SIGPIPE', 15: 'SIGTERM' };

/**
 * Parses `systemctl show -p MainPID,NRestarts,... UNIT` (KEY=VALUE lines, any
 * order). ExecMainCode is the siginfo code of the last exit: 1 exited
 * (ExecMainStatus is the exit code), 2 killed / 3 dumped (it is the signal).
 * Throws ServiceManagerError when MainPID or NRestarts is missing.
 */
export function parseSystemctlShow(text: string): UnitStatus {
  const v: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) v[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  const int = (key: string): number => {
    const n = Number(v[key]);
    if (v[key] === undefined || v[key] === '' || !Number.isInteger(n)) throw new ServiceManagerError(`systemctl show gave no ${key} (systemd 235 or newer is needed)`);
    return n;
  };
  const code = Number(v.ExecMainCode ?? 0);
  const status = Number(v.ExecMainStatus ?? 0);
  const lastExit = code === 1 ? { code: status, signal: null } : code === 2 || code === 3 ? { code: null, signal: SIGNALS[status] ?? `signal ${status}` } : null;
  return { mainPid: int('MainPID'), restarts: int('NRestarts'), activeState: v.ActiveState ?? '', subState: v.SubState ?? '', lastExit };
}

/** systemd, through `systemctl` on PATH. `unit` is a full unit name (`corral-agent.service`). */
export function systemdManager(unit: string, run: Run = runCommand): ServiceManager {
  const systemctl = async (args: string[]): Promise<string> => {
    const r = await run('systemctl', args);
    if (r.code !== 0) throw new ServiceManagerError(`systemctl ${args.join(' ')} exited with ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    return r.stdout;
  };
  return {
    description: `systemd unit ${unit}`,
    status: async () => parseSystemctlShow(await systemctl(['show', '-p', PROPERTIES.join(','), unit])),
    restart: async () => {
      // A unit that hit its start limit is "failed" and refuses to start until reset.
      await systemctl(['reset-failed', unit]).catch(() => undefined);
      await systemctl(['restart', unit]);
    },
  };
}
