/**
 * Whether this agent runs as a Node single executable application (the
 * `--sea` build of `npm run build:agent`): then process.execPath is the agent
 * itself, node flags cannot be given to it, and there is no script to pass
 * to node. Upgrades and `corral agent install` start such an agent as
 * `<executable> agent …`.
 */
import { isSea } from 'node:sea';

export function isSingleExecutable(): boolean {
  try {
    return isSea();
  } catch {
    // A node without node:sea support (older than 20.12) runs no single executable.
    return false;
  }
}

/** Whether a package's agent.entry is a script for node (else it is an executable, run as is). */
export function isNodeScript(entry: string): boolean {
  return /\.(c|m)?js$/.test(entry);
}
