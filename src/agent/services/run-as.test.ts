import { it } from 'node:test';
import assert from 'node:assert/strict';
import { RunAsError, resolveUser, serviceUser } from './run-as.js';
import { DEFAULT_AGENT_POLICY, type AgentPolicy } from '../policy/agent-policy.js';

it('resolves a user to uid, gid and home when the agent is root, and explains why not otherwise', () => {
  assert.deepEqual(resolveUser('root', 0), { name: 'root', uid: 0, gid: 0, home: '/root' });
  assert.equal(resolveUser('0', 0).name, 'root');
  assert.throws(() => resolveUser('root', 1000), (e: unknown) => e instanceof RunAsError && /needs the agent to run as root/.test(e.message));
  assert.throws(() => resolveUser('no-such-user-corral', 0), /no such user/);
});

it('applies the policy: root only when allowed, run users only from the allowed list', () => {
  const strict: AgentPolicy = { ...DEFAULT_AGENT_POLICY, source: '/p.yaml', services: { allowRoot: false, allowedUsers: ['nobody'], allowUnenforcedLimits: false } };
  assert.equal(serviceUser('web', undefined, DEFAULT_AGENT_POLICY, 0), undefined);
  assert.throws(() => serviceUser('web', undefined, strict, 0), /service web would run as root \(no run.user\), which this agent's policy \(\/p.yaml\) does not allow/);
  assert.equal(serviceUser('web', undefined, strict, 1000), undefined, 'an agent that is not root runs nothing as root');
  assert.throws(() => serviceUser('web', 'root', strict, 0), /run.user "root" is not one of the users/);
  assert.throws(() => serviceUser('web', 'root', { ...strict, services: { allowRoot: false, allowedUsers: null, allowUnenforcedLimits: false } }, 0), /run.user "root" is root/);
  assert.equal(serviceUser('web', 'nobody', strict, 0)?.name, 'nobody');
});
