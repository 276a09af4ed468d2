/**
 * Per-process CPU and RSS from /proc (Linux): CPU is the share of one core
 * used since the previous sample of the same process.
 */
import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

const previous = new Map<number, { ticks: number; at: number }>();

export function sampleProcess(pid: number, now = Date.now()): { cpuPercent: number | null; rssBytes: number | null } {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    previous.delete(pid);
    return { cpuPercent: null, rssBytes: null };
  }
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]);
  const rssBytes = Number(f[21]) * PAGE_BYTES;
  const prev = previous.get(pid);
  previous.set(pid, { ticks, at: now });
  const cpuPercent = prev && now > prev.at ? ((ticks - prev.ticks) / TICKS_PER_SECOND / ((now - prev.at) / 1000)) * 100 : null;
  return { cpuPercent: cpuPercent === null ? null : Math.round(cpuPercent * 10) / 10, rssBytes };
}
