import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentEventBudget } from './agent-event-budget.js';

describe('AgentEventBudget', () => {
  it('passes an agent\'s events up to the budget, then one summary per minute window, and counts the rest', () => {
    let now = 0;
    const recorded: { type: string; agentId: string | null }[] = [];
    let dropped = 0;
    const budget = new AgentEventBudget({ record: (type, agentId) => recorded.push({ type, agentId }) }, { perMinute: 3, clock: { now: () => now }, onDropped: () => dropped++ });
    for (let i = 0; i < 10; i++) budget.record('service.running', 'a');
    budget.record('service.running', 'b');
    budget.record('job.started', null);
    assert.deepEqual(
      recorded.map((r) => `${r.agentId}:${r.type}`),
      ['a:service.running', 'a:service.running', 'a:service.running', 'a:agent.events_dropped', 'b:service.running', 'null:job.started'],
    );
    assert.equal(dropped, 7);
    now += 60_000;
    budget.record('service.exited', 'a');
    assert.equal(recorded.at(-1)!.type, 'service.exited', 'a new window has a new budget');
  });
});
