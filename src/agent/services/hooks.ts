/**
 * Package hooks (postInstall, preStart, preUninstall): a command run in the
 * version directory with the service's environment, as the service's user
 * (run.user), with a timeout. A failing
 * postInstall or preStart fails that step (the previous version keeps
 * running); a failing preUninstall is reported but does not block removal.
 * A service with a cgroup runs its hooks in it (through the same gate as
 * the service: they start inside, under the service's limits).
 */
import { execFile, spawn } from 'node:child_process';
import type { ProcessCgroup } from '../cgroups/process-cgroup.js';
import { gatedArgs, openGate } from './supervisor.js';
import { isAbsolute, join } from 'node:path';
import type { PackageManifest } from '../../protocol/index.js';

export type HookName = keyof PackageManifest['hooks'];

export class HookError extends Error {
  readonly code = 'HOOK_FAILED';
}

/** Runs the hook if the manifest has one; throws HookError naming the hook and why it failed. */
export function runHook(
  manifest: PackageManifest,
  name: HookName,
  opts: { dir: string; env: Record<string, string>; runAs?: { uid: number; gid: number }; cgroup?: ProcessCgroup | null },
): Promise<void> {
  const hook = manifest.hooks[name];
  if (!hook) return Promise.resolve();
  const command = hook.command.includes('/') && !isAbsolute(hook.command) ? join(opts.dir, hook.command) : hook.command;
  if (opts.cgroup) return runInCgroup(name, hook, command, { ...opts, cgroup: opts.cgroup });
  return new Promise((resolve, reject) => {
    const user = opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {};
    execFile(command, hook.args, { cwd: opts.dir, env: opts.env, timeout: hook.timeoutSeconds * 1000, maxBuffer: 1024 * 1024, ...user }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = err.killed ? `timed out after ${hook.timeoutSeconds}s` : typeof err.code === 'number' ? `exited ${err.code}` : err.message;
      reject(new HookError(`${name} hook (${hook.command}) ${why}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`));
    });
  });
}

const MAX_STDERR_CHARS = 64 * 1024;

function runInCgroup(
  name: HookName,
  hook: NonNullable<PackageManifest['hooks'][HookName]>,
  command: string,
  opts: { dir: string; env: Record<string, string>; runAs?: { uid: number; gid: number }; cgroup: ProcessCgroup },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const user = opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {};
    const child = spawn('/bin/sh', gatedArgs(command, hook.args), { cwd: opts.dir, env: opts.env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'], ...user });
    let stderr = '';
    let timedOut = false;
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      stderr = (stderr + d).slice(-MAX_STDERR_CHARS);
    });
    child.once('error', (e) => reject(new HookError(`${name} hook (${hook.command}) ${e.message}`)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, hook.timeoutSeconds * 1000);
    const gateError = child.pid !== undefined ? openGate(child, opts.cgroup) : null;
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0 && gateError === null) return resolve();
      const why = gateError ?? (timedOut ? `timed out after ${hook.timeoutSeconds}s` : code === 127 ? 'could not start (not found)' : code !== null ? `exited ${code}` : `killed by ${signal}`);
      reject(new HookError(`${name} hook (${hook.command}) ${why}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`));
    });
  });
}
