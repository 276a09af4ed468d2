/**
 * Package hooks (postInstall, preStart, preUninstall): a command run in the
 * version directory with the service's environment, as the service's user
 * (run.user), with a timeout. A failing
 * postInstall or preStart fails that step (the previous version keeps
 * running); a failing preUninstall is reported but does not block removal.
 */
import { execFile } from 'node:child_process';
import { isAbsolute, join } from 'node:path';
import type { PackageManifest } from '../../protocol/index.js';

export type HookName = keyof PackageManifest['hooks'];

export class HookError extends Error {
  readonly code = 'HOOK_FAILED';
}

/** Runs the hook if the manifest has one; throws HookError naming the hook and why it failed. */
export function runHook(manifest: PackageManifest, name: HookName, opts: { dir: string; env: Record<string, string>; runAs?: { uid: number; gid: number } }): Promise<void> {
  const hook = manifest.hooks[name];
  if (!hook) return Promise.resolve();
  const command = hook.command.includes('/') && !isAbsolute(hook.command) ? join(opts.dir, hook.command) : hook.command;
  return new Promise((resolve, reject) => {
    const user = opts.runAs ? { uid: opts.runAs.uid, gid: opts.runAs.gid } : {};
    execFile(command, hook.args, { cwd: opts.dir, env: opts.env, timeout: hook.timeoutSeconds * 1000, maxBuffer: 1024 * 1024, ...user }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      const why = err.killed ? `timed out after ${hook.timeoutSeconds}s` : typeof err.code === 'number' ? `exited ${err.code}` : err.message;
      reject(new HookError(`${name} hook (${hook.command}) ${why}${stderr ? `: ${stderr.trim().slice(-500)}` : ''}`));
    });
  });
}
