import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Whether a process with this pid exists (signal 0 probes without touching
 * it) and is not a zombie: a killed orphan waits for pid 1 to reap it, which
 * under load can take long, and it runs nothing meanwhile.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    // Gone between the probe and the read, or no /proc: the probe's answer stands.
    return existsSync(`/proc/${pid}`) || !existsSync('/proc/self');
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
