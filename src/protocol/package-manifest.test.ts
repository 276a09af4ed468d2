import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ManifestError, parseAnyManifest, parseManifest } from './package-manifest.js';

const minimal = `apiVersion: corral.io/v1
name: hello
version: 1.0.0
run:
  command: bin/hello
`;

describe('package manifest', () => {
  it('fills sensible defaults around the few required fields', () => {
    const m = parseManifest(minimal);
    assert.equal(m.name, 'hello');
    assert.deepEqual(m.platforms, [{ os: 'linux', arch: 'any' }]);
    assert.equal(m.restart.policy, 'always');
    assert.equal(m.stop.signal, 'SIGTERM');
    assert.equal(m.health.type, 'process');
    assert.equal(m.config.onChange, 'restart');
  });

  it('reads a full manifest with an http health check and hooks', () => {
    const m = parseManifest(`${minimal}platforms: [{os: linux, arch: arm64}]
restart: {policy: on-failure, maxDelayMs: 5000}
health: {type: http, url: "http://127.0.0.1:8080/healthz", intervalSeconds: 2}
config: {files: [{path: app.conf, template: templates/app.conf}], onChange: reload}
hooks: {postInstall: {command: bin/setup, timeoutSeconds: 30}}
`);
    assert.equal(m.health.type, 'http');
    assert.equal(m.health.intervalSeconds, 2);
    assert.equal(m.restart.maxDelayMs, 5000);
    assert.equal(m.hooks.postInstall?.command, 'bin/setup');
  });

  for (const [what, text, field] of [
    ['an unknown key', `${minimal}surprise: 1\n`, 'surprise'],
    ['an unknown nested key', minimal.replace('command: bin/hello', 'command: bin/hello\n  shell: true'), 'run'],
    ['a wrong apiVersion', minimal.replace('corral.io/v1', 'corral.io/v9'), 'apiVersion'],
    ['a bad name', minimal.replace('name: hello', 'name: Hello World'), 'name'],
    ['a template path escaping the package', `${minimal}config: {files: [{path: a, template: ../../etc/passwd}]}\n`, 'config.files.0.template'],
    ['an absolute working dir', minimal.replace('command: bin/hello', 'command: bin/hello\n  workingDir: /etc'), 'run.workingDir'],
    ['a missing run section', 'apiVersion: corral.io/v1\nname: x\nversion: "1"\n', 'run'],
  ] as const) {
    it(`rejects ${what}, naming the field`, () => {
      assert.throws(() => parseManifest(text), (e: unknown) => e instanceof ManifestError && e.message.includes(field));
    });
  }

  it('reports YAML syntax errors as manifest errors', () => {
    assert.throws(() => parseManifest('name: [unclosed'), (e: unknown) => e instanceof ManifestError && /not valid YAML/.test(e.message));
  });

  describe('kind: agent', () => {
    const agent = `apiVersion: corral.io/v1
kind: agent
name: corral-agent
version: 9.9.9
platforms: [{os: linux, arch: amd64}]
agent: {entry: dist/bin/corral.js}
`;

    it('reads an agent package: an entry point and no run section', () => {
      const m = parseAnyManifest(agent);
      assert.equal(m.kind, 'agent');
      assert.equal(m.kind === 'agent' && m.agent.entry, 'dist/bin/corral.js');
    });

    it('defaults kind to service', () => {
      assert.equal(parseAnyManifest(minimal).kind, 'service');
      assert.equal(parseManifest(minimal).kind, 'service');
    });

    for (const [what, text, field] of [
      ['a run section', `${agent}run: {command: bin/x}\n`, 'run'],
      ['a missing entry', agent.replace('agent: {entry: dist/bin/corral.js}', 'agent: {}'), 'agent.entry'],
      ['an entry escaping the package', agent.replace('dist/bin/corral.js', '../corral.js'), 'agent.entry'],
      ['an unknown kind', agent.replace('kind: agent', 'kind: daemon'), 'kind'],
      ['an agent section in a service package', `${minimal}agent: {entry: x.js}\n`, 'agent'],
    ] as const) {
      it(`rejects ${what}, naming the field`, () => {
        assert.throws(() => parseAnyManifest(text), (e: unknown) => e instanceof ManifestError && e.message.includes(field));
      });
    }

    it('refuses to read an agent package as a service', () => {
      assert.throws(() => parseManifest(agent), (e: unknown) => e instanceof ManifestError && /cannot run as a service/.test(e.message));
    });
  });
});
