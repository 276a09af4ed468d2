/**
 * Service resource limits: what a manifest's `resources` block (and a
 * deployment's override of it) declares, and its compiled form the agent
 * enforces through cgroups.
 *
 *   resources: {cpu: 0.5, memoryMax: 256Mi, memoryHigh: 200Mi, pids: 200}
 *
 * - cpu: cores, as a number (0.5) or millicores ("500m"); 0.01 to 1024.
 * - memoryMax / memoryHigh: bytes, as a whole number or with a unit: Ki, Mi,
 *   Gi, Ti (powers of 1024) or K, M, G, T (powers of 1000); at least 1 MiB.
 *   memoryHigh (throttle and reclaim above it; cgroup v2 only) must not
 *   exceed memoryMax (the kernel kills above it).
 * - pids: the most processes and threads the service may have at once.
 *
 * Pure and shared (manifest, deployment API, CLI, agent): every error names
 * the field and the value.
 */
import { z } from 'zod';

const MIN_MEMORY_BYTES = 1024 * 1024;
const MAX_MEMORY_BYTES = 2 ** 50; // 1 PiB
const MIN_CPU = 0.01;
const MAX_CPU = 1024;
const MAX_PIDS = 4_194_304; // the kernel's pid_max ceiling

const UNITS: Record<string, number> = { '': 1, K: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
const SIZE = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|K|M|G|T)?$/;
const MILLICORES = /^([0-9]+)m$/;

/** Bytes from `256Mi`, `1G`, `1048576` (or a number); null when it is not a size. */
export function parseSize(value: string | number): number | null {
  if (typeof value === 'number') return Number.isInteger(value) && value >= 0 ? value : null;
  const m = SIZE.exec(value.trim());
  if (!m) return null;
  const bytes = Number(m[1]) * UNITS[m[2] ?? '']!;
  return Number.isFinite(bytes) ? Math.floor(bytes) : null;
}

/** Cores from `0.5`, `"0.5"` or `"500m"`; null when it is not a CPU amount. */
export function parseCpu(value: string | number): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  const milli = MILLICORES.exec(value.trim());
  if (milli) return Number(milli[1]) / 1000;
  return /^[0-9]+(?:\.[0-9]+)?$/.test(value.trim()) ? Number(value) : null;
}

/** A size in people's units: 268435456 → "256 MiB". */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size) {
      const n = bytes / size;
      return `${Number.isInteger(n) ? n : n.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}

const Size = z
  .union([z.number(), z.string().max(32)])
  .superRefine((v, ctx) => {
    const bytes = parseSize(v);
    if (bytes === null) ctx.addIssue({ code: 'custom', message: `must be bytes with an optional unit (Ki, Mi, Gi, Ti, K, M, G, T), like 256Mi; got ${JSON.stringify(v)}` });
    else if (bytes < MIN_MEMORY_BYTES) ctx.addIssue({ code: 'custom', message: `must be at least 1Mi; got ${JSON.stringify(v)}` });
    else if (bytes > MAX_MEMORY_BYTES) ctx.addIssue({ code: 'custom', message: `must be at most 1024Ti; got ${JSON.stringify(v)}` });
  });

const Cpu = z.union([z.number(), z.string().max(32)]).superRefine((v, ctx) => {
  const cores = parseCpu(v);
  if (cores === null) ctx.addIssue({ code: 'custom', message: `must be cores (0.5) or millicores ("500m"); got ${JSON.stringify(v)}` });
  else if (cores < MIN_CPU || cores > MAX_CPU) ctx.addIssue({ code: 'custom', message: `must be between ${MIN_CPU} and ${MAX_CPU} cores; got ${JSON.stringify(v)}` });
});

export const ResourcesSchema = z
  .object({
    cpu: Cpu.optional().describe('CPU time the service may use, in cores: 0.5 (half of one core) or "500m"; 0.01 to 1024. Enforced as a CFS quota (cpu.max on cgroup v2, cpu.cfs_quota_us on v1).'),
    memoryMax: Size.optional().describe('Memory above which the kernel kills the service (out of memory): bytes, or with a unit — Ki, Mi, Gi, Ti (1024) or K, M, G, T (1000), e.g. 256Mi; at least 1Mi. An OOM kill is reported as such and counts as a crash.'),
    memoryHigh: Size.optional().describe('Memory above which the service is throttled and reclaimed (cgroup v2 memory.high; on v1 it is not enforced and the agent logs so). Same units; not above memoryMax.'),
    pids: z.number().int().min(1).max(MAX_PIDS).optional().describe('The most processes and threads the service may have at once (pids.max); a fork past it fails.'),
  })
  .strict()
  .superRefine((r, ctx) => {
    const max = r.memoryMax === undefined ? null : parseSize(r.memoryMax);
    const high = r.memoryHigh === undefined ? null : parseSize(r.memoryHigh);
    if (max !== null && high !== null && high > max) ctx.addIssue({ code: 'custom', path: ['memoryHigh'], message: `must not exceed memoryMax (${JSON.stringify(r.memoryHigh)} > ${JSON.stringify(r.memoryMax)})` });
  });

export type Resources = z.infer<typeof ResourcesSchema>;

/** What the agent enforces: absent fields are not limited. */
export interface CompiledResources {
  /** Cores (0.5 = half a core). */
  cpu?: number;
  memoryMaxBytes?: number;
  memoryHighBytes?: number;
  pids?: number;
}

export class ResourcesError extends Error {
  readonly code = 'INVALID_RESOURCES';
}

/** Validates and converts; throws ResourcesError naming every bad field under `source` (e.g. "resources"). */
export function compileResources(raw: unknown, source = 'resources'): CompiledResources {
  const r = ResourcesSchema.safeParse(raw ?? {});
  if (!r.success) throw new ResourcesError(r.error.issues.map((i) => `${[source, ...i.path].join('.')}: ${i.message}`).join('; '));
  const out: CompiledResources = {};
  if (r.data.cpu !== undefined) out.cpu = parseCpu(r.data.cpu)!;
  if (r.data.memoryMax !== undefined) out.memoryMaxBytes = parseSize(r.data.memoryMax)!;
  if (r.data.memoryHigh !== undefined) out.memoryHighBytes = parseSize(r.data.memoryHigh)!;
  if (r.data.pids !== undefined) out.pids = r.data.pids;
  return out;
}

/** The manifest's limits with a deployment's override on top (field by field); the result is checked again (memoryHigh ≤ memoryMax). */
export function effectiveResources(manifest: Resources | undefined, override: Resources | undefined): CompiledResources {
  return compileResources({ ...(manifest ?? {}), ...(override ?? {}) }, override ? 'resources (manifest + deployment override)' : 'resources');
}

export function hasLimits(r: CompiledResources): boolean {
  return r.cpu !== undefined || r.memoryMaxBytes !== undefined || r.memoryHighBytes !== undefined || r.pids !== undefined;
}

/** One line for people: "cpu 0.5, memoryMax 256 MiB, pids 200". */
export function describeResources(r: CompiledResources): string {
  const parts: string[] = [];
  if (r.cpu !== undefined) parts.push(`cpu ${r.cpu}`);
  if (r.memoryMaxBytes !== undefined) parts.push(`memoryMax ${formatBytes(r.memoryMaxBytes)}`);
  if (r.memoryHighBytes !== undefined) parts.push(`memoryHigh ${formatBytes(r.memoryHighBytes)}`);
  if (r.pids !== undefined) parts.push(`pids ${r.pids}`);
  return parts.join(', ') || 'none';
}
