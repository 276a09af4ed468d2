/**
 * What the supervisor and hooks need of a service's cgroup (types only, so
 * importing it loads nothing; the implementation is service-cgroup.ts,
 * loaded on first use).
 */
import type { CompiledResources } from '../../protocol/index.js';

export interface ProcessCgroup {
  /** Where it lives, for logs: one directory (v2) or one per controller (v1). */
  readonly paths: readonly string[];
  /** The limits last written (what an OOM report quotes). */
  readonly limits: CompiledResources;
  /** Moves `pid` into the cgroup (every controller on v1). Throws CgroupError naming the file and why. */
  place(pid: number): void;
  /** Every process in it now. */
  pids(): number[];
  /** Sends `signal` to every process in it now; how many it reached. Never throws. */
  signalAll(signal: NodeJS.Signals): number;
  /**
   * SIGKILL to every process until none is left (a forking process is
   * caught on the next round): cgroup.kill on v2 where the kernel has it,
   * else rounds of kill(2) over cgroup.procs. Bounded; throws CgroupError
   * when processes remain after the last round.
   */
  killAll(): Promise<void>;
  /** How many times the kernel's OOM killer has killed a process in it (memory.events / memory.oom_control), or the v1 failcnt where the kernel has no counter; null when unreadable. */
  oomCount(): number | null;
  /** Whether oomCount() is the kernel's kill counter (false: v1 memory.failcnt, which also counts reclaimed limit hits). */
  readonly oomCountIsKills: boolean;
  /** CPU time used (ns) and memory charged (bytes) by everything in it, children included; null fields where unreadable. */
  usage(): { cpuNs: number | null; memoryBytes: number | null };
}
