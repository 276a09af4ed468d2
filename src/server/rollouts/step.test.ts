import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepRollout, type AgentRow, type Observation, type RolloutCore } from './step.js';
import { DEFAULT_POLICY, mergePolicy, type RolloutPolicyInput } from './policy.js';

const row = (agentId: string, stage: number, patch: Partial<AgentRow> = {}): AgentRow => ({
  agentId,
  agentName: agentId,
  stage,
  state: 'pending',
  startedAt: null,
  healthySince: null,
  finishedAt: null,
  reason: '',
  ...patch,
});
const rollout = (policy: Partial<RolloutPolicyInput>, patch: Partial<RolloutCore> = {}): RolloutCore => ({
  state: 'running',
  stage: 0,
  stageStartedAt: 0,
  promoted: false,
  forgiven: 0,
  reason: '',
  toRevision: 2,
  policy: mergePolicy(DEFAULT_POLICY, policy),
  ...patch,
});
const obs = (o: Partial<Observation> = {}): Observation => ({ online: true, revision: 1, healthy: true, status: 'running', lastError: '', failed: null, ...o });

/** Applies step results to rows, as the driver would. */
function apply(rows: AgentRow[], changed: AgentRow[]): AgentRow[] {
  const by = new Map(changed.map((r) => [r.agentId, r]));
  return rows.map((r) => by.get(r.agentId) ?? r);
}

test('releases at most maxInFlight agents, stage by stage, and succeeds after the last', () => {
  let r = rollout({ maxInFlight: '2', minHealthySeconds: 5 }, { stage: 1 });
  let rows = [row('a', 1), row('b', 1), row('c', 1), row('d', 2)];
  const onTarget = new Set<string>();
  const observe = (id: string) => obs({ revision: onTarget.has(id) ? 2 : 1 });
  let s = stepRollout(r, rows, observe, 1000);
  assert.deepEqual(s.release, ['a', 'b']);
  rows = apply(rows, s.rows);
  // Reported on target and healthy: the clock for min healthy time starts, nothing more released yet.
  onTarget.add('a').add('b');
  s = stepRollout(r, rows, observe, 2000);
  assert.deepEqual(s.release, []);
  rows = apply(rows, s.rows);
  assert.equal(rows[0]!.healthySince, 2000);
  s = stepRollout(r, rows, observe, 7000);
  rows = apply(rows, s.rows);
  assert.deepEqual(s.release, ['c']);
  assert.deepEqual(rows.map((x) => x.state), ['healthy', 'healthy', 'updating', 'pending']);
  onTarget.add('c');
  s = stepRollout(r, rows, observe, 8000);
  rows = apply(rows, s.rows);
  s = stepRollout(r, rows, observe, 13_000);
  rows = apply(rows, s.rows);
  // Stage 1 done: stage 2 starts in the same step and releases d.
  assert.equal(s.rollout.stage, 2);
  assert.deepEqual(s.release, ['d']);
  r = { ...r, ...s.rollout };
  onTarget.add('d');
  rows = apply(rows, stepRollout(r, rows, observe, 14_000).rows);
  s = stepRollout(r, rows, observe, 19_000);
  assert.equal(s.rollout.state, 'succeeded');
  assert.ok(s.succeeded);
  assert.ok(s.stable);
});

test('a health flap resets the min-healthy clock', () => {
  const r = rollout({ minHealthySeconds: 10 });
  let rows = [row('a', 0, { state: 'updating', startedAt: 0, healthySince: 0 })];
  let s = stepRollout(r, rows, () => obs({ revision: 2, healthy: false, status: 'starting' }), 5000);
  rows = apply(rows, s.rows);
  assert.equal(rows[0]!.healthySince, null);
  s = stepRollout(r, rows, () => obs({ revision: 2 }), 6000);
  rows = apply(rows, s.rows);
  s = stepRollout(r, rows, () => obs({ revision: 2 }), 15_000);
  assert.equal(apply(rows, s.rows)[0]!.state, 'updating');
  s = stepRollout(r, rows, () => obs({ revision: 2 }), 16_000);
  assert.equal(apply(rows, s.rows)[0]!.state, 'healthy');
});

test('a crash loop on the new revision fails the agent and, past the budget, rolls back', () => {
  const r = rollout({ errorBudget: '0', onFailure: 'rollback' });
  const rows = [row('a', 0, { state: 'updating', startedAt: 0 }), row('b', 1)];
  const s = stepRollout(r, rows, () => obs({ revision: 2, healthy: false, status: 'crash-loop', lastError: 'crash loop: last exit 3', failed: 'crash loop: last exit 3' }), 1000);
  assert.equal(s.rows[0]!.state, 'failed');
  assert.equal(s.rows[0]!.reason, 'crash loop: last exit 3');
  assert.equal(s.rollout.state, 'failed');
  assert.ok(s.rollback);
  assert.equal(s.rollout.reason, `error budget exceeded: 1 failed, budget 0 (last: ${s.rows[0]!.agentName}: crash loop: last exit 3)`);
  assert.deepEqual(s.release, []);
});

test('with onFailure pause, exceeding the budget pauses and releases nothing more', () => {
  const r = rollout({ errorBudget: '1', onFailure: 'pause', healthyDeadlineSeconds: 10 });
  const rows = [row('a', 0, { state: 'failed' }), row('b', 0, { state: 'updating', startedAt: 0 }), row('c', 0)];
  const s = stepRollout(r, rows, () => obs({ revision: 1, healthy: true }), 11_000);
  assert.equal(s.rows.find((x) => x.agentId === 'b')!.state, 'failed');
  assert.match(s.rows.find((x) => x.agentId === 'b')!.reason, /not healthy within 10s \(still on revision 1\)/);
  assert.equal(s.rollout.state, 'paused');
  assert.equal(s.rollback, false);
  assert.deepEqual(s.release, []);
});

test('failures an operator accepted by resuming no longer count; new ones do', () => {
  const rows = [row('a', 0, { state: 'failed' }), row('b', 0, { state: 'healthy' }), row('c', 1)];
  const r = rollout({ errorBudget: '0', onFailure: 'pause' }, { forgiven: 1 });
  const s = stepRollout(r, rows, () => obs(), 1000);
  assert.equal(s.rollout.state, 'running');
  assert.deepEqual(s.release, ['c']);
  const done = stepRollout(r, [...rows.slice(0, 2), row('c', 1, { state: 'healthy' })], () => obs(), 1500);
  assert.equal(done.rollout.state, 'succeeded');
  assert.equal(done.stable, false, 'with an accepted failure the revision is not stable');
  assert.match(done.rollout.reason, /1 agent\(s\) not healthy/);
  const again = stepRollout(r, [...rows.slice(0, 2), row('c', 1, { state: 'failed' })], () => obs(), 2000);
  assert.equal(again.rollout.state, 'paused');
  assert.match(again.rollout.reason, /error budget exceeded: 1 failed, budget 0/);
});

test('an offline agent past its deadline does not block the stage and is retried when back', () => {
  const r = rollout({ healthyDeadlineSeconds: 10 });
  let rows = [row('a', 0, { state: 'updating', startedAt: 0 }), row('b', 1)];
  let online = false;
  const observe = (id: string) => (id === 'a' ? obs({ online, revision: 1, healthy: null }) : obs());
  let s = stepRollout(r, rows, observe, 11_000);
  rows = apply(rows, s.rows);
  assert.equal(rows[0]!.state, 'offline');
  assert.equal(s.rollout.stage, 1);
  assert.deepEqual(s.release, ['b']);
  online = true;
  s = stepRollout({ ...r, ...s.rollout }, rows, observe, 12_000);
  assert.equal(apply(rows, s.rows)[0]!.state, 'updating');
});

test('manual promote waits after a healthy canary stage; promoted goes on', () => {
  const r = rollout({ promote: 'manual', minHealthySeconds: 0 });
  const rows = [row('a', 0, { state: 'healthy' }), row('b', 1)];
  let s = stepRollout(r, rows, () => obs(), 1000);
  assert.equal(s.rollout.state, 'paused');
  assert.match(s.rollout.reason, /waiting for promote/);
  s = stepRollout({ ...r, promoted: true }, rows, () => obs(), 1000);
  assert.equal(s.rollout.stage, 1);
  assert.deepEqual(s.release, ['b']);
});

test('a paused rollout records health but releases nothing; a stuck stage fails on the progress deadline', () => {
  const paused = rollout({}, { state: 'paused' });
  assert.deepEqual(stepRollout(paused, [row('a', 0)], () => obs(), 1000).release, []);
  const r = rollout({ progressDeadlineSeconds: 60, onFailure: 'pause' });
  const s = stepRollout(r, [row('a', 0, { state: 'updating', startedAt: 50_000 })], () => obs({ healthy: false, status: 'starting' }), 61_000);
  assert.equal(s.rollout.state, 'paused');
  assert.match(s.rollout.reason, /stage 0 did not finish within 60s/);
});
