/**
 * Fuzzing the selector parser: any string parses or throws SelectorError
 * (never anything else); selectors built from the grammar parse to the
 * requirements they were built from and match exactly the labels they should.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fc, fuzz } from '../../testkit/fuzz.js';
import { SelectorError, matchesSelector, parseSelector, type Requirement } from './selector.js';

const key = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,15}$/).filter((k) => !['in', 'notin'].includes(k));
const value = fc.stringMatching(/^[A-Za-z0-9._/:-]{1,12}$/);
const requirement: fc.Arbitrary<Requirement> = fc.oneof(
  fc.record({ op: fc.constantFrom('eq' as const, 'neq' as const), key, value }),
  fc.record({ op: fc.constantFrom('in' as const, 'notin' as const), key, values: fc.uniqueArray(value, { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constantFrom('exists' as const, 'notexists' as const), key }),
);

function render(r: Requirement): string {
  switch (r.op) {
    case 'eq':
      return `${r.key}=${r.value}`;
    case 'neq':
      return `${r.key}!=${r.value}`;
    case 'in':
      return `${r.key} in (${r.values.join(',')})`;
    case 'notin':
      return `${r.key} notin (${r.values.join(', ')})`;
    case 'exists':
      return r.key;
    case 'notexists':
      return `!${r.key}`;
  }
}

/** Inputs that once mattered: empty parts, unclosed lists, operators without operands. */
const REGRESSIONS = ['', ',', 'a,', ',a', 'a in (', 'a in ()', 'a in (b', 'a notin', '!', '!=', '==', 'a==b', 'a=b=c', ' ', 'a in (b,)', '\u0000', 'a=\uD800'];

function parsesOrRefuses(source: string): void {
  try {
    parseSelector(source);
  } catch (e) {
    assert.ok(e instanceof SelectorError, `expected SelectorError for ${JSON.stringify(source)}, got ${(e as Error).name}: ${(e as Error).message}`);
  }
}

describe('selector fuzzing', () => {
  it('refuses or parses the regression cases', () => {
    for (const s of REGRESSIONS) parsesOrRefuses(s);
  });

  it('parses or throws SelectorError for any string', async () => {
    const alphabet = fc.constantFrom(...'ab=!,() in notin\t.-/:_'.split(''));
    await fuzz('selector arbitrary strings', fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: alphabet, maxLength: 60 })), parsesOrRefuses), { numRuns: 3000 });
  });

  it('parses grammar-built selectors to their requirements and matches as they say', async () => {
    const labels = fc.dictionary(key, value, { maxKeys: 6 });
    await fuzz(
      'selector grammar',
      fc.property(fc.array(requirement, { maxLength: 6 }), labels, (reqs, l) => {
        const parsed = parseSelector(reqs.map(render).join(','));
        // (fast-check's records have no prototype; compare as plain data)
        assert.deepEqual(JSON.parse(JSON.stringify(parsed.requirements)), JSON.parse(JSON.stringify(reqs)));
        const expected = reqs.every((r) => {
          const has = Object.hasOwn(l, r.key);
          if (r.op === 'eq') return l[r.key] === r.value;
          if (r.op === 'neq') return l[r.key] !== r.value;
          if (r.op === 'in') return has && r.values.includes(l[r.key]!);
          if (r.op === 'notin') return !has || !r.values.includes(l[r.key]!);
          if (r.op === 'exists') return has;
          return !has;
        });
        assert.equal(matchesSelector(parsed, l), expected);
      }),
    );
  });
});
