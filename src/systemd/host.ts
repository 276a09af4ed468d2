/**
 * The host side of installing a systemd unit, shared by `corral agent
 * install` and `corral server install`: an injectable command runner (tests
 * record `systemctl`, `useradd` and `chown` calls instead of needing systemd
 * or root), systemd detection, and atomic writes with the mode set first.
 */
import { spawn } from 'node:child_process';
import { closeSync, fchmodSync, fsyncSync, openSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';

/** Runs a command to completion. The default spawns it (found on PATH); tests pass a recorder. */
export type CommandRunner = (command: string, args: string[]) => Promise<{ code: number; stdout: string; stderr: string }>;

/** systemd's own test for "booted with systemd" (sd_booted(3)). */
export const SYSTEMD_RUN_DIR = '/run/systemd/system';

/** Spawns `command` (from PATH) and collects its output; rejects only when it cannot be started. */
export const spawnCommand: CommandRunner = (command, args) =>
  new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (err) => reject(new Error(`cannot run ${command}: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => resolvePromise({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
  });

/** Whether `runDir` (default /run/systemd/system) is a directory: systemd is the init system. */
export function systemdBooted(runDir = SYSTEMD_RUN_DIR): boolean {
  try {
    return statSync(runDir).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return false;
  }
}

/** Writes `data` at `file` through a temp file and rename, with `mode` set before any data lands. */
export function writeFileAtomicMode(file: string, data: string, mode: number): void {
  const tmp = `${file}.tmp-${process.pid}`;
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}
