/**
 * A rollout policy: how a change to a deployment reaches its agents. Every
 * field has a default; a deployment may override any of them, and a single
 * rollout may override the deployment's. Amounts are a count ("3") or a
 * percentage of the agents in the rollout ("10%").
 */
import { z } from 'zod';
import { parseAmount } from '../jobs/job-policy.js';

const amount = z.string().refine((v) => /^\d{1,9}%?$/.test(v.trim()) && !(v.trim().endsWith('%') && Number(v.trim().slice(0, -1)) > 100), {
  message: 'must be a count like 5 or a percentage like 10%',
});

const fields = {
  /** Agents in the canary stage besides those named: a count or a percentage. */
  canary: amount,
  /** Agents (ids or names) that are always canaries. */
  canaryAgents: z.array(z.string().min(1)).max(1000),
  /** After the canary stage: wait for an operator's promote, or go on by itself. */
  promote: z.enum(['manual', 'auto']),
  batches: z.number().int().min(1).max(100),
  /** Run the batches per value of a label, in this order (e.g. cluster a, then b). */
  orderBy: z
    .object({ label: z.string().min(1).max(63), values: z.array(z.string().min(1)).min(1).max(100) })
    .strict()
    .nullable(),
  /** Agents updating at once, across the rollout. */
  maxInFlight: amount,
  /** How long a service must stay healthy on the new revision to count. */
  minHealthySeconds: z.number().min(0).max(86_400),
  /** How long one agent may take to become healthy before it counts as failed. */
  healthyDeadlineSeconds: z.number().min(1).max(86_400),
  /** How long one stage may take before the rollout fails. */
  progressDeadlineSeconds: z.number().min(1).max(7 * 86_400),
  /** Failed agents tolerated; one more and onFailure applies. */
  errorBudget: amount,
  onFailure: z.enum(['pause', 'rollback']),
  /** How a rollback goes out: through the same stages, or to every agent at once. */
  rollback: z.enum(['staged', 'at-once']),
};

export const RolloutPolicySchema = z.object(fields).strict();
/** Overrides of some fields, for a deployment or a single rollout. */
export const PolicyOverridesSchema = z.object(fields).partial().strict();

export type RolloutPolicy = z.infer<typeof RolloutPolicySchema>;
export type RolloutPolicyInput = z.infer<typeof PolicyOverridesSchema>;

export const DEFAULT_POLICY: RolloutPolicy = {
  canary: '0',
  canaryAgents: [],
  promote: 'auto',
  batches: 1,
  orderBy: null,
  maxInFlight: '25%',
  minHealthySeconds: 10,
  healthyDeadlineSeconds: 300,
  progressDeadlineSeconds: 1800,
  errorBudget: '0',
  onFailure: 'rollback',
  rollback: 'at-once',
};

/** An amount of `total`: a count as is, a percentage rounded up (so 10% of 5 is 1, not 0). */
export function amountOf(value: string, total: number): number {
  const { n, percent } = parseAmount('amount', value);
  return percent ? Math.ceil((total * n) / 100) : n;
}

/** Layers overrides on a base policy; the result is validated whole. */
export function mergePolicy(base: RolloutPolicy, ...overrides: (Partial<RolloutPolicyInput> | null | undefined)[]): RolloutPolicy {
  let merged: Record<string, unknown> = { ...base };
  for (const o of overrides) if (o) merged = { ...merged, ...o };
  return RolloutPolicySchema.parse(merged);
}

/** The policy of a rollback that goes out at once: no canary, one batch, everyone in flight. */
export function atOncePolicy(base: RolloutPolicy): RolloutPolicy {
  return { ...base, canary: '0', canaryAgents: [], promote: 'auto', batches: 1, orderBy: null, maxInFlight: '100%' };
}
