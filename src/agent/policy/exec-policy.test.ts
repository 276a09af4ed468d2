import { it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_AGENT_POLICY, type AgentPolicy } from './agent-policy.js';
import { PolicyRefusedError, checkExec } from './exec-policy.js';

const policy = (exec: Partial<AgentPolicy['exec']>): AgentPolicy => ({ ...DEFAULT_AGENT_POLICY, source: '/etc/corral/agent-policy.yaml', exec: { ...DEFAULT_AGENT_POLICY.exec, ...exec } });

it('allows any command under the default policy, and refuses with --no-exec', () => {
  assert.deepEqual(checkExec(DEFAULT_AGENT_POLICY, ['sh', '-c', 'id'], 60_000), ['sh', '-c', 'id']);
  assert.throws(() => checkExec(DEFAULT_AGENT_POLICY, ['true'], 1000, { noExecFlag: true }), /started with --no-exec/);
  assert.throws(() => checkExec(policy({ enabled: false }), ['true'], 1000), /disabled on this agent by this agent's policy \(\/etc\/corral\/agent-policy.yaml\)/);
});

it('refuses a timeout over the policy maximum', () => {
  assert.throws(() => checkExec(policy({ maxTimeoutMs: 30_000 }), ['true'], 60_000), (e: unknown) => e instanceof PolicyRefusedError && /60 s is over the maximum of 30 s/.test(e.message));
  assert.deepEqual(checkExec(policy({ maxTimeoutMs: 30_000 }), ['true'], 30_000), ['true']);
});

it('matches the allow-list by program, or by leading words, and runs the program found on the policy PATH', () => {
  const p = policy({ allow: ['uptime', ['sh', '-c', 'echo ok'], '/bin/true'] });
  assert.deepEqual(checkExec(p, ['uptime', '-p'], 1000), ['/usr/bin/uptime', '-p']);
  assert.deepEqual(checkExec(p, ['sh', '-c', 'echo ok'], 1000), ['/usr/bin/sh', '-c', 'echo ok']);
  assert.deepEqual(checkExec(p, ['/bin/true'], 1000), ['/bin/true']);
  assert.throws(() => checkExec(p, ['sh', '-c', 'cat /etc/shadow'], 1000), /"sh -c cat \/etc\/shadow" is not in the exec allow-list/);
  assert.throws(() => checkExec(p, ['./uptime'], 1000), /not in the exec allow-list/);
  assert.throws(() => checkExec(p, ['id'], 1000), /not in the exec allow-list/);
});
