/**
 * Whether this agent runs an exec job, by its local policy (agent-policy.ts):
 * a pure decision, so the refusal text is the same wherever it is shown
 * (it reaches the server as the job's host error).
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import type { AgentPolicy } from './agent-policy.js';

export class PolicyRefusedError extends Error {
  readonly code = 'POLICY_REFUSED';
  constructor(message: string) {
    super(message);
    this.name = 'PolicyRefusedError';
  }
}

/** The first executable `name` on `path` (colon-separated), or null. */
export function findOnPath(name: string, path: string): string | null {
  for (const dir of path.split(':')) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not in this directory: try the next.
    }
  }
  return null;
}

/**
 * Checks an exec request against the policy. Returns the argv to run: with
 * an allow-list, a bare program name is resolved on the policy's PATH first,
 * so a service's own PATH (exec --service) cannot swap in another program.
 * Throws PolicyRefusedError saying which rule refused it.
 */
export function checkExec(policy: AgentPolicy, command: string[], timeoutMs: number, opts: { noExecFlag?: boolean } = {}): string[] {
  const where = policy.source ? `this agent's policy (${policy.source})` : "this agent's policy";
  if (opts.noExecFlag) throw new PolicyRefusedError('exec is disabled on this agent (started with --no-exec)');
  if (!policy.exec.enabled) throw new PolicyRefusedError(`exec is disabled on this agent by ${where}`);
  if (timeoutMs > policy.exec.maxTimeoutMs) {
    throw new PolicyRefusedError(`exec timeout ${timeoutMs / 1000} s is over the maximum of ${policy.exec.maxTimeoutMs / 1000} s set by ${where}`);
  }
  const allow = policy.exec.allow;
  if (allow === null) return command;
  const program = command[0]!;
  const resolved = program.includes('/') ? program : findOnPath(program, policy.path);
  const allowed = allow.some((entry) => {
    const words = typeof entry === 'string' ? [entry] : entry;
    if (words[0] !== program && words[0] !== resolved) return false;
    return words.slice(1).every((w, i) => command[i + 1] === w);
  });
  if (!allowed) throw new PolicyRefusedError(`command ${JSON.stringify(command.join(' ').slice(0, 200))} is not in the exec allow-list of ${where}`);
  if (resolved === null) throw new PolicyRefusedError(`command "${program}" is allowed but not found on the policy's PATH`);
  return [resolved, ...command.slice(1)];
}
