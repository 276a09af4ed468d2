/**
 * Which stage of a rollout each agent falls into. Pure.
 *
 * Stage 0 is the canary (agents named in the policy, then the first agents in
 * hash order up to the canary amount). The rest go into `batches` batches by
 * consistent hashing: every batch owns VIRTUAL_NODES points on a ring of
 * 32-bit hashes, and an agent belongs to the batch owning the first point at
 * or after the hash of its id. An agent's batch therefore depends only on its
 * own id and the batch count: agents joining or leaving never move anyone
 * else, and with enough virtual nodes the batches come out about equal.
 *
 * With `orderBy` (label + ordered values) the batches repeat per group: all
 * batches of the first value, then the second, ...; agents whose label has
 * none of the listed values come last.
 */
import { createHash } from 'node:crypto';
import type { RolloutPolicy } from './policy.js';
import { amountOf } from './policy.js';

export const VIRTUAL_NODES = 160;

export interface PlanAgent {
  id: string;
  name: string;
  labels: Record<string, string>;
}

export interface StageInfo {
  index: number;
  name: string;
}

/** 32-bit position on the ring. */
export function ringHash(key: string): number {
  return createHash('sha256').update(key).digest().readUInt32BE(0);
}

export class BatchRing {
  private readonly points: { at: number; batch: number }[] = [];

  constructor(readonly batches: number) {
    for (let b = 0; b < batches; b++) {
      for (let v = 0; v < VIRTUAL_NODES; v++) this.points.push({ at: ringHash(`batch-${b}#${v}`), batch: b });
    }
    this.points.sort((x, y) => x.at - y.at || x.batch - y.batch);
  }

  /** The batch (0-based) owning the first point at or after the hash of `id`. */
  batchOf(id: string): number {
    const h = ringHash(id);
    let lo = 0;
    let hi = this.points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]!.at < h) lo = mid + 1;
      else hi = mid;
    }
    return this.points[lo % this.points.length]!.batch;
  }
}

/**
 * The stages of a policy, canary first (it may be empty, like any stage).
 * Given the stages that have agents (`occupied`), batches are numbered among
 * the non-empty ones of their group, so 3 agents in 10 batches read
 * "batch 1/3" … "batch 3/3", not "batch 2/10", "batch 7/10", "batch 9/10";
 * an empty batch is named "(empty)".
 */
export function stagesOf(policy: RolloutPolicy, occupied?: ReadonlySet<number>): StageInfo[] {
  const groups = policy.orderBy ? [...policy.orderBy.values.map((v) => `${policy.orderBy!.label}=${v}`), `${policy.orderBy.label}=(other)`] : [''];
  const stages: StageInfo[] = [{ index: 0, name: 'canary' }];
  for (const g of groups) {
    const first = stages.length;
    const indices = Array.from({ length: policy.batches }, (_, b) => first + b);
    const counted = occupied ? indices.filter((i) => occupied.has(i)) : indices;
    for (const index of indices) {
      const n = counted.indexOf(index);
      stages.push({ index, name: `${g ? `${g} ` : ''}batch ${n === -1 ? '(empty)' : `${n + 1}/${counted.length}`}` });
    }
  }
  return stages;
}

/** The stage of an agent that was not a canary when the rollout started (e.g. one that joined later). */
export function batchStageOf(policy: RolloutPolicy, ring: BatchRing, agent: PlanAgent): number {
  let group = 0;
  if (policy.orderBy) {
    const at = policy.orderBy.values.indexOf(agent.labels[policy.orderBy.label] ?? '');
    group = at === -1 ? policy.orderBy.values.length : at;
  }
  return 1 + group * policy.batches + ring.batchOf(agent.id);
}

/** Stage per agent id for the agents a rollout starts with. */
export function planStages(policy: RolloutPolicy, agents: PlanAgent[]): Map<string, number> {
  const ring = new BatchRing(policy.batches);
  const stages = new Map<string, number>();
  const named = new Set(policy.canaryAgents);
  for (const a of agents) if (named.has(a.id) || named.has(a.name)) stages.set(a.id, 0);
  const extra = amountOf(policy.canary, agents.length);
  const byHash = agents.filter((a) => !stages.has(a.id)).sort((x, y) => ringHash(`canary:${x.id}`) - ringHash(`canary:${y.id}`) || (x.id < y.id ? -1 : 1));
  for (const a of byHash.slice(0, extra)) stages.set(a.id, 0);
  for (const a of agents) if (!stages.has(a.id)) stages.set(a.id, batchStageOf(policy, ring, a));
  return stages;
}
