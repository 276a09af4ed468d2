/**
 * A stand-in for systemd running one service unit, for end-to-end tests in
 * containers where systemd cannot run. It reads the unit `corral agent
 * install` wrote and behaves like systemd does for it, within what the agent
 * relies on:
 *
 * - runs ExecStart (parsed as systemd would: parseExecStart) in its own
 *   session, cwd /, with a bare environment plus `Environment=` and the
 *   `EnvironmentFile=`, output appended to a log file;
 * - Restart=always: when the main process exits, waits `restartMs` (the
 *   unit's RestartSec unless overridden), counts the restart (NRestarts) and
 *   runs ExecStart again — read anew through whatever the paths name then, so
 *   a re-pointed symlink takes effect as it does under systemd;
 * - KillMode=process: stop and restart signal the main process only (SIGTERM,
 *   then SIGKILL after TimeoutStopSec); anything else it started keeps running.
 *
 * `writeFakeSystemctl(binDir)` puts a `systemctl` on PATH that logs each call
 * and forwards `show`, `restart`, `start`, `stop` and `reset-failed` for this
 * unit to the harness over a Unix socket; anything else (`daemon-reload`,
 * `enable`) just succeeds. Without the harness listening, those four fail as
 * systemctl does on a host without systemd.
 *
 *   const h = await ServiceHarness.start({ unitFile, logFile, restartMs: 300, env: { PATH } });
 *   await h.stop();   // no restart after this; bounded by TimeoutStopSec
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { basename, join } from 'node:path';
import { parseExecStart, unitSetting, unitSettings } from '../agent/install/index.js';
import { eventually } from './eventually.js';

export interface ServiceHarnessOptions {
  /** The unit file (its file name is the unit's name). */
  unitFile: string;
  /** Where the main process's stdout and stderr are appended. */
  logFile: string;
  /** Overrides RestartSec (tests want a short one). */
  restartMs?: number;
  /** The base environment (systemd's is bare: give at least PATH). */
  env?: Record<string, string>;
  /** The control socket's path. Default: beside the log file. */
  socketPath?: string;
}

export interface HarnessStart {
  pid: number;
  at: number;
  /** start: the first start or `systemctl start`; auto-restart: Restart=always; restart: `systemctl restart`. */
  how: 'start' | 'auto-restart' | 'restart';
}

export interface HarnessExit {
  pid: number;
  at: number;
  code: number | null;
  signal: string | null;
}

type State = 'active' | 'auto-restart' | 'deactivating' | 'inactive';

export class ServiceHarness {
  readonly unit: string;
  readonly starts: HarnessStart[] = [];
  readonly exits: HarnessExit[] = [];
  /** Every systemctl call that reached the harness (space-joined arguments). */
  readonly calls: string[] = [];
  private child: ChildProcess | null = null;
  private childExited: Promise<void> = Promise.resolve();
  private state: State = 'inactive';
  private nRestarts = 0;
  private timer: NodeJS.Timeout | null = null;
  private server: Server | null = null;
  private readonly restartMs: number;
  private readonly stopTimeoutMs: number;

  private constructor(
    private readonly opts: ServiceHarnessOptions,
    private readonly text: string,
  ) {
    this.unit = basename(opts.unitFile);
    this.restartMs = opts.restartMs ?? Number(unitSetting(text, 'RestartSec') ?? 0.1) * 1000;
    this.stopTimeoutMs = Number(unitSetting(text, 'TimeoutStopSec') ?? 90) * 1000;
    if (unitSetting(text, 'Restart') !== 'always') throw new Error(`${this.unit}: the harness models Restart=always only`);
    if (unitSetting(text, 'KillMode') !== 'process') throw new Error(`${this.unit}: the harness models KillMode=process only`);
  }

  get socketPath(): string {
    return this.opts.socketPath ?? `${this.opts.logFile}.sock`;
  }

  /** The running main process, or null (stopped, or waiting to restart). */
  get mainPid(): number | null {
    return this.state === 'active' || this.state === 'deactivating' ? (this.child?.pid ?? null) : null;
  }

  get restarts(): number {
    return this.nRestarts;
  }

  /** Reads the unit, listens for systemctl and starts the unit. */
  static async start(opts: ServiceHarnessOptions): Promise<ServiceHarness> {
    const h = new ServiceHarness(opts, readFileSync(opts.unitFile, 'utf8'));
    await h.listen();
    h.run('start');
    return h;
  }

  /** Writes a `systemctl` into `binDir` that talks to the harness at `socketPath` and logs every call to `callLog`. */
  static writeFakeSystemctl(binDir: string, socketPath: string, callLog: string): string {
    const file = join(binDir, 'systemctl');
    writeFileSync(
      file,
      `#!${process.execPath}
// Fake systemctl (src/testkit/service-harness.ts).
const fs = require('node:fs');
const net = require('node:net');
const args = process.argv.slice(2);
fs.appendFileSync(${JSON.stringify(callLog)}, args.join(' ') + '\\n');
if (!['show', 'restart', 'start', 'stop', 'reset-failed'].includes(args[0])) process.exit(0);
const socket = net.connect(${JSON.stringify(socketPath)});
let reply = '';
socket.setTimeout(20000, () => { process.stderr.write('systemctl: timed out\\n'); process.exit(1); });
socket.on('error', () => { process.stderr.write('System has not been booted with systemd as init system (PID 1). Can\\'t operate.\\n'); process.exit(1); });
socket.on('data', (d) => (reply += d));
socket.on('end', () => {
  const r = JSON.parse(reply);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  process.exit(r.code);
});
socket.end(JSON.stringify(args));
`,
    );
    chmodSync(file, 0o755);
    return file;
  }

  /** Stops the unit for good (as `systemctl stop`) and closes the control socket. */
  async stop(): Promise<void> {
    await this.stopMain();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private async listen(): Promise<void> {
    rmSync(this.socketPath, { force: true });
    // allowHalfOpen: the fake systemctl ends its side after the request and still reads the reply.
    this.server = createServer({ allowHalfOpen: true }, (socket) => {
      let body = '';
      socket.on('data', (d: Buffer) => (body += d.toString()));
      socket.on('end', () => {
        this.handle(JSON.parse(body) as string[]).then(
          (r) => socket.end(JSON.stringify(r)),
          (e: unknown) => socket.end(JSON.stringify({ code: 1, stdout: '', stderr: `${(e as Error).message}\n` })),
        );
      });
      socket.on('error', () => socket.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.socketPath, () => resolve());
    });
  }

  private async handle(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    this.calls.push(args.join(' '));
    const [verb, ...rest] = args;
    // Corral's calls name the unit last.
    const unit = rest.at(-1);
    if (unit !== this.unit) return { code: 5, stdout: '', stderr: `Unit ${unit ?? ''} not loaded.\n` };
    switch (verb) {
      case 'show':
        return { code: 0, stdout: this.show(rest), stderr: '' };
      case 'restart':
        await this.stopMain();
        this.run('restart');
        return { code: 0, stdout: '', stderr: '' };
      case 'start':
        if (this.state === 'inactive') this.run('start');
        return { code: 0, stdout: '', stderr: '' };
      case 'stop':
        await this.stopMain();
        return { code: 0, stdout: '', stderr: '' };
      default:
        return { code: 0, stdout: '', stderr: '' };
    }
  }

  /** `show -p A,B` / `--property=A`: KEY=VALUE lines, as systemctl prints them. */
  private show(rest: string[]): string {
    const wanted: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i]!;
      if (a === '-p' || a === '--property') wanted.push(...rest[++i]!.split(','));
      else if (a.startsWith('--property=')) wanted.push(...a.slice('--property='.length).split(','));
    }
    const last = this.exits.at(-1);
    const signals: Record<string, number> = { SIGTERM: 15, SIGKILL: 9, SIGINT: 2, SIGABRT: 6, SIGSEGV: 11 };
    const all: Record<string, string | number> = {
      MainPID: this.mainPid ?? 0,
      NRestarts: this.nRestarts,
      ActiveState: { active: 'active', 'auto-restart': 'activating', deactivating: 'deactivating', inactive: 'inactive' }[this.state],
      SubState: { active: 'running', 'auto-restart': 'auto-restart', deactivating: 'stop-sigterm', inactive: 'dead' }[this.state],
      ExecMainCode: !last ? 0 : last.signal ? 2 : 1,
      ExecMainStatus: !last ? 0 : last.signal ? (signals[last.signal] ?? 0) : (last.code ?? 0),
    };
    return (wanted.length ? wanted : Object.keys(all)).map((k) => `${k}=${all[k] ?? ''}\n`).join('');
  }

  private env(): Record<string, string> {
    const env: Record<string, string> = { ...this.opts.env };
    for (const line of unitSettings(this.text, 'Environment')) {
      const eq = line.indexOf('=');
      env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    const file = unitSetting(this.text, 'EnvironmentFile')?.replace(/^-/, '');
    if (file && existsSync(file)) {
      for (const line of readFileSync(file, 'utf8').split('\n')) {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
        if (m) env[m[1]!] = m[2]!;
      }
    }
    return env;
  }

  private run(how: HarnessStart['how']): void {
    this.timer = null;
    const argv = parseExecStart(unitSetting(this.text, 'ExecStart')!);
    const out = openSync(this.opts.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(argv[0]!, argv.slice(1), { cwd: '/', env: this.env(), detached: true, stdio: ['ignore', out, out] });
    } finally {
      closeSync(out);
    }
    this.child = child;
    this.state = 'active';
    this.starts.push({ pid: child.pid ?? -1, at: Date.now(), how });
    child.on('error', () => undefined);
    this.childExited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exits.push({ pid: child.pid ?? -1, at: Date.now(), code, signal });
        if (this.child !== child) return resolve();
        if (this.state === 'deactivating' || this.state === 'inactive') {
          this.state = 'inactive';
        } else {
          // Restart=always: whatever the exit status.
          this.state = 'auto-restart';
          this.timer = setTimeout(() => {
            this.nRestarts++;
            this.run('auto-restart');
          }, this.restartMs);
        }
        resolve();
      });
    });
  }

  /** SIGTERM to the main process only, TimeoutStopSec, then SIGKILL. Leaves the state 'inactive'. */
  private async stopMain(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    if (this.state !== 'active' || !child) {
      this.state = 'inactive';
      return;
    }
    this.state = 'deactivating';
    child.kill('SIGTERM');
    const exited = this.childExited;
    try {
      await eventually(() => child.exitCode !== null || child.signalCode !== null, { timeoutMs: this.stopTimeoutMs, what: `${this.unit} to stop` });
    } catch {
      child.kill('SIGKILL');
    }
    await exited;
    this.state = 'inactive';
  }
}
