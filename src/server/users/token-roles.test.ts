import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RoleBinding } from '../auth/actor.js';
import { effectiveRoles, uncoveredRoles } from './token-roles.js';

const b = (role: RoleBinding['role'], selector = ''): RoleBinding => ({ role, selector });

describe('token roles', () => {
  it('covers a binding by the same or a higher role on the whole fleet, the same selector, or one the requested selector implies', () => {
    const held = [b('operator', 'env=staging'), b('viewer')];
    assert.deepEqual(uncoveredRoles([b('viewer'), b('viewer', 'env=prod'), b('operator', 'env=staging'), b('operator', 'env=staging,role=web'), b('operator', 'env in (staging)')], held), []);
    assert.deepEqual(uncoveredRoles([b('operator'), b('admin', 'env=staging'), b('operator', 'role=web'), b('operator', 'env=prod'), b('operator', 'env!=prod')], held), [
      b('operator'),
      b('admin', 'env=staging'),
      b('operator', 'role=web'),
      b('operator', 'env=prod'),
      b('operator', 'env!=prod'),
    ]);
    assert.deepEqual(uncoveredRoles([b('viewer')], []), [b('viewer')]);
  });

  it("acts as the user without roles of its own; with them, keeps each capped at the user's covering role, dropping uncovered ones", () => {
    const user = [b('operator', 'env=staging'), b('viewer')];
    assert.equal(effectiveRoles(user, null), user);
    assert.deepEqual(effectiveRoles(user, []), []);
    assert.deepEqual(effectiveRoles(user, [b('operator', 'env=staging,role=web'), b('admin', 'env=staging'), b('operator', 'env=prod'), b('viewer', 'team=a')]), [
      b('operator', 'env=staging,role=web'),
      b('operator', 'env=staging'),
      b('viewer', 'env=prod'),
      b('viewer', 'team=a'),
    ]);
    assert.deepEqual(effectiveRoles([b('operator', 'env=prod')], [b('admin'), b('viewer', 'env=staging')]), [], 'a scope wider than the user holds is not covered');
  });
});
