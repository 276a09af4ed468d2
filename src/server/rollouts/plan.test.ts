import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { BatchRing, planStages, stagesOf, type PlanAgent } from './plan.js';
import { mergePolicy, DEFAULT_POLICY } from './policy.js';

const agents = (n: number, labels: (i: number) => Record<string, string> = () => ({})): PlanAgent[] =>
  Array.from({ length: n }, (_, i) => ({ id: randomUUID(), name: `host-${i}`, labels: labels(i) }));

test('adding 10% more agents moves none of the existing ones to another batch', () => {
  const ring = new BatchRing(10);
  const before = agents(2000);
  const batchBefore = new Map(before.map((a) => [a.id, ring.batchOf(a.id)]));
  const after = [...before, ...agents(200)];
  // A fresh ring, as a restarted server would build it.
  const ring2 = new BatchRing(10);
  const moved = after.filter((a) => batchBefore.has(a.id) && batchBefore.get(a.id) !== ring2.batchOf(a.id)).length;
  assert.ok(moved <= before.length * 0.1, `moved ${moved} of ${before.length}`);
  assert.equal(moved, 0);
});

test('batches come out about equal with virtual nodes', () => {
  const ring = new BatchRing(10);
  const counts = new Array<number>(10).fill(0);
  for (const a of agents(10_000)) counts[ring.batchOf(a.id)]!++;
  for (const c of counts) assert.ok(c > 700 && c < 1300, `batch sizes ${counts.join(',')}`);
});

test('canary takes named agents plus the amount, the rest spread over the batches', () => {
  const fleet = agents(100);
  const policy = mergePolicy(DEFAULT_POLICY, { canary: '5%', canaryAgents: [fleet[42]!.name], batches: 4 });
  const plan = planStages(policy, fleet);
  const canaries = fleet.filter((a) => plan.get(a.id) === 0);
  assert.equal(canaries.length, 1 + 5);
  assert.ok(canaries.some((a) => a.id === fleet[42]!.id));
  const stages = new Set([...plan.values()]);
  assert.deepEqual([...stages].sort(), [0, 1, 2, 3, 4]);
  assert.equal(stagesOf(policy).length, 5);
  // Deterministic: the same inputs in another order give the same plan.
  assert.deepEqual(planStages(policy, [...fleet].reverse()), plan);
});

test('orderBy runs all batches of one label value before the next, unknown values last', () => {
  const fleet = agents(60, (i) => ({ cluster: ['b', 'a', 'c', 'z'][i % 4]! }));
  const policy = mergePolicy(DEFAULT_POLICY, { batches: 2, orderBy: { label: 'cluster', values: ['a', 'b', 'c'] } });
  const plan = planStages(policy, fleet);
  const stageOf = (cluster: string) => fleet.filter((a) => a.labels.cluster === cluster).map((a) => plan.get(a.id)!);
  const range = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];
  assert.ok(range(stageOf('a'))[1]! < range(stageOf('b'))[0]!);
  assert.ok(range(stageOf('b'))[1]! < range(stageOf('c'))[0]!);
  assert.ok(range(stageOf('c'))[1]! < range(stageOf('z'))[0]!);
  assert.deepEqual(stagesOf(policy).map((s) => s.name).slice(1, 3), ['cluster=a batch 1/2', 'cluster=a batch 2/2']);
});

test('stage names on a small fleet count only the batches that have agents', () => {
  const fleet = agents(3);
  const policy = mergePolicy(DEFAULT_POLICY, { batches: 10 });
  const plan = planStages(policy, fleet);
  const occupied = new Set(plan.values());
  const named = stagesOf(policy, occupied).filter((s) => occupied.has(s.index));
  const batches = new Set([...plan.values()]).size;
  assert.deepEqual(
    named.map((s) => s.name),
    Array.from({ length: batches }, (_, i) => `batch ${i + 1}/${batches}`),
  );
  assert.ok(stagesOf(policy, occupied).filter((s) => !occupied.has(s.index) && s.index > 0).every((s) => s.name === 'batch (empty)'));
});

test('with orderBy, batches are counted among the non-empty ones of their own group', () => {
  const policy = mergePolicy(DEFAULT_POLICY, { batches: 4, orderBy: { label: 'cluster', values: ['a', 'b'] } });
  // Group a: stages 1-4, group b: 5-8, other: 9-12.
  const names = stagesOf(policy, new Set([0, 2, 4, 7])).map((s) => s.name);
  assert.deepEqual([names[2], names[4], names[7], names[1], names[5]], ['cluster=a batch 1/2', 'cluster=a batch 2/2', 'cluster=b batch 1/1', 'cluster=a batch (empty)', 'cluster=b batch (empty)']);
});

test('planning 10% more agents moves no existing non-canary agent to another stage', () => {
  for (const policy of [
    mergePolicy(DEFAULT_POLICY, { canary: '2', batches: 7 }),
    mergePolicy(DEFAULT_POLICY, { canary: '1', batches: 3, orderBy: { label: 'cluster', values: ['a', 'b'] } }),
  ]) {
    const label = (i: number) => ({ cluster: ['a', 'b', 'c'][i % 3]! });
    const before = agents(500, label);
    const planBefore = planStages(policy, before);
    // The newcomers get ids anywhere in hash order, among the existing agents; the input order changes too.
    const after = [...before, ...agents(50, label)].reverse();
    const planAfter = planStages(policy, after);
    const moved = before.filter((a) => planBefore.get(a.id) !== 0 && planAfter.get(a.id) !== 0 && planBefore.get(a.id) !== planAfter.get(a.id));
    assert.deepEqual(moved.map((a) => `${a.name}: stage ${planBefore.get(a.id)} → ${planAfter.get(a.id)}`), []);
    // Only canary picks may differ, and the canary stays its size.
    assert.equal([...planAfter.values()].filter((s) => s === 0).length, [...planBefore.values()].filter((s) => s === 0).length);
    assert.ok(new Set(planAfter.values()).size > 3, 'the agents spread over several stages');
  }
});
