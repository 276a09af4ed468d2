import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { healthValuesProblem, renderHealthCheck } from './health-values.js';
import { ManifestError, parseManifest } from './package-manifest.js';

const manifest = (health: string) =>
  parseManifest(`apiVersion: corral.io/v1
name: web
version: 1.0.0
run: {command: bin/web}
health: ${health}
`);

describe('health checks filled from deployment values', () => {
  it('renders an http url and a tcp port and host from the values, as config templates do', () => {
    const http = renderHealthCheck(manifest('{type: http, url: "http://127.0.0.1:{{ port }}/{{path}}"}').health, { port: '8125', path: 'healthz' });
    assert.equal(http.type === 'http' && http.url, 'http://127.0.0.1:8125/healthz');
    const tcp = renderHealthCheck(manifest('{type: tcp, port: "{{ port }}", host: "{{ host }}"}').health, { port: '9000', host: '::1' });
    assert.deepEqual(tcp.type === 'tcp' && [tcp.host, tcp.port], ['::1', 9000]);
    const fixed = renderHealthCheck(manifest('{type: tcp, port: 7000}').health, {});
    assert.equal(fixed.type === 'tcp' && fixed.port, 7000);
  });

  it('names the field and the missing value', () => {
    assert.equal(healthValuesProblem(manifest('{type: http, url: "http://127.0.0.1:{{ port }}/healthz"}').health, {}), 'health.url: no value for {{ port }} (set it with --set port=...)');
    assert.equal(healthValuesProblem(manifest('{type: tcp, port: "{{ port }}"}').health, { other: '1' }), 'health.port: no value for {{ port }} (set it with --set port=...)');
    assert.equal(healthValuesProblem(manifest('{type: tcp, port: "{{ port }}"}').health, { port: '8125' }), null);
  });

  it('refuses a value that does not make a port or a URL', () => {
    assert.equal(healthValuesProblem(manifest('{type: tcp, port: "{{ port }}"}').health, { port: 'http' }), 'health.port: "http" (from {{ port }}) is not a port number 1-65535');
    assert.equal(healthValuesProblem(manifest('{type: tcp, port: "{{ port }}"}').health, { port: '70000' }), 'health.port: "70000" (from {{ port }}) is not a port number 1-65535');
    assert.match(healthValuesProblem(manifest('{type: http, url: "{{ base }}/healthz"}').health, { base: 'ftp://x' }) ?? '', /^health\.url: "ftp:\/\/x\/healthz" \(from \{\{ base \}\}\/healthz\) is not an http:\/\/ or https:\/\/ URL$/);
  });

  it('refuses at parse time a port that is neither a number nor a placeholder, and a url that is no URL', () => {
    assert.throws(() => manifest('{type: tcp, port: "eighty"}'), (e: unknown) => e instanceof ManifestError && /health\.port: must be a port number 1-65535 or a value placeholder/.test(e.message));
    assert.throws(() => manifest('{type: tcp, port: "80"}'), (e: unknown) => e instanceof ManifestError && /health\.port/.test(e.message));
    assert.throws(() => manifest('{type: http, url: "not a url {{ port }}"}'), (e: unknown) => e instanceof ManifestError && /health\.url: must be an http:\/\/ or https:\/\/ URL/.test(e.message));
  });
});
