/**
 * A service whose port comes from `--set` is health-checked over HTTP with
 * the same value (`url: http://127.0.0.1:{{ port }}/healthz`), no shell
 * command needed; a deploy that lacks the value is refused before any agent
 * sees it, naming the field and the value. Real server, agent, CLI, package
 * and HTTP service.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, IMMEDIATE_ROLLOUTS, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid } from '../../src/testkit/process-alive.js';

// Serves /healthz on the port written into its rendered config file; answers 503 elsewhere.
const SERVER = `const port = Number(require('fs').readFileSync('port.conf', 'utf8'));
require('http').createServer((q, s) => { s.statusCode = q.url === '/healthz' ? 200 : 503; s.end(); }).listen(port, '127.0.0.1');`;

const MANIFEST = `apiVersion: corral.io/v1
name: web
version: 1.0.0
run: {command: node, args: [server.js]}
health: {type: http, url: "http://127.0.0.1:{{ port }}/healthz", intervalSeconds: 0.2, timeoutSeconds: 1}
config:
  files: [{path: port.conf, template: templates/port.conf}]
`;

/** A port free right now on loopback. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('health checks filled from deployment values', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let agent: TestAgent;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-health-values-'));
    fleet = await Fleet.start({ rolloutDefaults: IMMEDIATE_ROLLOUTS });
    agent = await fleet.startAgent({ name: 'w1', labels: { role: 'web' } });
    await fleet.awaitAgent(agent, (x) => x.status === 'online');
    const dir = join(work, 'web');
    await mkdir(join(dir, 'templates'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), MANIFEST);
    await writeFile(join(dir, 'server.js'), SERVER);
    await writeFile(join(dir, 'templates', 'port.conf'), '{{ port }}');
    const out = join(work, 'web-1.0.0.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
  });
  after(async () => {
    await fleet?.cli('undeploy', 'web').catch(() => undefined);
    if (agent) await eventually(() => servicePid(agent.dataDir, 'web') === null, { timeoutMs: 10_000 }).catch(() => undefined);
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('refuses a deploy without the value the health check needs, naming the field and the value', async () => {
    const res = await fleet.cli('deploy', 'web', '--package', 'web@1.0.0', '-s', 'role=web');
    assert.equal(res.code, 1);
    assert.match(res.stderr, /web@1\.0\.0: health\.url: no value for \{\{ port \}\} \(set it with --set port=\.\.\.\)/);
    assert.equal((await fleet.api('GET', '/api/v1/deployments/web')).status, 404, 'nothing was deployed');
  });

  it('checks the service on the port given with --set, and follows a new value', async () => {
    for (const round of [1, 2]) {
      const port = await freePort();
      const res = await fleet.cli('deploy', 'web', '--package', 'web@1.0.0', '-s', 'role=web', '--set', `port=${port}`, '-o', 'json');
      assert.equal(res.code, 0, res.stderr);
      const { rollout } = JSON.parse(res.stdout) as { rollout: string };
      // The rollout counts the agent healthy only when it reports the new revision in effect and its check passing:
      // after the restart the old port has nothing listening, so only a check of the new port gets there.
      const done = await eventually(async () => {
        const s = (await fleet.api<{ state: string; reason: string; agents: { state: string; reason: string }[] }>('GET', `/api/v1/rollouts/${rollout}?agents=true`)).body;
        return s.state === 'succeeded' || s.state === 'paused' ? s : undefined;
      }, { timeoutMs: 30_000, what: `the rollout to port ${port} (round ${round}) to finish` });
      assert.equal(done.state, 'succeeded', JSON.stringify(done));
      assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200);
    }
  });
});
