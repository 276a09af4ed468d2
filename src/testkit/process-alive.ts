import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a process with this pid exists (signal 0 probes without touching it). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid of a service an agent supervises (from its pid.json), if that process is alive; else null. */
export function servicePid(agentDataDir: string, service: string): number | null {
  try {
    const saved = JSON.parse(readFileSync(join(agentDataDir, 'services', service, 'pid.json'), 'utf8')) as { pid: number };
    return processAlive(saved.pid) ? saved.pid : null;
  } catch {
    return null;
  }
}
