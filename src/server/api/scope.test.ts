/**
 * The scope rule: a selector is within a scope only when it provably implies
 * it; checked on cases, and fuzzed against matching (what a selector within a
 * scope matches, the scope matches too, for any labels).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fc, fuzz } from '../../testkit/fuzz.js';
import { matchesSelector, parseSelector } from '../fleet/selector.js';
import { bindingsGranting, describeRoles, scopeKeys, scopesContaining, selectorWithin, unscoped } from './scope.js';

const within = (s: string, scope: string) => selectorWithin(parseSelector(s), parseSelector(scope));

describe('selector within a scope', () => {
  it('holds when the selector contains every requirement of the scope', () => {
    assert.equal(within('env=staging', 'env=staging'), true);
    assert.equal(within('env=staging,role=web', 'env=staging'), true);
    assert.equal(within('role=web, env = staging', 'env=staging'), true);
    assert.equal(within('env in (staging)', 'env=staging'), true);
    assert.equal(within('env in (a,b)', 'env in (a,b,c)'), true);
    assert.equal(within('env=a', 'env'), true);
    assert.equal(within('env=a', 'env!=prod'), true);
    assert.equal(within('!env', 'env!=prod'), true);
    assert.equal(within('env notin (prod,dr)', 'env!=prod'), true);
    assert.equal(within('env notin (prod,dr,x)', 'env notin (prod,dr)'), true);
    assert.equal(within('anything', ''), true);
    assert.equal(within('', ''), true);
  });

  it('fails when the selector could reach beyond the scope', () => {
    assert.equal(within('', 'env=staging'), false, 'the whole fleet');
    assert.equal(within('role=web', 'env=staging'), false);
    assert.equal(within('env!=prod', 'env=staging'), false);
    assert.equal(within('env in (staging,prod)', 'env=staging'), false);
    assert.equal(within('env', 'env=staging'), false);
    assert.equal(within('env=staging', 'env=staging,team=a'), false);
    assert.equal(within('claim.env=staging', 'env=staging'), false, 'a claim is not the trusted label');
    assert.equal(within('env notin (prod)', 'env notin (prod,dr)'), false);
    assert.equal(within('env!=prod', '!env'), false);
  });

  it('never admits a selector that matches labels its scope does not (fuzzed)', async () => {
    const key = fc.constantFrom('env', 'role', 'team');
    const value = fc.constantFrom('a', 'b', 'c');
    const req = fc.oneof(
      fc.tuple(key, fc.constantFrom('=', '!='), value).map(([k, op, v]) => `${k}${op}${v}`),
      fc.tuple(key, fc.constantFrom('in', 'notin'), fc.uniqueArray(value, { minLength: 1, maxLength: 3 })).map(([k, op, vs]) => `${k} ${op} (${vs.join(',')})`),
      fc.tuple(fc.constantFrom('', '!'), key).map(([n, k]) => `${n}${k}`),
    );
    const selector = fc.array(req, { maxLength: 3 }).map((rs) => rs.join(','));
    const labels = fc.dictionary(key, value, { maxKeys: 3 });
    await fuzz(
      'within implies matching',
      fc.property(selector, selector, fc.array(labels, { minLength: 1, maxLength: 20 }), (s, scope, samples) => {
        if (!within(s, scope)) return;
        for (const l of samples) if (matchesSelector(parseSelector(s), l)) assert.ok(matchesSelector(parseSelector(scope), l), `${s} within ${scope} but ${JSON.stringify(l)} escapes`);
      }),
    );
  });
});

describe('bindings', () => {
  const actor = { roles: [{ role: 'viewer' as const, selector: '' }, { role: 'operator' as const, selector: 'env=staging' }] };
  it('grant a role through any binding at that role or above', () => {
    assert.deepEqual(bindingsGranting(actor, 'viewer').length, 2);
    assert.deepEqual(bindingsGranting(actor, 'operator'), [{ role: 'operator', selector: 'env=staging' }]);
    assert.deepEqual(bindingsGranting(actor, 'admin'), []);
    assert.equal(unscoped(bindingsGranting(actor, 'viewer')), true);
    assert.equal(unscoped(bindingsGranting(actor, 'operator')), false);
    assert.equal(describeRoles(actor.roles), 'viewer, operator on env=staging');
    assert.deepEqual(scopesContaining('env=staging,role=db', bindingsGranting(actor, 'operator')).length, 1);
    assert.deepEqual([...scopeKeys({ role: 'operator', selector: 'env=staging,!canary' })], ['env', 'canary']);
  });
});
