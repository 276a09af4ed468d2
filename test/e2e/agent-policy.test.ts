/**
 * What the agent allows, whatever the server asks: exec gets a clean
 * environment (never the agent's own secrets).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';

describe('agent-side policy', { concurrency: false }, () => {
  let fleet: Fleet;
  let plain: TestAgent;

  before(async () => {
    fleet = await Fleet.start();
    // The token in the agent's environment, as `corral agent install`'s env file puts it there.
    plain = await fleet.startAgent({ name: 'plain', labels: { role: 'plain' }, env: { CORRAL_TOKEN: fleet.enrollmentToken, SOME_AGENT_SECRET: 'hunter2' } });
    await fleet.awaitAgent(plain, (a) => a.status === 'online');
  });
  after(async () => fleet?.close());

  it('runs exec with a clean environment: no enrollment token, nothing of the agent\'s own', async () => {
    const res = await fleet.cli('exec', '-s', 'role=plain', '--', 'env');
    assert.equal(res.code, 0, res.stderr);
    assert.ok(!res.stdout.includes(fleet.enrollmentToken), `the enrollment token leaked into job output:\n${res.stdout}`);
    assert.ok(!res.stdout.includes('hunter2'), 'the agent\'s environment leaked into job output');
    const vars = Object.fromEntries(
      res.stdout
        .trim()
        .split('\n')
        .map((l) => l.replace(/^plain \| /, ''))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    assert.deepEqual(Object.keys(vars).sort(), ['HOME', 'LANG', 'PATH']);
    assert.equal(vars.PATH, '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    assert.equal(vars.LANG, 'C.UTF-8');
  });
});
