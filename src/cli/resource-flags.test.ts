import { it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resourcesFrom } from './resource-flags.js';

it('builds the override from flags and a file, flags winning, errors naming the flag', () => {
  assert.equal(resourcesFrom({}), undefined);
  assert.deepEqual(resourcesFrom({ cpu: '0.5', memoryMax: '256Mi', pids: '200' }), { cpu: 0.5, memoryMax: '256Mi', pids: 200 });
  assert.deepEqual(resourcesFrom({ cpu: '500m' }), { cpu: '500m' });
  const dir = mkdtempSync(join(tmpdir(), 'corral-res-'));
  writeFileSync(join(dir, 'r.yaml'), 'resources: {cpu: 2, memoryMax: 1Gi}\n');
  assert.deepEqual(resourcesFrom({ resourcesFile: join(dir, 'r.yaml'), cpu: '1' }), { cpu: 1, memoryMax: '1Gi' });
  assert.throws(() => resourcesFrom({ memoryMax: 'lots' }), /--memory-max: must be bytes/);
  assert.throws(() => resourcesFrom({ pids: '0' }), /--pids/);
  writeFileSync(join(dir, 'bad.yaml'), '{memory: 1Gi}\n');
  assert.throws(() => resourcesFrom({ resourcesFile: join(dir, 'bad.yaml') }), /resources: .*memory/);
  assert.throws(() => resourcesFrom({ resourcesFile: join(dir, 'missing.yaml') }), /--resources-file .*missing.yaml/);
});
