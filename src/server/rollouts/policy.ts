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

export const RolloutPolicySchema = z
  .object({
    /** Agents in the canary stage besides those named: a count or a percentage. */
    canary: amount.default('0'),
    /** Agents (ids or names) that are always canaries. */
    canaryAgents: z.array(z.string().min(1)).max(1000).default([]),
    /** After the canary stage: wait for an operator's promote, or go on by itself. */
    promote: z.enum(['manual', 'auto']).default('auto'),
    batches: z.number().int().min(1).max(100).default(1),
    /** Run the batches per value of a label, in this order (e.g. cluster a, then b). */
    orderBy: z
      .object({ label: z.string().min(1).max(63), values: z.array(z.string().min(1)).min(1).max(100) })
      .strict()
      .nullable()
      .default(null),
    /** Agents updating at once, across the rollout. */
    maxInFlight: amount.default('25%'),
    /** How long a service must stay healthy on the new revision to count. */
    minHealthySeconds: z.number().min(0).max(86_400).default(10),
    /** How long one agent may take to become healthy before it counts as failed. */
    healthyDeadlineSeconds: z.number().min(1).max(86_400).default(300),
    /** How long one stage may take before the rollout fails. */
    progressDeadlineSeconds: z.number().min(1).max(7 * 86_400).default(1800),
    /** Failed agents tolerated; one more and onFailure applies. */
    errorBudget: amount.default('0'),
    onFailure: z.enum(['pause', 'rollback']).default('rollback'),
    /** How a rollback goes out: through the same stages, or to every agent at once. */
    rollback: z.enum(['staged', 'at-once']).default('at-once'),
  })
  .strict();

export type RolloutPolicy = z.infer<typeof RolloutPolicySchema>;
export type RolloutPolicyInput = z.input<typeof RolloutPolicySchema>;

export const DEFAULT_POLICY: RolloutPolicy = RolloutPolicySchema.parse({});

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
