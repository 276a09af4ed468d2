/**
 * The audit log end to end, on SQLite and PostgreSQL: a real server, a real
 * agent and the real CLI. Each kind of write shows in `corral audit` with the
 * user, target and outcome; refused and invalid requests too; anonymous
 * requests do not; secrets never reach the audit table; a row altered or
 * deleted in the database makes `corral audit verify` fail naming it; two
 * replicas on one PostgreSQL append to one unbroken chain.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import pg from 'pg';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';

interface Rec {
  id: number;
  actor: { name: string; userId: string; tokenId: string };
  source: string;
  action: string;
  summary: Record<string, unknown>;
  target: Record<string, unknown>;
  outcome: { status: number; result: string; message: string };
  hash: string;
}

const CONFIG_SECRET = 'CONFIG-BODY-do-not-log-5b1f';
const VALUE_SECRET = 'DEPLOY-VALUE-do-not-log-77c2';
const SECRET_VALUE = 'SECRET-VALUE-do-not-log-0e9a';

const MANIFEST = `apiVersion: corral.io/v1
name: audited
version: 1.0.0
platforms: [{os: linux, arch: amd64}, {os: linux, arch: arm64}]
run:
  command: bin/run.sh
`;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`audit log on ${backend}`, { concurrency: false }, () => {
    let fleet: Fleet;
    let schema: TestSchema | null = null;
    let skipped = '';
    let agent: TestAgent;
    let agentId = '';
    let work = '';

    /** Every audit row as stored, as text (what an attacker or a backup would see). */
    async function rawRows(): Promise<string> {
      if (schema) {
        const c = new pg.Client({ connectionString: schema.url });
        await c.connect();
        try {
          return JSON.stringify((await c.query('select * from audit_log order by id')).rows);
        } finally {
          await c.end();
        }
      }
      const db = new SqliteDatabase(join(fleet.root, 'server', 'corral.db'), { readonly: true });
      try {
        return JSON.stringify(db.prepare('select * from audit_log order by id').all());
      } finally {
        db.close();
      }
    }

    /** SQL straight to the database, as an attacker with write access. */
    async function tamper(statement: string): Promise<void> {
      if (schema) {
        const c = new pg.Client({ connectionString: schema.url });
        await c.connect();
        try {
          await c.query(statement);
        } finally {
          await c.end();
        }
        return;
      }
      const db = new SqliteDatabase(join(fleet.root, 'server', 'corral.db'));
      try {
        db.pragma('busy_timeout = 5000');
        db.exec(statement);
      } finally {
        db.close();
      }
    }

    async function records(...args: string[]): Promise<Rec[]> {
      const res = await fleet.cli('audit', '-o', 'json', '--limit', '1000', ...args);
      assert.equal(res.code, 0, res.stderr);
      return (JSON.parse(res.stdout) as { records: Rec[] }).records;
    }

    async function lastRecord(action: string): Promise<Rec> {
      const found = (await records('--action', action)).at(-1);
      assert.ok(found, `an audit record for ${action}`);
      return found;
    }

    before(async () => {
      if (backend === 'postgres') {
        const p = await postgresForTest();
        if ('skip' in p) {
          skipped = p.skip;
          return;
        }
        schema = p.schema;
      }
      fleet = await Fleet.start({ database: schema?.url });
      work = await mkdtemp(join(tmpdir(), 'corral-audit-'));
      agent = await fleet.startAgent({ name: 'stage-1', labels: { env: 'staging' } });
      agentId = (await fleet.awaitAgent(agent, (a) => a.status === 'online')).id;
    });

    after(async () => {
      await fleet?.close();
      await schema?.drop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('records each kind of write with the user, the target and the outcome, and secrets never', async (t) => {
      if (skipped) return t.skip(skipped);
      // Config: names, sizes and hashes, never the contents.
      const put = await fleet.api('PUT', '/api/v1/configs/app', { selector: 'env=staging', files: { 'app.yaml': { body: `password: ${CONFIG_SECRET}\n` } } });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      const config = await lastRecord('PUT /api/v1/configs/{name}');
      assert.equal(config.actor.name, 'admin');
      assert.ok(config.actor.tokenId, 'the token the request came with');
      assert.equal(config.source, '127.0.0.1');
      assert.deepEqual(config.target, { config: 'app', selector: 'env=staging' });
      assert.deepEqual(config.outcome, { status: 200, result: 'ok', message: '' });
      const file = (config.summary.files as Record<string, { size: number; sha256: string }>)['app.yaml']!;
      assert.equal(file.size, `password: ${CONFIG_SECRET}\n`.length);
      assert.match(file.sha256, /^[0-9a-f]{64}$/);

      // Labels on an agent.
      assert.equal((await fleet.cli('label', agentId, 'tier=web')).code, 0);
      const label = await lastRecord('PATCH /api/v1/agents/{id}');
      assert.deepEqual(label.target, { agentIds: [agentId], agentCount: 1 });
      assert.deepEqual(label.summary.labels, { tier: 'web' });

      // Exec: the command and the agents it ran on.
      const exec = await fleet.cli('exec', '-s', 'env=staging', '--', 'echo', 'audited');
      assert.equal(exec.code, 0, exec.stderr);
      const job = await lastRecord('POST /api/v1/jobs');
      assert.deepEqual(job.summary.command, ['echo', 'audited']);
      assert.equal(job.target.selector, 'env=staging');
      assert.deepEqual(job.target.agentIds, [agentId]);
      assert.match(String(job.target.job), /^[0-9a-f-]{36}$/);

      // Package push: name, version and sha256 from the result.
      const dir = join(work, 'pkg');
      await mkdir(join(dir, 'bin'), { recursive: true });
      await writeFile(join(dir, 'corral.yaml'), MANIFEST);
      await writeFile(join(dir, 'bin', 'run.sh'), '#!/bin/sh\nsleep 1000\n', { mode: 0o755 });
      const tgz = join(work, 'audited-1.0.0.tar.gz');
      assert.equal((await fleet.cli('package', 'build', dir, '--out', tgz)).code, 0);
      assert.equal((await fleet.cli('package', 'push', tgz)).code, 0);
      const pushed = await lastRecord('POST /api/v1/packages');
      assert.deepEqual(pushed.target, { package: 'audited', version: '1.0.0' });
      assert.match(String((pushed.summary.artifacts as { sha256: string }[])[0]!.sha256), /^[0-9a-f]{64}$/);

      // Deployment: package, version, selector, state and value keys, never values.
      const dep = await fleet.api('POST', '/api/v1/deployments', { name: 'audited', package: 'audited', version: '1.0.0', selector: 'env=nowhere', values: { password: VALUE_SECRET } });
      assert.equal(dep.status, 200, JSON.stringify(dep.body));
      const deployed = await lastRecord('POST /api/v1/deployments');
      assert.deepEqual(deployed.target, { deployment: 'audited', selector: 'env=nowhere' });
      assert.deepEqual(deployed.summary.valueKeys, ['password']);
      assert.equal(deployed.summary.desiredState, 'running');
      assert.equal((await fleet.cli('stop', 'audited')).code, 0);
      assert.deepEqual((await lastRecord('POST /api/v1/deployments/{name}/stop')).target, { deployment: 'audited' });

      // An enrollment token: its id, never its secret.
      const token = await fleet.api<{ id: string; token: string }>('POST', '/api/v1/enrollment-tokens', { name: 'audit-test', labels: { env: 'staging' } });
      assert.equal(token.status, 201);
      const minted = await lastRecord('POST /api/v1/enrollment-tokens');
      assert.equal(minted.target.enrollmentToken, token.body.id);

      // Invalid requests are recorded with their error; a body marked secret is not, even when refused.
      const bad = await fleet.api('PUT', '/api/v1/configs/app', { selector: 'env in (', files: { 'a.yaml': { body: 'x' } } });
      assert.equal(bad.status, 400);
      const invalid = await lastRecord('PUT /api/v1/configs/{name}');
      assert.equal(invalid.outcome.result, 'error');
      assert.equal(invalid.outcome.status, 400);
      assert.ok(invalid.outcome.message.length > 0);
      const withSecret = await fleet.api('POST', '/api/v1/deployments', { name: 'audited', package: 'audited', version: '1.0.0', selector: 'env=nowhere', secretValues: { apiKey: SECRET_VALUE }, bogus: 1 });
      assert.equal(withSecret.status, 400);
      assert.equal((await lastRecord('POST /api/v1/deployments')).outcome.status, 400);

      // Nothing secret in any stored row.
      const rows = await rawRows();
      for (const secret of [CONFIG_SECRET, VALUE_SECRET, SECRET_VALUE, token.body.token, fleet.adminToken]) assert.ok(!rows.includes(secret), `the audit table must not hold ${secret.slice(0, 12)}…`);
    });

    it('does not record requests without a valid token', async (t) => {
      if (skipped) return t.skip(skipped);
      const before = (await records()).length;
      const res = await fleet.api('PUT', '/api/v1/configs/anon', { selector: '', files: { 'a.yaml': { body: 'x' } } }, 'not-a-token');
      assert.equal(res.status, 401);
      assert.equal((await records()).length, before);
      assert.ok(!(await rawRows()).includes('anon'));
    });

    it('filters by user and time, exports JSON lines, and follows new records', async (t) => {
      if (skipped) return t.skip(skipped);
      const all = await records();
      assert.ok(all.length >= 9, `records so far: ${all.length}`);
      assert.deepEqual(await records('--user', 'someone-else'), []);
      assert.equal((await records('--user', 'admin', '--since', '1h')).length, all.length);
      assert.deepEqual(await records('--until', '2000-01-01T00:00:00Z'), []);
      const table = await fleet.cli('audit', '--limit', '5');
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^ID\s+TIME\s+USER\s+ACTION\s+TARGET\s+OUTCOME/);

      const file = join(work, 'audit.jsonl');
      const exported = await fleet.cli('audit', 'export', '--file', file);
      assert.equal(exported.code, 0, exported.stderr);
      const lines = (await readFile(file, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as Rec);
      assert.deepEqual(lines.map((r) => r.id), all.map((r) => r.id));
      const stdout = await fleet.cli('audit', 'export', '--user', 'admin');
      assert.equal(stdout.stdout.trim().split('\n').length, all.length);

      const follow = fleet.cliProcess('audit', '-f', '-o', 'json', '--limit', '1');
      try {
        await follow.waitForOutput(/"id":/);
        assert.equal((await fleet.api('DELETE', '/api/v1/configs/app')).status, 200);
        await follow.waitForOutput(/"action":"DELETE \/api\/v1\/configs\/\{name\}"/);
      } finally {
        await follow.stop();
      }
    });

    it('verify passes on an intact log, and names a record altered or deleted in the database', async (t) => {
      if (skipped) return t.skip(skipped);
      const ok = await fleet.cli('audit', 'verify');
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /audit log intact: \d+ records/);
      const head = /head: record (\d+) hash ([0-9a-f]{64})/.exec(ok.stdout);
      assert.ok(head, ok.stdout);
      assert.equal((await fleet.cli('audit', 'verify', '--expect-head', head[2]!)).code, 0);
      const unknown = await fleet.cli('audit', 'verify', '--expect-head', 'a'.repeat(64));
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no record has the expected hash/);

      const victim = (await lastRecord('POST /api/v1/jobs')).id;
      await tamper(`update audit_log set actor = 'someone-else' where id = ${victim}`);
      const altered = await fleet.cli('audit', 'verify');
      assert.equal(altered.code, 1);
      assert.match(altered.stderr, new RegExp(`failed at record ${victim}: record ${victim} was altered`));
      await tamper(`update audit_log set actor = 'admin' where id = ${victim}`);
      assert.equal((await fleet.cli('audit', 'verify')).code, 0);

      await tamper(`delete from audit_log where id = ${victim}`);
      const deleted = await fleet.cli('audit', 'verify', '-o', 'json');
      assert.equal(deleted.code, 1);
      const v = JSON.parse(deleted.stdout) as { ok: boolean; failure: { id: number; reason: string } };
      assert.equal(v.ok, false);
      assert.equal(v.failure.id, victim + 1);
      assert.match(v.failure.reason, new RegExp(`records ${victim}\\.\\.${victim} are missing`));
    });

    it('has no route that changes or deletes a record', async (t) => {
      if (skipped) return t.skip(skipped);
      for (const method of ['PUT', 'PATCH', 'DELETE', 'POST']) {
        const res = await fleet.api(method, '/api/v1/audit/1');
        assert.equal(res.status, 404, `${method} /api/v1/audit/1`);
        assert.equal((await fleet.api(method, '/api/v1/audit')).status, 404, `${method} /api/v1/audit`);
      }
    });

    it('names the user on the events an operator caused, and corral on those the server did', async (t) => {
      if (skipped) return t.skip(skipped);
      const types = ['config.changed', 'config.deleted', 'agent.labels_changed', 'job.started', 'job.finished', 'package.pushed', 'deployment.changed', 'deployment.stopped', 'token.created'];
      const events = await eventually(
        async () => {
          const res = await fleet.api<{ events: { type: string; data: Record<string, unknown> }[] }>('GET', '/api/v1/events?limit=1000');
          const found = res.body.events.filter((e) => types.includes(e.type));
          return types.every((ty) => found.some((e) => e.type === ty)) ? found : undefined;
        },
        { timeoutMs: 30_000, what: `events ${types.join(', ')}` },
      );
      for (const e of events) assert.equal(e.data.actor, 'admin', `${e.type} names the user: ${JSON.stringify(e.data)}`);

      await agent.process.stop();
      const offline = await eventually(
        async () => {
          const res = await fleet.api<{ events: { type: string; agentId: string; data: Record<string, unknown> }[] }>('GET', `/api/v1/events?type=agent.offline&agent=${agentId}`);
          return res.body.events.at(-1);
        },
        { timeoutMs: 30_000, what: 'agent.offline' },
      );
      assert.equal(offline.data.actor, 'corral');
    });

    it('keeps one chain when two replicas on one PostgreSQL record writes at once', async (t) => {
      if (skipped) return t.skip(skipped);
      if (!schema) return t.skip('replicas share PostgreSQL');
      // Start from an intact chain (the case before deleted a record).
      await tamper(`delete from audit_log`);
      const replica = await fleet.startReplica('replica-2');
      const write = (url: string, i: number) =>
        fetch(`${url}/api/v1/agents/${agentId}`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ labels: { n: String(i) } }),
        }).then((r) => r.status);
      const statuses = await Promise.all(Array.from({ length: 40 }, (_, i) => write(i % 2 ? replica.url : fleet.url, i)));
      assert.ok(statuses.every((s) => s === 200), JSON.stringify(statuses));
      const v = await eventually(
        async () => {
          const res = await fleet.cli('audit', 'verify', '-o', 'json');
          const parsed = JSON.parse(res.stdout) as { ok: boolean; records: number; failure: unknown };
          return parsed.records >= 40 ? parsed : undefined;
        },
        { timeoutMs: 30_000, what: '40 records' },
      );
      assert.equal(v.ok, true, JSON.stringify(v.failure));
      assert.equal(v.records, 40);
      const sources = new Set((await records('--action', 'PATCH /api/v1/agents/{id}')).map((r) => r.actor.name));
      assert.deepEqual([...sources], ['admin']);
    });
  });
}
