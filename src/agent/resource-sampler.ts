/**
 * Samples host CPU, memory and disk and each service's CPU, RSS and open
 * files every few seconds, for the server's short history and fleet gauges.
 * A service with a cgroup is measured from the cgroup's accounting
 * (children included) instead of its main process.
 */
import { readdirSync, statfsSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import type { ResourceSample } from '../protocol/index.js';
import { sampleProcess } from './services/process-sample.js';
import { sampleCgroup } from './cgroups/cgroup-sample.js';
import type { ProcessCgroup } from './cgroups/process-cgroup.js';

function cpuTotals(): { idle: number; total: number } {
  let idle = 0;
  let total = 0;
  for (const c of cpus()) {
    idle += c.times.idle;
    total += c.times.idle + c.times.user + c.times.nice + c.times.sys + c.times.irq;
  }
  return { idle, total };
}

function openFiles(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

export class ResourceSampler {
  private last = cpuTotals();

  constructor(private readonly dataDir: string) {}

  sample(services: { name: string; pid: number | null; cgroup?: ProcessCgroup }[]): ResourceSample {
    const now = cpuTotals();
    const total = now.total - this.last.total;
    const cpuPercent = total > 0 ? Math.round((1 - (now.idle - this.last.idle) / total) * 1000) / 10 : null;
    this.last = now;
    let diskUsedBytes: number | null = null;
    let diskTotalBytes: number | null = null;
    try {
      const fs = statfsSync(this.dataDir);
      diskTotalBytes = fs.blocks * fs.bsize;
      diskUsedBytes = (fs.blocks - fs.bfree) * fs.bsize;
    } catch {
      // statfs unsupported here: leave disk unknown.
    }
    return {
      at: Date.now(),
      host: { cpuPercent, memUsedBytes: totalmem() - freemem(), memTotalBytes: totalmem(), diskUsedBytes, diskTotalBytes },
      services: services.map((s) => ({
        name: s.name,
        ...(s.cgroup ? sampleCgroup(s.cgroup) : s.pid !== null ? sampleProcess(s.pid) : { cpuPercent: null, rssBytes: null }),
        fds: s.pid !== null ? openFiles(s.pid) : null,
      })),
    };
  }
}
