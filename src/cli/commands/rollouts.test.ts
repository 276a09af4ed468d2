import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CliError } from '../exit-codes.js';
import { formatRolloutStatus, rolloutPolicyFrom, type ApiRolloutStatus, type RolloutFlags } from './rollouts.js';

test('deploy flags become policy overrides; bad values name the flag', () => {
  assert.deepEqual(
    rolloutPolicyFrom({ canary: '10%', canaryAgent: ['web-1'], manualPromote: true, batches: '4', orderBy: 'cluster=a,b', maxInFlight: '2', minHealthy: '2.5', errorBudget: '1', onFailure: 'pause' }),
    { canary: '10%', canaryAgents: ['web-1'], promote: 'manual', batches: 4, orderBy: { label: 'cluster', values: ['a', 'b'] }, maxInFlight: '2', minHealthySeconds: 2.5, errorBudget: '1', onFailure: 'pause' },
  );
  assert.deepEqual(rolloutPolicyFrom({ canaryAgent: [] }), {}, 'no flags, no overrides: the deployment keeps its policy');
  const bad: [RolloutFlags, RegExp][] = [
    [{ canaryAgent: [], canary: '150%' }, /--canary must be a count like 5 or a percentage/],
    [{ canaryAgent: [], batches: '0' }, /--batches must be a whole number from 1 to 100/],
    [{ canaryAgent: [], orderBy: 'cluster' }, /--order-by must be label=value1,value2/],
    [{ canaryAgent: [], minHealthy: 'soon' }, /--min-healthy must be a number of seconds/],
  ];
  for (const [flags, message] of bad) {
    assert.throws(() => rolloutPolicyFrom(flags), (e: unknown) => e instanceof CliError && message.test(e.message));
  }
});

test('status shows revisions, the reason, the budget, a bar and per-stage counts', () => {
  const zero = { pending: 0, updating: 0, healthy: 0, failed: 0, offline: 0 };
  const s: ApiRolloutStatus = {
    id: 'r1',
    deployment: 'web',
    kind: 'rollout',
    state: 'paused',
    reason: 'waiting for promote: the canary stage is healthy',
    from: { revision: 1, version: '1.0.0' },
    to: { revision: 2, version: '1.1.0' },
    stage: { index: 0, name: 'canary' },
    stages: [
      { index: 0, name: 'canary', counts: { ...zero, healthy: 1 }, total: 1 },
      { index: 1, name: 'batch 1/1', counts: { ...zero, pending: 3 }, total: 3 },
    ],
    totals: { ...zero, healthy: 1, pending: 3, total: 4 },
    errorBudget: { budget: 0, failed: 0, left: 0 },
  };
  const text = formatRolloutStatus(s);
  assert.match(text, /rollout r1 of web: r1 \(1\.0\.0\) -> r2 \(1\.1\.0\)/);
  assert.match(text, /state: paused \(waiting for promote/);
  assert.match(text, /\[#{8}\.{22}\] 1\/4/);
  assert.match(text, /> canary\s+0\s+0\s+1\s+0\s+0/);
  assert.match(text, /batch 1\/1\s+3\s+0\s+0\s+0\s+0/);
});
