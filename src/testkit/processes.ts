/**
 * Real processes for end-to-end tests: a child running `dist/bin/corral.js`
 * with its output captured, waited on with deadlines, and killed for sure
 * when the test ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from './eventually.js';

export const CORRAL_BIN = fileURLToPath(new URL('../../dist/bin/corral.js', import.meta.url));

/**
 * How to start a corral program: the executable and what goes before the
 * corral arguments. Default: this node, the node args, dist/bin/corral.js.
 * The self-contained agent builds (src/testkit/agent-build.ts) give others.
 */
export interface Launch {
  command: string;
  args: readonly string[];
}

export class CorralProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  readonly exited: Promise<void>;

  /**
   * `nodeArgs` go to node before the script (agents get AGENT_NODE_FLAGS, as in production); `cwd` defaults to this process's.
   * `launch` replaces node, `nodeArgs` and dist/bin/corral.js (an agent bundle or single executable).
   */
  constructor(
    readonly args: string[],
    env: Record<string, string | undefined> = {},
    nodeArgs: readonly string[] = [],
    opts: { cwd?: string; launch?: Launch } = {},
  ) {
    const launch = opts.launch ?? { command: process.execPath, args: [...nodeArgs, CORRAL_BIN] };
    this.child = spawn(launch.command, [...launch.args, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, CORRAL_SERVER: undefined, CORRAL_TOKEN: undefined, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.on('data', (d: Buffer) => (this.stdout += d.toString()));
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve();
      });
    });
    live.add(this);
    void this.exited.then(() => live.delete(this));
  }

  get running(): boolean {
    return this.exitCode === null && this.exitSignal === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Waits until stdout matches; returns the match. Fails early if the process exits. */
  async waitForOutput(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    return eventually(
      () => {
        const m = pattern.exec(this.stdout);
        if (m) return m;
        if (!this.running) throw new Error(`process exited (${this.exitCode ?? this.exitSignal}) before printing ${pattern}:\n${this.stderr.slice(-2000)}`);
        return undefined;
      },
      { timeoutMs, what: `output ${pattern} from corral ${this.args[0]}` },
    );
  }

  async signal(sig: NodeJS.Signals, timeoutMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill(sig);
    const timer = new Promise<void>((_, reject) =>
      setTimeout(() => reject(new Error(`corral ${this.args[0]} did not exit ${timeoutMs} ms after ${sig}`)), timeoutMs).unref(),
    );
    await Promise.race([this.exited, timer]);
  }

  /** Graceful stop; SIGKILL if it does not exit in time. */
  async stop(): Promise<void> {
    try {
      await this.signal('SIGTERM');
    } catch {
      await this.signal('SIGKILL');
    }
  }
}

const live = new Set<CorralProcess>();

/** Kills every process still running (call from an `after` hook). */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.signal('SIGKILL').catch(() => undefined)));
}

/** Runs the CLI to completion. */
export async function runCorral(
  args: string[],
  env: Record<string, string | undefined> = {},
  timeoutMs = 30_000,
  opts: { cwd?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = new CorralProcess(args, env, [], opts);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), timeoutMs);
  await p.exited;
  clearTimeout(timer);
  return { code: p.exitCode, stdout: p.stdout, stderr: p.stderr };
}
