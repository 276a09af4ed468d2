import { it } from 'node:test';
import assert from 'node:assert/strict';
import { RunAsError, resolveUser } from './run-as.js';

it('resolves a user to uid and gid when the agent is root, and explains why not otherwise', () => {
  assert.deepEqual(resolveUser('root', 0), { uid: 0, gid: 0 });
  assert.throws(() => resolveUser('root', 1000), (e: unknown) => e instanceof RunAsError && /needs the agent to run as root/.test(e.message));
  assert.throws(() => resolveUser('no-such-user-corral', 0), /no such user/);
});
