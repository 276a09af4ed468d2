/**
 * `run.user` from the manifest: the uid and gid to start a service with.
 * Only an agent running as root can switch users; otherwise installing the
 * service fails with a clear error rather than running it as the wrong user.
 */
import { execFileSync } from 'node:child_process';

export class RunAsError extends Error {
  readonly code = 'RUN_AS_FAILED';
}

export function resolveUser(user: string, currentUid: number | undefined = process.getuid?.()): { uid: number; gid: number } {
  if (currentUid !== 0) throw new RunAsError(`run.user "${user}" needs the agent to run as root (it runs as uid ${String(currentUid)})`);
  const id = (flag: '-u' | '-g') => {
    try {
      return Number(execFileSync('id', [flag, user], { encoding: 'utf8' }).trim());
    } catch {
      throw new RunAsError(`run.user "${user}": no such user on this host`);
    }
  };
  return { uid: id('-u'), gid: id('-g') };
}
