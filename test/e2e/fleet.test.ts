/**
 * The foundation end to end: a real server process and real agent processes
 * (separate data dirs), driven through the REST API and the real CLI, on
 * SQLite and on PostgreSQL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet, type AgentSummaryJson, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';

const backends = ['sqlite', 'postgres'] as const;

for (const backend of backends) {
  describe(`fleet on ${backend}`, { concurrency: false }, () => {
    let fleet: Fleet;
    let schema: TestSchema | null = null;
    let web: TestAgent;
    let api: TestAgent;
    let dev: TestAgent;
    let skipped = '';

    before(async () => {
      if (backend === 'postgres') {
        const pg = await postgresForTest();
        if ('skip' in pg) {
          skipped = pg.skip;
          return;
        }
        schema = pg.schema;
      }
      fleet = await Fleet.start({ database: schema?.url });
      web = await fleet.startAgent({ name: 'web-1', labels: { env: 'prod', role: 'web' } });
      api = await fleet.startAgent({ name: 'api-1', labels: { env: 'prod', role: 'api' } });
      dev = await fleet.startAgent({ name: 'dev-1', labels: { env: 'dev', role: 'web' } });
    });

    after(async () => {
      await fleet?.close();
      await schema?.drop();
    });

    it('enrolls agents, which then connect with their own credential', async (t) => {
      if (skipped) return t.skip(skipped);
      for (const a of [web, api, dev]) {
        const seen = await fleet.awaitAgent(a, (x) => x.status === 'online' && x.kind === 'corral');
        assert.equal(seen.name, a.name);
        assert.equal(seen.os, process.platform);
        assert.ok(seen.agentVersion.length > 0);
        assert.equal(seen.health?.healthy, true);
        await eventually(async () => {
          const identity = JSON.parse(await readFile(join(a.dataDir, 'identity.json'), 'utf8')) as { credential: string | null };
          return identity.credential?.startsWith('corral_agent_');
        }, { what: `${a.name} credential persisted` });
        assert.equal((await stat(join(a.dataDir, 'identity.json'))).mode & 0o777, 0o600);
      }
      // Events are written in small batches: wait for them.
      await eventually(async () => {
        const enrolled = await fleet.api<{ events: { type: string }[] }>('GET', '/api/v1/events?type=agent.enrolled');
        return enrolled.body.events.length >= 3;
      }, { what: 'three agent.enrolled events' });
    });

    it('lists agents by selector over labels and description attributes', async (t) => {
      if (skipped) return t.skip(skipped);
      const names = async (s: string) => (await fleet.listAgents(s)).map((a) => a.name).sort();
      assert.deepEqual(await names('env=prod'), ['api-1', 'web-1']);
      assert.deepEqual(await names('env=prod,role in (web,db)'), ['web-1']);
      assert.deepEqual(await names('role=web,!canary'), ['dev-1', 'web-1']);
      assert.deepEqual(await names(`os.type=${process.platform},env!=prod`), ['dev-1']);
      assert.deepEqual(await names('service.name=io.corral.agent,role notin (web)'), ['api-1']);

      const cli = await fleet.cli('agents', '-s', 'env=prod', '-o', 'json');
      assert.equal(cli.code, 0, cli.stderr);
      // The API's own shape, as GET /api/v1/agents answers it.
      const listed = JSON.parse(cli.stdout) as { agents: AgentSummaryJson[] };
      assert.ok(!Array.isArray(listed) && Array.isArray(listed.agents), `the API's object with an agents list: ${cli.stdout.slice(0, 200)}`);
      assert.deepEqual(listed.agents.map((a) => a.name).sort(), ['api-1', 'web-1']);
      const table = await fleet.cli('agents', '-s', 'role=web');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /web-1/);
      assert.doesNotMatch(table.stdout, /api-1/);
    });

    it('lets operator labels win over the agent\'s own and drive selectors', async (t) => {
      if (skipped) return t.skip(skipped);
      const id = await dev.instanceUid();
      const res = await fleet.cli('label', id.slice(-12), 'env=prod', 'canary=true');
      assert.equal(res.code, 0, res.stderr);
      const names = async (s: string) => (await fleet.listAgents(s)).map((a) => a.name).sort();
      assert.deepEqual(await names('env=prod'), ['api-1', 'dev-1', 'web-1']);
      assert.deepEqual(await names('env=prod,!canary'), ['api-1', 'web-1']);
      const show = await fleet.cli('agent', 'show', id.slice(0, 20));
      assert.equal(show.code, 0, show.stderr);
      assert.match(show.stdout, /labels:\s+.*canary=true/);
      const removed = await fleet.cli('label', id, 'env-', 'canary-');
      assert.equal(removed.code, 0, removed.stderr);
      assert.deepEqual(await names('env=prod'), ['api-1', 'web-1']);
    });

    it('offers remote config to matching agents and shows APPLIED, then FAILED with the agent\'s error', async (t) => {
      if (skipped) return t.skip(skipped);
      const put = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/logging', {
        selector: 'env=prod',
        files: { 'logging.json': { contentType: 'application/json', body: '{"level":"debug"}' } },
      });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const hash = put.body.hash;
      for (const a of [web, api]) {
        await fleet.awaitAgent(a, (x) => x.config.status === 'APPLIED' && x.config.reportedHash === hash);
        assert.equal(await readFile(join(a.dataDir, 'config', 'logging.json'), 'utf8'), '{"level":"debug"}');
      }
      const devView = await fleet.awaitAgent(dev, () => true);
      assert.equal(devView.config.status, 'NONE');

      // Same content again: the hash must not change.
      const again = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/logging', {
        selector: 'env=prod',
        files: { 'logging.json': { contentType: 'application/json', body: '{"level":"debug"}' } },
      });
      assert.equal(again.body.hash, hash);

      const bad = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/logging', {
        selector: 'env=prod',
        files: { 'logging.json': { contentType: 'application/json', body: '{"level":' } },
      });
      assert.notEqual(bad.body.hash, hash);
      const failed = await fleet.awaitAgent(web, (x) => x.config.status === 'FAILED');
      assert.match(failed.config.errorMessage, /logging\.json/);
      // The previous file stays in place.
      assert.equal(await readFile(join(web.dataDir, 'config', 'logging.json'), 'utf8'), '{"level":"debug"}');

      const status = await fleet.cli('config', 'status', 'logging', '-o', 'json');
      assert.equal(status.code, 0, status.stderr);
      const parsed = JSON.parse(status.stdout) as { agents: { name: string; status: string }[] };
      assert.deepEqual(parsed.agents.map((a) => a.status), ['FAILED', 'FAILED']);
    });

    it('marks a killed agent offline after missed heartbeats, and online again when it returns', async (t) => {
      if (skipped) return t.skip(skipped);
      await api.process.signal('SIGKILL');
      const gone = await fleet.awaitAgent(api, (x) => x.status === 'offline');
      assert.equal(gone.name, 'api-1');
      await api.restart();
      await fleet.awaitAgent(api, (x) => x.status === 'online');
      // Events are written in small batches: the online event may land a moment after the status.
      let types: string[] = [];
      await eventually(async () => {
        const events = await fleet.api<{ events: { type: string; data: { reason?: string } }[] }>('GET', `/api/v1/events?agent=${await api.instanceUid()}`);
        types = events.body.events.map((e) => e.type);
        return types.includes('agent.offline') && types.lastIndexOf('agent.online') > types.indexOf('agent.offline');
      }, { what: 'agent.offline, then agent.online' }).catch(() => undefined);
      assert.ok(types.includes('agent.offline'), types.join());
      assert.ok(types.lastIndexOf('agent.online') > types.indexOf('agent.offline'), types.join());
    });

    it('keeps agents through a server restart: they reconnect by themselves', async (t) => {
      if (skipped) return t.skip(skipped);
      // A clean stop (SIGTERM) exits 0; then a crash, with an agent booting while no server is up.
      await fleet.stopServer();
      assert.equal(fleet.server.exitCode, 0, fleet.server.stderr);
      await fleet.restartServer();
      await fleet.stopServer({ crash: true });
      const early = await fleet.startAgent({ name: 'early-1', labels: { env: 'dev' } });
      await eventually(() => /connection failed|ECONNREFUSED/.test(early.process.stderr), { what: 'early-1 retrying while the server is down' });
      await fleet.restartServer();
      // Agents retry with capped exponential backoff (30 s at most), so allow for one full wait.
      for (const a of [web, api, dev, early]) await fleet.awaitAgent(a, (x) => x.status === 'online', 45_000);
      // Config offered before the restart is still reported with the same hash.
      const view = await fleet.awaitAgent(web, (x) => x.config.status === 'FAILED');
      assert.ok(view.config.reportedHash);
      const good = await fleet.api('PUT', '/api/v1/configs/logging', {
        selector: 'env=prod',
        files: { 'logging.json': { contentType: 'application/json', body: '{"level":"info"}' } },
      });
      assert.equal(good.status, 200);
      await fleet.awaitAgent(web, (x) => x.config.status === 'APPLIED');
    });

    it('stops new enrollments when the enrollment token is revoked, but keeps enrolled agents', async (t) => {
      if (skipped) return t.skip(skipped);
      const created = await fleet.cli('token', 'create', '--name', 'batch-2', '-o', 'json');
      assert.equal(created.code, 0, created.stderr);
      const token = JSON.parse(created.stdout) as { id: string; token: string };
      const late = await fleet.startAgent({ name: 'late-1', token: token.token });
      await fleet.awaitAgent(late, (x) => x.status === 'online');
      const revoked = await fleet.cli('token', 'revoke', token.id);
      assert.equal(revoked.code, 0, revoked.stderr);

      await late.restart();
      await fleet.awaitAgent(late, (x) => x.status === 'online');
      const refused = await fleet.startAgent({ name: 'late-2', token: token.token });
      await eventually(() => /401|revoked|refused/i.test(refused.process.stderr), { what: 'late-2 refused' });
      assert.equal((await fleet.listAgents()).some((a) => a.name === 'late-2'), false);
    });

    it('revokes an agent: disconnected at once and refused from then on', async (t) => {
      if (skipped) return t.skip(skipped);
      const id = await dev.instanceUid();
      const res = await fleet.cli('revoke', id);
      assert.equal(res.code, 0, res.stderr);
      await fleet.awaitAgent(dev, (x) => x.status === 'revoked');
      await eventually(() => /401|revoked|refused/i.test(dev.process.stderr), { what: 'dev-1 refused after revocation' });
      const after = await fleet.awaitAgent(dev, () => true);
      assert.equal(after.status, 'revoked');
      const unknown = await fleet.cli('agent', 'show', '00000000-0000-7000-8000-000000000000');
      assert.notEqual(unknown.code, 0);
      assert.match(unknown.stderr, /not found/i);
    });
  });
}
