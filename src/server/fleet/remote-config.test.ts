import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigRecord } from '../store/index.js';
import { compileConfigs, desiredConfigFor, hashConfigFiles } from './remote-config.js';
import { selectableAttributes, trustedLabels } from './agent-labels.js';

const config = (name: string, selector: string, files: ConfigRecord['files']): ConfigRecord => ({
  name,
  selector,
  files,
  hash: hashConfigFiles(files),
  createdAt: 0,
  updatedAt: 0,
});

describe('remote config', () => {
  it('hashes content, not order, and changes when any byte changes', () => {
    const a = hashConfigFiles({ 'a.yaml': { contentType: 'text/yaml', body: 'x' }, 'b.yaml': { contentType: 'text/yaml', body: 'y' } });
    const b = hashConfigFiles({ 'b.yaml': { contentType: 'text/yaml', body: 'y' }, 'a.yaml': { contentType: 'text/yaml', body: 'x' } });
    assert.equal(a, b);
    assert.notEqual(a, hashConfigFiles({ 'a.yaml': { contentType: 'text/yaml', body: 'x' }, 'b.yaml': { contentType: 'text/yaml', body: 'z' } }));
    assert.notEqual(a, hashConfigFiles({ 'a.yaml': { contentType: 'text/plain', body: 'x' }, 'b.yaml': { contentType: 'text/yaml', body: 'y' } }));
    // Length prefixes keep boundaries: moving a character between name and body changes the hash.
    assert.notEqual(hashConfigFiles({ ab: { contentType: 't', body: 'c' } }), hashConfigFiles({ a: { contentType: 't', body: 'bc' } }));
  });

  it('merges every matching config, the later name winning a file clash', () => {
    const configs = compileConfigs([
      config('zz-override', 'env=prod', { 'app.conf': { contentType: 'text/plain', body: 'prod' } }),
      config('base', '', { 'app.conf': { contentType: 'text/plain', body: 'base' }, 'common.conf': { contentType: 'text/plain', body: 'c' } }),
      config('arm', 'host.arch=arm64', { 'arm.conf': { contentType: 'text/plain', body: 'arm' } }),
    ]);
    const prod = desiredConfigFor(configs, { env: 'prod', 'host.arch': 'amd64' })!;
    assert.deepEqual(prod.configNames, ['base', 'zz-override']);
    assert.equal(prod.files['app.conf']!.body, 'prod');
    assert.equal(prod.hash, hashConfigFiles(prod.files));
    const dev = desiredConfigFor(configs, { env: 'dev', 'host.arch': 'arm64' })!;
    assert.deepEqual(Object.keys(dev.files).sort(), ['app.conf', 'arm.conf', 'common.conf']);
    assert.equal(dev.files['app.conf']!.body, 'base');
    assert.equal(desiredConfigFor(compileConfigs([config('x', 'env=prod', {})]), { env: 'dev' }), null);
  });

  it('lets operator labels beat token-bound labels, and keeps every report a claim', () => {
    const agent = {
      id: 'agent-1',
      identifyingAttributes: { 'service.name': 'io.corral.agent' },
      nonIdentifyingAttributes: { 'corral.label.env': 'prod', 'corral.label.role': 'web', 'host.arch': 'arm64', tier: 'db' },
      boundLabels: { env: 'staging', zone: 'a' },
      labels: { zone: 'b' },
    };
    assert.deepEqual(trustedLabels(agent), { env: 'staging', zone: 'b' });
    const attrs = selectableAttributes(agent);
    assert.equal(attrs.env, 'staging', 'a reported corral.label.env never sets the trusted env');
    assert.equal(attrs.zone, 'b', 'the operator wins over the token');
    assert.equal(attrs.role, undefined, 'a claimed label is no label');
    assert.equal(attrs.tier, undefined, 'a description attribute is no label');
    assert.equal(attrs['claim.env'], 'prod');
    assert.equal(attrs['claim.role'], 'web');
    assert.equal(attrs['claim.host.arch'], 'arm64');
    assert.equal(attrs['claim.service.name'], 'io.corral.agent');
    assert.equal(desiredConfigFor(compileConfigs([config('p', 'env=prod', {})]), attrs), null);
    assert.notEqual(desiredConfigFor(compileConfigs([config('p', 'claim.env=prod', { 'a.conf': { contentType: 'text/plain', body: 'x' } })]), attrs), null);
  });
});
