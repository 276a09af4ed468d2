import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchesSelector, parseSelector, SelectorError } from './selector.js';

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

  for (const bad of ['env=', 'role in web', 'role in (web', '=prod', 'env=prod,', 'a b', '!', 'role in ()', 'env=prod;rm']) {
    it(`rejects "${bad}" with a positioned error`, () => {
      assert.throws(
        () => parseSelector(bad),
        (e: unknown) => e instanceof SelectorError && e.code === 'INVALID_SELECTOR' && e.message.includes('position'),
      );
    });
  }
});
