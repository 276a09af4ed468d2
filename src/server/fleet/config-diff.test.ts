/** Desired against effective config, file by file. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { diffConfigFiles } from './config-diff.js';

const f = (body: string, contentType = 'text/plain') => ({ contentType, body });

describe('diffConfigFiles', () => {
  it('marks each file same, changed, missing or extra, sorted by name', () => {
    const desired = { configNames: ['a'], hash: 'h', files: { 'same.txt': f('x'), 'body.txt': f('new'), 'type.txt': f('x', 'application/json'), 'offered.txt': f('o') } };
    const effective = { files: { 'same.txt': f('x'), 'body.txt': f('old'), 'type.txt': f('x'), 'local.txt': f('l') } };
    assert.deepEqual(
      diffConfigFiles(desired, effective).map((d) => [d.name, d.state]),
      [
        ['body.txt', 'changed'],
        ['local.txt', 'extra'],
        ['offered.txt', 'missing'],
        ['same.txt', 'same'],
        ['type.txt', 'changed'],
      ],
    );
  });

  it('handles nothing offered and nothing reported', () => {
    assert.deepEqual(diffConfigFiles(null, null), []);
    assert.deepEqual(diffConfigFiles(null, { files: { a: f('1') } }), [{ name: 'a', state: 'extra', desired: null, effective: f('1') }]);
  });

  it('does not take inherited names for files', () => {
    assert.deepEqual(diffConfigFiles({ configNames: [], hash: '', files: {} }, { files: {} }).length, 0);
    assert.equal(diffConfigFiles({ configNames: [], hash: '', files: { constructor: f('c') } }, { files: {} })[0]!.state, 'missing');
  });
});
