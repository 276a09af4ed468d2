import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesSelector, parseSelector, SelectorError } from './selector.js';
import { selectableAttributes } from './agent-labels.js';
import { labelKeyProblem } from '../auth/label-rules.js';

const web = { env: 'prod', role: 'web', 'host.arch': 'arm64' };
const db = { env: 'prod', role: 'db', canary: 'true' };
const dev = { env: 'dev', role: 'api' };

function pick(selector: string): string[] {
  const s = parseSelector(selector);
  return Object.entries({ web, db, dev })
    .filter(([, labels]) => matchesSelector(s, labels))
    .map(([name]) => name);
}

describe('selector', () => {
  it('matches everything when empty or blank', () => {
    assert.deepEqual(pick(''), ['web', 'db', 'dev']);
    assert.deepEqual(pick('   '), ['web', 'db', 'dev']);
  });

  it('ands equality, set and existence requirements', () => {
    assert.deepEqual(pick('env=prod'), ['web', 'db']);
    assert.deepEqual(pick('env==prod,role in (web, api)'), ['web']);
    assert.deepEqual(pick('env=prod,!canary'), ['web']);
    assert.deepEqual(pick('canary'), ['db']);
    assert.deepEqual(pick('role notin (web,db)'), ['dev']);
    assert.deepEqual(pick('env!=prod'), ['dev']);
    assert.deepEqual(pick('host.arch=arm64'), ['web']);
  });

  it('treats a missing key as not equal and not in any set', () => {
    assert.deepEqual(pick('canary!=true'), ['web', 'dev']);
    assert.deepEqual(pick('zone notin (a)'), ['web', 'db', 'dev']);
    assert.deepEqual(pick('zone in (a)'), []);
  });

  it('does not read "in" inside a longer key', () => {
    const s = parseSelector('inside');
    assert.deepEqual(s.requirements, [{ op: 'exists', key: 'inside' }]);
    assert.deepEqual(parseSelector('index=1').requirements, [{ op: 'eq', key: 'index', value: '1' }]);
  });

  it('reads "in" and "notin" after a key only as whole words', () => {
    // A word that merely starts with the keyword ends the requirement there: the error points at the word, not past "in".
    for (const source of ['role index (a)', 'role notinx (a)', 'role in_use']) {
      assert.throws(
        () => parseSelector(source),
        (e: unknown) => e instanceof SelectorError && e.message === `invalid selector "${source}" at position 5: expected ","`,
        source,
      );
    }
    assert.deepEqual(parseSelector('role in(a)').requirements, [{ op: 'in', key: 'role', values: ['a'] }]);
    assert.deepEqual(parseSelector('role notin(a,b)').requirements, [{ op: 'notin', key: 'role', values: ['a', 'b'] }]);
  });

  it('matches claims only through the claim. form, over what selectableAttributes builds', () => {
    const agent = selectableAttributes({
      id: 'agent-1',
      labels: {},
      boundLabels: { env: 'staging' },
      identifyingAttributes: { 'service.name': 'otelcol' },
      nonIdentifyingAttributes: { 'corral.label.env': 'prod', 'host.arch': 'arm64' },
    });
    const matches = (sel: string) => matchesSelector(parseSelector(sel), agent);
    assert.equal(matches('env=prod'), false, 'a claimed env is not the env label');
    assert.equal(matches('env=staging'), true);
    assert.equal(matches('host.arch=arm64'), false, 'a reported attribute is not a label');
    assert.equal(matches('claim.host.arch=arm64'), true);
    assert.equal(matches('claim.env=prod,env=staging'), true);
    assert.equal(matches('claim.service.name in (otelcol,collector)'), true);
    assert.equal(matches('!claim.canary'), true);
    assert.equal(matches('claim.corral.label.env=prod'), true);
  });

  it('names an agent by the id the server holds with corral.io/id, never by what it claims or a stored label says', () => {
    const impostor = selectableAttributes({
      id: 'agent-2',
      // A label written around the API before the rule, and a claimed instance id: neither is its id.
      labels: { 'corral.io/id': 'agent-1' },
      boundLabels: {},
      identifyingAttributes: { 'service.instance.id': 'agent-1' },
      nonIdentifyingAttributes: { 'corral.label.corral.io/id': 'agent-1' },
    });
    const matches = (sel: string) => matchesSelector(parseSelector(sel), impostor);
    assert.equal(matches('corral.io/id=agent-1'), false);
    assert.equal(matches('corral.io/id in (agent-1,agent-3)'), false);
    assert.equal(matches('corral.io/id=agent-2'), true);
    assert.equal(matches('corral.io/id notin (agent-1)'), true);
    assert.equal(matches('claim.service.instance.id=agent-1'), true, 'the claim form still says what the agent claims');
    assert.equal(labelKeyProblem('corral.io/id')?.includes('reserved'), true);
    assert.equal(labelKeyProblem('corral.io/anything')?.includes('corral.io/'), true);
    assert.equal(labelKeyProblem('corral.iox'), null);
  });

  it('names the claim form when its key is missing', () => {
    assert.throws(() => parseSelector('claim.=x'), /attribute key after "claim\."/);
    assert.throws(() => parseSelector('!claim.'), /attribute key after "claim\."/);
  });

  for (const bad of ['env=', 'role in web', 'role in (web', '=prod', 'env=prod,', 'a b', '!', 'role in ()', 'env=prod;rm', 'claim.=arm64']) {
    it(`rejects "${bad}" with a positioned error`, () => {
      assert.throws(
        () => parseSelector(bad),
        (e: unknown) => e instanceof SelectorError && e.code === 'INVALID_SELECTOR' && e.message.includes('position'),
      );
    });
  }
});
