/**
 * Services' cgroups under one Corral parent, on cgroup v1 or v2 (which one
 * detect.ts found). Loaded only when a service asks for a cgroup, so an
 * agent without such services never pays for it.
 *
 * Layout (parent name from `corral agent --cgroup-parent`, default corral):
 *   v2: <mount>/<agent's cgroup>/<parent>/svc-<service> when the agent's own
 *       cgroup already delegates cpu, memory and pids to its children, else
 *       <mount>/<parent>/svc-<service> (the root is exempt from v2's "no
 *       processes in inner cgroups" rule). The parent's subtree_control
 *       enables cpu, memory and pids for the services.
 *   v1: per controller, <mount>/<agent's cgroup>/<parent>/svc-<service>, or
 *       <mount>/<parent>/svc-<service> where the agent's own cgroup is not
 *       writable.
 * `svc-` keeps a service name from ever naming a control file.
 *
 * Limits: cpu → cpu.max (v2) / cpu.cfs_quota_us over a 100 ms period (v1);
 * memoryMax → memory.max / memory.limit_in_bytes; memoryHigh → memory.high
 * (v2 only: v1 has no equivalent and the caller is told); pids → pids.max.
 */
import { mkdirSync, readFileSync, rmdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledResources } from '../../protocol/index.js';
import type { CgroupSupport, V1Controller } from './detect.js';
import { V1_CONTROLLERS, V2_CONTROLLERS } from './detect.js';
import type { ProcessCgroup } from './process-cgroup.js';

export class CgroupError extends Error {
  readonly code = 'CGROUP_FAILED';
}

const CPU_PERIOD_US = 100_000;
const MIN_CPU_QUOTA_US = 1000;
const KILL_ROUNDS = 100;
const KILL_ROUND_MS = 20;
const RMDIR_ROUNDS = 50;

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function write(file: string, value: string): void {
  try {
    writeFileSync(file, value);
  } catch (e) {
    throw new CgroupError(`cannot write ${JSON.stringify(value)} to ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** A `key value` line of a flat-keyed file (cpu.stat, memory.events, memory.oom_control). */
function keyed(text: string | null, key: string): number | null {
  if (text === null) return null;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

function num(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : null;
}

const NAME = /^[A-Za-z0-9._-]{1,64}$/;

/** The Corral parent: created on open, holding one cgroup per service. */
export class CgroupParent {
  private constructor(
    readonly version: 'v1' | 'v2',
    /** v2: one directory under "v2"; v1: one per controller. */
    private readonly dirs: Record<string, string>,
  ) {}

  /** Where the parent is, for the log. */
  get paths(): string[] {
    return [...new Set(Object.values(this.dirs))];
  }

  /**
   * Creates (or finds again) the parent. Throws CgroupError when no
   * candidate place is writable, naming each tried and why.
   */
  static open(support: CgroupSupport, name: string): CgroupParent {
    if (support.version === null) throw new CgroupError(`cgroups are unavailable: ${support.reason}`);
    if (!NAME.test(name) || name.startsWith('cgroup.')) throw new CgroupError(`cgroup parent name ${JSON.stringify(name)} must be letters, digits and ._- (at most 64), not starting with "cgroup."`);
    if (support.version === 'v2') {
      const { mount, own } = support.v2;
      const tried: string[] = [];
      const ownDir = join(mount, own);
      const delegated = (read(join(ownDir, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
      const candidates = own !== '/' && V2_CONTROLLERS.every((c) => delegated.includes(c)) ? [ownDir, mount] : [mount];
      for (const base of candidates) {
        const dir = join(base, name);
        try {
          if (base === mount) enableControllers(mount);
          mkdirSync(dir, { recursive: true });
          enableControllers(dir);
          return new CgroupParent('v2', { v2: dir });
        } catch (e) {
          tried.push(`${dir}: ${(e as Error).message}`);
        }
      }
      throw new CgroupError(`cannot create the cgroup parent: ${tried.join('; ')}`);
    }
    const dirs: Record<string, string> = {};
    for (const c of V1_CONTROLLERS) {
      const { mount, own } = support.v1[c];
      const candidates = [...new Set([join(mount, own, name), join(mount, name)])];
      const tried: string[] = [];
      for (const dir of candidates) {
        try {
          mkdirSync(dir, { recursive: true });
          dirs[c] = dir;
          break;
        } catch (e) {
          tried.push(`${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
      }
      if (!dirs[c]) throw new CgroupError(`cannot create the cgroup parent for ${c}: ${tried.join('; ')}`);
    }
    return new CgroupParent('v1', dirs);
  }

  /** The service's cgroup (not created until `create()`). */
  service(service: string): ServiceCgroup {
    const leaf = `svc-${service}`;
    return new ServiceCgroup(this.version, Object.fromEntries(Object.entries(this.dirs).map(([c, d]) => [c, join(d, leaf)])));
  }
}

function enableControllers(dir: string): void {
  const current = (read(join(dir, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
  const missing = V2_CONTROLLERS.filter((c) => !current.includes(c));
  if (missing.length > 0) write(join(dir, 'cgroup.subtree_control'), missing.map((c) => `+${c}`).join(' '));
}

export class ServiceCgroup implements ProcessCgroup {
  private applied: CompiledResources = {};

  constructor(
    readonly version: 'v1' | 'v2',
    /** v2: {v2: dir}; v1: controller → dir. */
    private readonly dirs: Record<string, string>,
  ) {}

  get paths(): string[] {
    return [...new Set(Object.values(this.dirs))];
  }

  get limits(): CompiledResources {
    return { ...this.applied };
  }

  get oomCountIsKills(): boolean {
    return this.version === 'v2' || keyed(read(join(this.dir('memory'), 'memory.oom_control')), 'oom_kill') !== null;
  }

  private dir(controller: V1Controller): string {
    return this.version === 'v2' ? this.dirs.v2! : this.dirs[controller]!;
  }

  exists(): boolean {
    return this.paths.every((p) => existsSync(p));
  }

  /** Creates the directories (idempotent). Throws CgroupError. */
  create(): void {
    for (const p of this.paths) {
      try {
        mkdirSync(p, { recursive: true });
      } catch (e) {
        throw new CgroupError(`cannot create cgroup ${p}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
      }
    }
  }

  /**
   * Writes the limits (absent fields: unlimited). Live: the kernel applies
   * them to running processes. Throws CgroupError naming the file when the
   * kernel refuses (e.g. v1 refuses a memory limit below current usage:
   * EBUSY); what was written before stays. Returns notes for what cannot be
   * enforced on this version (memoryHigh on v1).
   */
  apply(r: CompiledResources): string[] {
    const notes: string[] = [];
    if (this.version === 'v2') {
      const d = this.dirs.v2!;
      write(join(d, 'cpu.max'), r.cpu === undefined ? `max ${CPU_PERIOD_US}` : `${quota(r.cpu)} ${CPU_PERIOD_US}`);
      // memory.high first when lowering both, so max never sits below high.
      write(join(d, 'memory.high'), r.memoryHighBytes === undefined ? 'max' : String(r.memoryHighBytes));
      write(join(d, 'memory.max'), r.memoryMaxBytes === undefined ? 'max' : String(r.memoryMaxBytes));
      write(join(d, 'pids.max'), r.pids === undefined ? 'max' : String(r.pids));
    } else {
      write(join(this.dir('cpu'), 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
      write(join(this.dir('cpu'), 'cpu.cfs_quota_us'), r.cpu === undefined ? '-1' : String(quota(r.cpu)));
      write(join(this.dir('memory'), 'memory.limit_in_bytes'), r.memoryMaxBytes === undefined ? '-1' : String(r.memoryMaxBytes));
      if (r.memoryHighBytes !== undefined) notes.push('memoryHigh is not enforced on cgroup v1 (no memory.high); memoryMax is');
      write(join(this.dir('pids'), 'pids.max'), r.pids === undefined ? 'max' : String(r.pids));
    }
    this.applied = { ...r };
    return notes;
  }

  place(pid: number): void {
    for (const p of this.paths) write(join(p, 'cgroup.procs'), String(pid));
  }

  pids(): number[] {
    const all = new Set<number>();
    for (const p of this.paths) {
      for (const line of (read(join(p, 'cgroup.procs')) ?? '').split('\n')) {
        const pid = Number(line);
        if (line !== '' && Number.isInteger(pid) && pid > 0) all.add(pid);
      }
    }
    return [...all];
  }

  signalAll(signal: NodeJS.Signals): number {
    let reached = 0;
    for (const pid of this.pids()) {
      if (pid === process.pid) continue;
      try {
        process.kill(pid, signal);
        reached++;
      } catch {
        // Gone already.
      }
    }
    return reached;
  }

  async killAll(): Promise<void> {
    const killFile = this.version === 'v2' ? join(this.dirs.v2!, 'cgroup.kill') : null;
    for (let round = 0; round < KILL_ROUNDS; round++) {
      if (this.pids().length === 0) return;
      if (killFile && existsSync(killFile)) {
        try {
          writeFileSync(killFile, '1');
        } catch {
          // Older kernel: fall back to kill(2) below.
        }
      }
      this.signalAll('SIGKILL');
      await delay(KILL_ROUND_MS);
    }
    const left = this.pids();
    if (left.length > 0) throw new CgroupError(`processes ${left.slice(0, 10).join(', ')} still in ${this.paths[0]} after ${KILL_ROUNDS} rounds of SIGKILL`);
  }

  /** Kills what is left and removes the directories (an absent one is fine). Throws CgroupError when one cannot go. */
  async remove(): Promise<void> {
    if (!this.paths.some((p) => existsSync(p))) return;
    await this.killAll();
    for (const p of this.paths) {
      for (let round = 0; ; round++) {
        try {
          rmdirSync(p);
          break;
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ENOENT') break;
          // EBUSY while exiting processes are still being released.
          if (code !== 'EBUSY' || round >= RMDIR_ROUNDS) throw new CgroupError(`cannot remove cgroup ${p}: ${code ?? (e as Error).message}`, { cause: e });
          await delay(KILL_ROUND_MS);
        }
      }
    }
  }

  oomCount(): number | null {
    if (this.version === 'v2') return keyed(read(join(this.dirs.v2!, 'memory.events')), 'oom_kill');
    const memory = this.dir('memory');
    return keyed(read(join(memory, 'memory.oom_control')), 'oom_kill') ?? num(read(join(memory, 'memory.failcnt')));
  }

  usage(): { cpuNs: number | null; memoryBytes: number | null } {
    if (this.version === 'v2') {
      const usec = keyed(read(join(this.dirs.v2!, 'cpu.stat')), 'usage_usec');
      return { cpuNs: usec === null ? null : usec * 1000, memoryBytes: num(read(join(this.dirs.v2!, 'memory.current'))) };
    }
    return { cpuNs: num(read(join(this.dir('cpuacct'), 'cpuacct.usage'))), memoryBytes: num(read(join(this.dir('memory'), 'memory.usage_in_bytes'))) };
  }
}

function quota(cpu: number): number {
  return Math.max(MIN_CPU_QUOTA_US, Math.round(cpu * CPU_PERIOD_US));
}
