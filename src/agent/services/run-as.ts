/**
 * Which user a service, its hooks and its health-check command run as:
 * `run.user` from the manifest, judged by the agent's local policy
 * (services.allowRoot, services.allowedUsers). Only an agent running as
 * root can switch users; otherwise installing the service fails with a
 * clear error rather than running it as the wrong user.
 */
import { execFileSync } from 'node:child_process';
import type { AgentPolicy } from '../policy/agent-policy.js';
import { PolicyRefusedError } from '../policy/exec-policy.js';

export class RunAsError extends Error {
  readonly code = 'RUN_AS_FAILED';
}

/** A user from the passwd database. */
export interface RunAsUser {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/** Looks `user` (a name or a numeric uid) up in the passwd database; requires the agent to be root. */
export function resolveUser(user: string, currentUid: number | undefined = process.getuid?.()): RunAsUser {
  if (currentUid !== 0) throw new RunAsError(`run.user "${user}" needs the agent to run as root (it runs as uid ${String(currentUid)})`);
  let line: string;
  try {
    line = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim().split('\n')[0] ?? '';
  } catch {
    throw new RunAsError(`run.user "${user}": no such user on this host`);
  }
  const [name, , uid, gid, , home] = line.split(':');
  if (name === undefined || uid === undefined || gid === undefined) throw new RunAsError(`run.user "${user}": unreadable passwd entry`);
  return { name, uid: Number(uid), gid: Number(gid), home: home || '/' };
}

/**
 * The user a service runs as, or undefined for the agent's own user.
 * Throws PolicyRefusedError when the policy forbids it (root without
 * services.allowRoot, a user not in services.allowedUsers), RunAsError when
 * the user cannot be used.
 */
export function serviceUser(service: string, user: string | undefined, policy: AgentPolicy, currentUid: number | undefined = process.getuid?.()): RunAsUser | undefined {
  const where = policy.source ? `this agent's policy (${policy.source})` : "this agent's policy";
  if (user === undefined) {
    if (currentUid === 0 && !policy.services.allowRoot) throw new PolicyRefusedError(`service ${service} would run as root (no run.user), which ${where} does not allow`);
    return undefined;
  }
  if (policy.services.allowedUsers !== null && !policy.services.allowedUsers.includes(user)) {
    throw new PolicyRefusedError(`service ${service}: run.user "${user}" is not one of the users ${where} allows (${policy.services.allowedUsers.join(', ') || 'none'})`);
  }
  const resolved = resolveUser(user, currentUid);
  if (resolved.uid === 0 && !policy.services.allowRoot) throw new PolicyRefusedError(`service ${service}: run.user "${user}" is root, which ${where} does not allow`);
  return resolved;
}
