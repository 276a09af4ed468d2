import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_WATCH_POLICY, nextWatchStep, supervisedProgress, type WatchState } from './watch-policy.js';

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

describe('supervised progress (restarts counted by the service manager)', () => {
  const baseline = 7;

  it('sees nothing started while the old agent runs or its restart is pending', () => {
    assert.deepEqual(supervisedProgress(baseline, { mainPid: 100, restarts: 7 }), { started: false, running: false, exits: 0 });
    assert.deepEqual(supervisedProgress(baseline, { mainPid: 0, restarts: 7 }), { started: false, running: false, exits: 0 });
  });

  it('counts the first restart after the handover as the new version starting, not as an exit', () => {
    assert.deepEqual(supervisedProgress(baseline, { mainPid: 200, restarts: 8 }), { started: true, running: true, exits: 0 });
  });

  it('counts an exit whose restart is pending, and each further restart as one exit', () => {
    assert.deepEqual(supervisedProgress(baseline, { mainPid: 0, restarts: 8 }), { started: true, running: false, exits: 1 });
    assert.deepEqual(supervisedProgress(baseline, { mainPid: 300, restarts: 9 }), { started: true, running: true, exits: 1 });
    // Two quick crashes between two polls are both counted.
    assert.deepEqual(supervisedProgress(baseline, { mainPid: 0, restarts: 10 }), { started: true, running: false, exits: 3 });
  });

  it('feeds the same revert rule as the unsupervised watch', () => {
    const p = supervisedProgress(baseline, { mainPid: 0, restarts: 10 });
    const s: WatchState = { startedAt: 0, running: p.running, exits: [1, 2, 3].map((i) => ({ at: i * 1000, code: 3, signal: null })), healthyAt: null };
    const d = nextWatchStep(s, 3000, DEFAULT_WATCH_POLICY);
    assert.equal(d.action, 'revert');
    assert.match(d.action === 'revert' ? d.reason : '', /exited 3 times within 60 s \(last: exit code 3\)/);
  });
});
