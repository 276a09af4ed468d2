import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCli, type CliIo } from '../index.js';
import type { ApiRolloutStatus } from './rollout-status-view.js';

const zero = { pending: 0, updating: 0, healthy: 0, failed: 0, offline: 0 };
const status = (over: Partial<ApiRolloutStatus> & Record<string, unknown>): ApiRolloutStatus & Record<string, unknown> => ({
  id: '3f2a9c10-0000-4000-8000-000000000001',
  deployment: 'web',
  kind: 'rollout',
  state: 'running',
  reason: '',
  from: { revision: 1, version: '1.0.0' },
  to: { revision: 2, version: '1.1.0' },
  stage: { index: 1, name: 'batch 1/1' },
  stages: [{ index: 1, name: 'batch 1/1', counts: { ...zero, updating: 2 }, total: 2 }],
  totals: { ...zero, updating: 2, total: 2 },
  errorBudget: { budget: 0, failed: 0, left: 0 },
  ...over,
});

describe('rollout status -w without a terminal', () => {
  let server: Server;
  let url = '';
  // What the watch stream sends: lease renewals change the JSON every tick, the line they print does not.
  const events = [
    status({ updatedAt: 't1', drivenBy: { owner: 'h:1:a', leaseUntil: 't11' } }),
    status({ updatedAt: 't2', drivenBy: { owner: 'h:1:a', leaseUntil: 't12' } }),
    status({ updatedAt: 't3', drivenBy: { owner: 'h:1:a', leaseUntil: 't13' } }),
    status({ updatedAt: 't4', totals: { ...zero, updating: 1, healthy: 1, total: 2 } }),
    status({ updatedAt: 't5', totals: { ...zero, updating: 1, healthy: 1, total: 2 }, drivenBy: { owner: 'h:1:a', leaseUntil: 't15' } }),
    status({ updatedAt: 't6', state: 'succeeded', totals: { ...zero, healthy: 2, total: 2 } }),
  ];

  before(async () => {
    server = createServer((req, res) => {
      if (req.url?.endsWith('/watch')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const e of events) res.write(`event: status\ndata: ${JSON.stringify(e)}\n\n`);
        res.end(`event: done\ndata: ${JSON.stringify(events.at(-1))}\n\n`);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(events[0]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('prints a line only when what the line says changed', async () => {
    let out = '';
    const io: CliIo & { stdoutIsTty: boolean } = {
      stdout: { write: (s: string) => (out += s) },
      stderr: { write: () => true },
      env: { CORRAL_SERVER: url, CORRAL_TOKEN: 't' },
      configDir: '/nonexistent',
      stdoutIsTty: false,
    };
    assert.equal(await runCli(['rollout', 'status', 'web', '-w'], io), 0);
    const lines = out.trimEnd().split('\n').map((l) => l.replace(/^\S+ /, ''));
    assert.deepEqual(lines, [
      'rollout to r2 (1.1.0) running, batch 1/1: 0 healthy, 2 updating, 0 failed, 0 offline, 0 pending',
      'rollout to r2 (1.1.0) running, batch 1/1: 1 healthy, 1 updating, 0 failed, 0 offline, 0 pending',
      'rollout to r2 (1.1.0) succeeded, batch 1/1: 2 healthy, 0 updating, 0 failed, 0 offline, 0 pending',
    ]);
  });
});
