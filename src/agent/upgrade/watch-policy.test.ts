import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_WATCH_POLICY, nextWatchStep, type WatchState } from './watch-policy.js';

const policy = DEFAULT_WATCH_POLICY;
const started = (at: number): WatchState => ({ startedAt: at, running: true, exits: [], healthyAt: null });
const exited = (s: WatchState, at: number, code = 1): WatchState => ({ ...s, running: false, exits: [...s.exits, { at, code, signal: null }] });
const restarted = (s: WatchState): WatchState => ({ ...s, running: true });

describe('upgrade watch policy', () => {
  it('starts the new agent first, then waits for it', () => {
    assert.deepEqual(nextWatchStep({ startedAt: null, running: false, exits: [], healthyAt: null }, 0, policy), { action: 'start' });
    assert.deepEqual(nextWatchStep(started(0), 30_000, policy), { action: 'wait' });
  });

  it('succeeds once the new agent reports healthy, even after a restart', () => {
    const s = restarted(exited(started(0), 1000));
    assert.deepEqual(nextWatchStep({ ...s, healthyAt: 5000 }, 5000, policy), { action: 'succeed' });
  });

  it('reverts when the grace period passes without healthy', () => {
    assert.deepEqual(nextWatchStep(started(0), 59_999, policy), { action: 'wait' });
    const d = nextWatchStep(started(0), 60_000, policy);
    assert.equal(d.action, 'revert');
    assert.match(d.action === 'revert' ? d.reason : '', /did not connect and report healthy within 60 s/);
  });

  it('honours a shorter grace period', () => {
    assert.equal(nextWatchStep(started(0), 5000, { ...policy, graceMs: 5000 }).action, 'revert');
  });

  it('restarts after an exit, once the restart delay has passed', () => {
    const s = exited(started(0), 2000);
    assert.deepEqual(nextWatchStep(s, 2500, policy), { action: 'wait' });
    assert.deepEqual(nextWatchStep(s, 3000, policy), { action: 'start' });
  });

  it('tolerates two exits within a minute and reverts on the third', () => {
    let s = started(0);
    s = restarted(exited(s, 1000));
    s = restarted(exited(s, 3000));
    assert.deepEqual(nextWatchStep(s, 4000, policy), { action: 'wait' });
    s = exited(s, 5000, 3);
    const d = nextWatchStep(s, 5000, policy);
    assert.equal(d.action, 'revert');
    assert.match(d.action === 'revert' ? d.reason : '', /exited 3 times within 60 s \(last: exit code 3\)/);
  });

  it('forgets exits older than the crash window', () => {
    const p = { ...policy, graceMs: 600_000 };
    let s = started(0);
    s = restarted(exited(s, 1000));
    s = restarted(exited(s, 2000));
    s = exited(s, 70_000);
    // Only one exit (70 s) is within the last minute at 71 s: restart, not revert.
    assert.deepEqual(nextWatchStep(s, 71_000, p), { action: 'start' });
  });

  it('names a signal when the agent was killed', () => {
    let s = started(0);
    for (const at of [1, 2, 3]) s = { ...s, exits: [...s.exits, { at: at * 1000, code: null, signal: 'SIGSEGV' }] };
    const d = nextWatchStep({ ...s, running: false }, 3000, policy);
    assert.match(d.action === 'revert' ? d.reason : '', /killed by SIGSEGV/);
  });
});
