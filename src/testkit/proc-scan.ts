/** Finding processes a test did not start itself (agents started by a watcher or a service manager), through /proc. */
import { readFileSync, readdirSync } from 'node:fs';

/** A process's argv, or null when it is gone. */
export function cmdlineOf(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
  } catch {
    return null;
  }
}

/** Pids (other than this process) whose command line has an argument containing `needle`. */
export function pidsMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    if (cmdlineOf(Number(entry))?.some((arg) => arg.includes(needle))) pids.push(Number(entry));
  }
  return pids;
}

/** A process's parent pid, or null when it is gone. */
export function parentPidOf(pid: number): number | null {
  try {
    // The command name (field 2) is in parentheses and may hold spaces: read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}
