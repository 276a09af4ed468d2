/**
 * The environment every process the agent starts gets (exec jobs, services,
 * hooks, health-check commands): built from nothing, never inherited. The
 * agent's own environment can hold its enrollment token (CORRAL_TOKEN) and
 * whatever its service manager put there; none of it reaches a child.
 *
 *   PATH  DEFAULT_PATH, or the policy file's `path`
 *   HOME  the home directory of the user the process runs as (from the passwd database)
 *   LANG  C.UTF-8
 *
 * Services and hooks add their manifest's `run.env` and the documented
 * CORRAL_SERVICE / CORRAL_SERVICE_DIR on top (services-manager.ts).
 */
import { userInfo } from 'node:os';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function cleanEnvironment(opts: { home?: string; path?: string } = {}): Record<string, string> {
  return { PATH: opts.path ?? DEFAULT_PATH, HOME: opts.home ?? agentHome(), LANG: 'C.UTF-8' };
}

/** The home directory of the user the agent runs as, from the passwd database (not $HOME). */
function agentHome(): string {
  try {
    return userInfo().homedir || '/';
  } catch {
    return '/';
  }
}
