/**
 * A download the server keeps queueing (503 + Retry-After) must not hold the
 * agent hostage: a new desired state without it, or the agent stopping,
 * calls it off. Real HTTP; the server never lets the download through.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { DeploymentSpec } from '../../protocol/index.js';
import { eventually } from '../../testkit/eventually.js';
import { ServicesManager } from './services-manager.js';

const sha256 = 'ab'.repeat(32);
const spec: DeploymentSpec = {
  apiVersion: 'corral.io/v1',
  name: 'queued',
  package: 'queued',
  version: '1.0.0',
  desiredState: 'running',
  values: {},
  artifacts: [{ os: 'linux', arch: 'any', sha256, signature: 'cd'.repeat(64), size: 1000, path: `/api/v1/artifacts/${sha256}` }],
};
const publicPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('services manager with a server at its download cap', () => {
  let server: Server;
  let baseUrl = '';
  let refusals = 0;
  const dirs: string[] = [];

  before(async () => {
    server = createServer((_req, res) => {
      refusals++;
      // A long wait: only calling the download off ends it within the test's timeout.
      res.writeHead(503, { 'retry-after': '30', 'content-type': 'application/json' });
      res.end('{"error":{"code":"DOWNLOAD_LIMIT","message":"the server is at its download limit"}}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const manager = () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'corral-svcmgr-'));
    dirs.push(dataDir);
    return new ServicesManager({ dataDir, os: 'linux', arch: 'amd64' }, { log: pino({ level: 'silent' }), target: () => ({ baseUrl, credential: 'corral_agent_x', signingKeyPem: publicPem }) });
  };

  it('reports a queued download as downloading, and drops it without a failure when the deployment goes away', { timeout: 10_000 }, async () => {
    const m = manager();
    refusals = 0;
    const first = m.reconcile([spec]);
    const st = await eventually(() => (refusals > 0 ? m.packageStates().queued : undefined), { what: 'the first refusal' });
    assert.equal(st.status, 'downloading');
    assert.equal(st.downloadPercent, 0);
    await m.reconcile([]);
    await first;
    assert.deepEqual(m.packageStates(), {}, 'nothing left to report, and no failure');
    assert.deepEqual(m.health(), {});
    m.stop();
  });

  it('calls a queued download off when the agent stops', { timeout: 10_000 }, async () => {
    const m = manager();
    refusals = 0;
    const converged = m.reconcile([spec]);
    await eventually(() => refusals > 0, { what: 'the first refusal' });
    m.stop();
    await converged;
    assert.equal(m.packageStates().queued?.status, 'downloading', 'not marked failed: the agent stopped, the download did not fail');
    assert.equal(m.health().queued, undefined);
  });
});
