import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
});
