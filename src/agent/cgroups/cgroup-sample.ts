/**
 * A service's CPU and memory from its cgroup's own accounting (children
 * included): CPU as the share of one core used since the previous sample of
 * the same cgroup, memory as what the cgroup is charged (v1
 * memory.usage_in_bytes, v2 memory.current). Replaces per-pid sampling for
 * services that have a cgroup.
 */
import type { ProcessCgroup } from './process-cgroup.js';

const previous = new Map<string, { cpuNs: number; at: number }>();

export function sampleCgroup(cg: ProcessCgroup, now = Date.now()): { cpuPercent: number | null; rssBytes: number | null } {
  const key = cg.paths[0] ?? '';
  const { cpuNs, memoryBytes } = cg.usage();
  const prev = previous.get(key);
  let cpuPercent: number | null = null;
  if (cpuNs !== null) {
    if (prev && now > prev.at && cpuNs >= prev.cpuNs) cpuPercent = Math.round(((cpuNs - prev.cpuNs) / 1e6 / (now - prev.at)) * 1000) / 10;
    previous.set(key, { cpuNs, at: now });
  } else {
    previous.delete(key);
  }
  return { cpuPercent, rssBytes: memoryBytes };
}
