import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../../testkit/test-tls.js';
import { INITIAL_CHECK_STATE, nextCheckState, probe } from './health-check.js';

const thresholds = { healthyThreshold: 2, unhealthyThreshold: 3 };
const base = { intervalSeconds: 1, timeoutSeconds: 1, ...thresholds };

describe('health checks', () => {
  let server: Server;
  let port = 0;
  let status = 200;
  before(async () => {
    server = createServer((_req, res) => {
      res.writeHead(status);
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => server.close());

  it('needs the thresholds in a row to change its mind', () => {
    let s = INITIAL_CHECK_STATE;
    s = nextCheckState(s, { ok: true }, thresholds);
    assert.equal(s.healthy, null);
    s = nextCheckState(s, { ok: true }, thresholds);
    assert.equal(s.healthy, true);
    s = nextCheckState(s, { ok: false, error: 'e1' }, thresholds);
    s = nextCheckState(s, { ok: false, error: 'e2' }, thresholds);
    assert.equal(s.healthy, true, 'two failures are not yet three');
    s = nextCheckState(s, { ok: true }, thresholds);
    s = nextCheckState(s, { ok: false, error: 'e3' }, thresholds);
    assert.equal(s.failures, 1, 'a success resets the failure count');
    s = nextCheckState(nextCheckState(s, { ok: false, error: 'e4' }, thresholds), { ok: false, error: 'e5' }, thresholds);
    assert.equal(s.healthy, false);
    assert.equal(s.lastError, 'e5');
  });

  it('probes HTTP by status, TCP by connect, commands by exit code', async () => {
    const opts = { cwd: '/', env: { PATH: process.env.PATH ?? '/bin' } };
    assert.deepEqual(await probe({ type: 'http', url: `http://127.0.0.1:${port}/healthz`, ...base }, opts), { ok: true });
    status = 503;
    const bad = await probe({ type: 'http', url: `http://127.0.0.1:${port}/healthz`, ...base }, opts);
    assert.equal(bad.ok, false);
    assert.match(bad.error!, /503/);
    assert.deepEqual(await probe({ type: 'tcp', host: '127.0.0.1', port, ...base }, opts), { ok: true });
    server.close();
    const closed = await probe({ type: 'tcp', host: '127.0.0.1', port, ...base }, opts);
    assert.match(closed.error!, /ECONNREFUSED/);
    assert.deepEqual(await probe({ type: 'command', command: 'true', args: [], ...base }, opts), { ok: true });
    const failing = await probe({ type: 'command', command: 'sh', args: ['-c', 'echo nope >&2; exit 4'], ...base }, opts);
    assert.match(failing.error!, /exit 4: nope/);
  });

  it('counts a redirect as up without following it, and a hung or TLS-failing endpoint as down', async () => {
    const opts = { cwd: '/', env: {} };
    const paths: string[] = [];
    const web = createServer((req, res) => {
      paths.push(req.url ?? '');
      if (req.url === '/moved') {
        res.writeHead(301, { location: '/gone' });
        res.end();
      }
      // Anything else hangs: the probe's timeout must end it.
    });
    const tls = createHttpsServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, (_req, res) => res.end());
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    const webUrl = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
    try {
      assert.deepEqual(await probe({ type: 'http', url: `${webUrl}/moved`, ...base }, opts), { ok: true });
      assert.deepEqual(paths, ['/moved'], 'the redirect is not followed');
      const hung = await probe({ type: 'http', url: `${webUrl}/hang`, ...base }, opts);
      assert.deepEqual(hung, { ok: false, error: `GET ${webUrl}/hang failed: timed out after 1000 ms` });
      // TLS is spoken and the certificate checked: a self-signed one is a failure, as with any https client.
      const untrusted = await probe({ type: 'http', url: `https://127.0.0.1:${(tls.address() as AddressInfo).port}/`, ...base }, opts);
      assert.equal(untrusted.ok, false);
      assert.match(untrusted.error!, /SELF_SIGNED/);
    } finally {
      web.closeAllConnections();
      web.close();
      tls.close();
    }
  });
});
