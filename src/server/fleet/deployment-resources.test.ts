import { it } from 'node:test';
import assert from 'node:assert/strict';
import { packResources, unpackResources } from './deployment-resources.js';

it('keeps a deployment override beside the values and gives both back apart', () => {
  const packed = packResources({ port: '80' }, { cpu: 0.5, memoryMax: '256Mi' });
  assert.equal(Object.keys(packed).length, 2);
  assert.deepEqual(unpackResources(packed), { values: { port: '80' }, resources: { cpu: 0.5, memoryMax: '256Mi' } });
  assert.deepEqual(packResources({ port: '80' }, undefined), { port: '80' });
  assert.deepEqual(packResources({ port: '80' }, {}), { port: '80' }, 'an empty override is none');
  assert.deepEqual(unpackResources({ port: '80' }), { values: { port: '80' } });
  assert.deepEqual(packResources(packed, undefined), { port: '80' }, 'a change without an override drops the old one');
});
