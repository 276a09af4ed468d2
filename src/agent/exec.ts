/**
 * Runs an exec job's command on this host: no shell (argv as given), its
 * own process group (a timeout kills everything it started), output
 * streamed in coalesced chunks (at most every 100 ms per stream), and at
 * most MAX_EXEC_OUTPUT_BYTES sent — beyond that the rest is dropped and
 * the result says so.
 */
import { spawn } from 'node:child_process';
import { MAX_EXEC_OUTPUT_BYTES, type ExecResult } from '../protocol/index.js';

const FLUSH_MS = 100;

export async function runCommand(
  command: string[],
  opts: { cwd: string; env: Record<string, string>; timeoutMs: number; /** Kills the command's process group (the server cancelled the job). */ cancel?: AbortSignal },
  progress: (chunk: { stream: 'stdout' | 'stderr'; data: string }) => void,
): Promise<ExecResult & { truncated: boolean; error?: string }> {
  return new Promise((resolve) => {
    let sent = 0;
    let truncated = false;
    const buffers = { stdout: '', stderr: '' };
    const flush = () => {
      for (const stream of ['stdout', 'stderr'] as const) {
        if (buffers[stream] === '') continue;
        progress({ stream, data: buffers[stream] });
        buffers[stream] = '';
      }
    };
    const ticker = setInterval(flush, FLUSH_MS);
    const child = spawn(command[0]!, command.slice(1), { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    const kill = () => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, opts.timeoutMs);
    opts.cancel?.addEventListener('abort', kill, { once: true });
    const collect = (stream: 'stdout' | 'stderr') => (chunk: Buffer) => {
      const room = MAX_EXEC_OUTPUT_BYTES - sent;
      if (room <= 0) {
        truncated = true;
        return;
      }
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      if (part.length < chunk.length) truncated = true;
      sent += part.length;
      buffers[stream] += part.toString('utf8');
    };
    child.stdout!.on('data', collect('stdout'));
    child.stderr!.on('data', collect('stderr'));
    const finish = (result: ExecResult & { truncated: boolean; error?: string }) => {
      clearTimeout(timer);
      clearInterval(ticker);
      opts.cancel?.removeEventListener('abort', kill);
      flush();
      resolve(result);
    };
    child.once('error', (e) => finish({ exitCode: null, signal: null, timedOut: false, truncated, error: `cannot run ${command[0]}: ${e.message}` }));
    child.once('close', (code, signal) => finish({ exitCode: code, signal, timedOut, truncated }));
  });
}
