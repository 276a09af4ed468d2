import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileResources, describeResources, effectiveResources, formatBytes, parseCpu, parseSize, ResourcesError } from './resources.js';
import { parseManifest } from './package-manifest.js';

describe('resources', () => {
  it('reads sizes with binary and decimal units', () => {
    assert.equal(parseSize('256Mi'), 256 * 1024 * 1024);
    assert.equal(parseSize('1G'), 1e9);
    assert.equal(parseSize('1.5Gi'), 1.5 * 1024 ** 3);
    assert.equal(parseSize(4096), 4096);
    assert.equal(parseSize('12 apples'), null);
    assert.equal(parseSize(-1), null);
    assert.equal(parseSize('1Mb'), null);
  });

  it('reads cpu as cores or millicores', () => {
    assert.equal(parseCpu(0.5), 0.5);
    assert.equal(parseCpu('500m'), 0.5);
    assert.equal(parseCpu('2'), 2);
    assert.equal(parseCpu('half'), null);
  });

  it('compiles a full block', () => {
    assert.deepEqual(compileResources({ cpu: '250m', memoryMax: '256Mi', memoryHigh: '200Mi', pids: 200 }), {
      cpu: 0.25,
      memoryMaxBytes: 256 * 1024 ** 2,
      memoryHighBytes: 200 * 1024 ** 2,
      pids: 200,
    });
  });

  it('names the field and the value in every error', () => {
    assert.throws(() => compileResources({ memoryMax: '12 apples' }), (e: Error) => e instanceof ResourcesError && /resources\.memoryMax: .*"12 apples"/.test(e.message));
    assert.throws(() => compileResources({ memoryMax: '512Ki' }), /resources\.memoryMax: must be at least 1Mi/);
    assert.throws(() => compileResources({ cpu: 0 }), /resources\.cpu: must be between/);
    assert.throws(() => compileResources({ cpu: 'lots' }), /resources\.cpu: must be cores/);
    assert.throws(() => compileResources({ pids: 0 }), /resources\.pids/);
    assert.throws(() => compileResources({ pids: 1.5 }), /resources\.pids/);
    assert.throws(() => compileResources({ memoryMax: '100Mi', memoryHigh: '200Mi' }), /resources\.memoryHigh: must not exceed memoryMax/);
    assert.throws(() => compileResources({ memory: '1Gi' }), /resources: .*memory/);
  });

  it('lets a deployment override the manifest field by field, checked together', () => {
    assert.deepEqual(effectiveResources({ cpu: 1, memoryMax: '256Mi' }, { memoryMax: '512Mi' }), { cpu: 1, memoryMaxBytes: 512 * 1024 ** 2 });
    assert.throws(() => effectiveResources({ memoryMax: '256Mi' }, { memoryHigh: '300Mi' }), /memoryHigh: must not exceed memoryMax/);
  });

  it('describes limits in people units', () => {
    assert.equal(formatBytes(256 * 1024 ** 2), '256 MiB');
    assert.equal(describeResources({ cpu: 0.5, memoryMaxBytes: 256 * 1024 ** 2, pids: 200 }), 'cpu 0.5, memoryMax 256 MiB, pids 200');
  });

  it('is part of the manifest, with errors naming the field', () => {
    const base = 'apiVersion: corral.io/v1\nname: a\nversion: 1.0.0\nrun: {command: bin/a}\n';
    const m = parseManifest(`${base}resources: {cpu: 0.5, memoryMax: 256Mi, pids: 200}\n`);
    assert.deepEqual(m.resources, { cpu: 0.5, memoryMax: '256Mi', pids: 200 });
    assert.throws(() => parseManifest(`${base}resources: {memoryMax: lots}\n`), /resources\.memoryMax: must be bytes/);
  });
});
