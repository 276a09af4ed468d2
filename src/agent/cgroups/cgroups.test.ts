import { it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { LimitsUnenforceableError, ServiceCgroups } from './cgroups.js';
import { parseAgentPolicy } from '../policy/agent-policy.js';

const log = pino({ level: 'silent' });
const none = { version: null, reason: 'the agent runs as uid 1000, not root, so it cannot create cgroups' } as const;

it('refuses a service whose limits this host cannot enforce, naming the limits and the reason', async () => {
  const cgroups = new ServiceCgroups(none, { parentName: 'corral', allowUnenforced: false, policySource: '/etc/corral/agent-policy.yaml' }, { log });
  await assert.rejects(
    cgroups.forService('web', { memoryMaxBytes: 256 * 1024 ** 2 }),
    (e: Error) =>
      e instanceof LimitsUnenforceableError &&
      e.message ===
        "service web declares resource limits (memoryMax 256 MiB) but this agent cannot enforce them: the agent runs as uid 1000, not root, so it cannot create cgroups; this agent's policy (/etc/corral/agent-policy.yaml) does not allow running without enforcement (services.allowUnenforcedLimits)",
  );
  assert.equal(await cgroups.forService('web', null), null, 'no resources: no cgroup, no error');
  assert.equal(await cgroups.forService('web', {}), null, 'an empty block asks for no limits: runs without a cgroup here');
});

it('runs it without limits when the policy allows that', async () => {
  const cgroups = new ServiceCgroups(none, { parentName: 'corral', allowUnenforced: true, policySource: null }, { log });
  assert.equal(await cgroups.forService('web', { cpu: 0.5 }), null);
});

it('reads services.allowUnenforcedLimits from the policy file, default false', () => {
  assert.equal(parseAgentPolicy('version: 1\n', '/p').services.allowUnenforcedLimits, false);
  assert.equal(parseAgentPolicy('version: 1\nservices: {allowUnenforcedLimits: true}\n', '/p').services.allowUnenforcedLimits, true);
  assert.throws(() => parseAgentPolicy('version: 1\nservices: {allowUnenforcedLimits: maybe}\n', '/p'), /services\.allowUnenforcedLimits/);
});
