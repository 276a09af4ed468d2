/**
 * Secret values and secret config files, end to end on SQLite and
 * PostgreSQL, with a real server (logs at debug, captured), a real agent, the
 * real CLI, and the bare OpAMP client as an agent outside the selector:
 * - the agent in the selector renders the secret into its files on disk;
 * - an agent outside it is never offered it;
 * - no answer (deployment, show, status, rollout, config, agent, events),
 *   no server log line and no store row (the SQLite file's bytes, every
 *   PostgreSQL row as text) holds the plaintext;
 * - the mask keeps a stored secret; re-sending the same value makes no
 *   rollout; a changed secret is named, not shown, in the rollout;
 * - a wrong or missing key stops the server's start with a message naming
 *   the keys, and the right key starts it again.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { AgentCapabilities, recordToKeyValues } from '../../src/protocol/index.js';
import { Fleet, IMMEDIATE_ROLLOUTS, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';
import { CorralProcess, runCorral } from '../../src/testkit/processes.js';

const PASSWORD = 'pw-Zq8vK3xT9mR2';
const PASSWORD_2 = 'pw-second-Lw4nB7cY';
const API_KEY = 'apikey-Hs5dF1gJ6pQ0';
const PLAINTEXTS = [PASSWORD, PASSWORD_2, API_KEY];

const MANIFEST = `apiVersion: corral.io/v1
name: db
version: 1.0.0
platforms: [{os: linux, arch: any}]
run:
  command: sh
  args: ["-c", "exec sleep 100000"]
config:
  files: [{path: db.conf, template: templates/db.conf}]
`;

const CAPS =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsPackages);

const leaks = (text: string): string[] => PLAINTEXTS.filter((p) => text.includes(p));

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`secrets on ${backend}`, { concurrency: false }, () => {
    let fleet: Fleet;
    let schema: TestSchema | null = null;
    let work: string;
    let agent: TestAgent;
    let keyFile: string;
    let skipped = '';

    before(async () => {
      work = await mkdtemp(join(tmpdir(), 'corral-secrets-'));
      if (backend === 'postgres') {
        const found = await postgresForTest();
        if ('skip' in found) {
          skipped = found.skip;
          return;
        }
        schema = found.schema;
        // Replicas share one key: made once, given to the server as a file.
        const gen = await runCorral(['server', 'gen-secrets-key'], {});
        assert.equal(gen.code, 0, gen.stderr);
        keyFile = join(work, 'secrets.key');
        await writeFile(keyFile, gen.stdout, { mode: 0o600 });
      }
      fleet = await Fleet.start({
        database: schema?.url,
        rolloutDefaults: IMMEDIATE_ROLLOUTS,
        extraServerArgs: ['--log-level', 'debug', ...(backend === 'postgres' ? ['--secrets-key-file', keyFile] : [])],
      });
      if (backend === 'sqlite') keyFile = join(fleet.root, 'server', 'secrets.key');
      agent = await fleet.startAgent({ name: 'db-1', labels: { role: 'db' } });
      // The machine may be loaded: give the agent time to enroll before awaitAgent's own deadline starts.
      await eventually(() => readFile(join(agent.dataDir, 'identity.json'), 'utf8').catch(() => undefined), { timeoutMs: 60_000, what: 'db-1 enrolled' });
      await fleet.awaitAgent(agent, (x) => x.status === 'online', 60_000);
      const dir = join(work, 'db');
      await mkdir(join(dir, 'templates'), { recursive: true });
      await writeFile(join(dir, 'corral.yaml'), MANIFEST);
      await writeFile(join(dir, 'templates', 'db.conf'), 'user={{ user }}\npassword={{ password }}\n');
      const out = join(work, 'db-1.0.0.tar.gz');
      assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
      const pushed = await fleet.cli('package', 'push', out);
      assert.equal(pushed.code, 0, pushed.stderr);
      await writeFile(join(work, 'password'), `${PASSWORD}\n`, { mode: 0o600 });
      await writeFile(join(work, 'api.key'), API_KEY, { mode: 0o600 });
      await writeFile(join(work, 'common.conf'), 'level=info\n');
    });

    after(async () => {
      await fleet?.cli('undeploy', 'db').catch(() => undefined);
      await fleet?.close();
      await schema?.drop();
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('delivers a secret value and a secret file to the agent in the selector, rendered on disk', async (t) => {
      if (skipped) return t.skip(skipped);
      const dep = await fleet.cli('deploy', 'db', '--package', 'db@1.0.0', '-s', 'role=db', '--set', 'user=app', '--set-secret-file', `password=${join(work, 'password')}`, '-o', 'json');
      assert.equal(dep.code, 0, dep.stderr);
      assert.deepEqual(leaks(dep.stdout + dep.stderr), []);
      assert.deepEqual((JSON.parse(dep.stdout) as { secretValues: Record<string, string> }).secretValues, { password: '***' });
      const cfg = await fleet.cli('config', 'set', 'creds', '-s', 'role=db', '--secret-file', `api.key=${join(work, 'api.key')}`, '-o', 'json');
      assert.equal(cfg.code, 0, cfg.stderr);
      assert.deepEqual(leaks(cfg.stdout), []);
      const common = await fleet.cli('config', 'set', 'common', '-s', '', '--file', `common.conf=${join(work, 'common.conf')}`);
      assert.equal(common.code, 0, common.stderr);

      const rendered = await eventually(() => readFile(join(agent.dataDir, 'services', 'db', 'current', 'db.conf'), 'utf8').catch(() => undefined), { timeoutMs: 60_000, what: 'db.conf rendered' });
      assert.equal(rendered, `user=app\npassword=${PASSWORD}\n`);
      assert.equal(await eventually(() => readFile(join(agent.dataDir, 'config', 'api.key'), 'utf8').catch(() => undefined), { timeoutMs: 30_000, what: 'api.key written' }), API_KEY);
      await fleet.awaitAgent(agent, (x) => x.config.status === 'APPLIED' && x.health?.healthy === true, 60_000);
    });

    it('never offers the secrets to an agent outside the selector', async (t) => {
      if (skipped) return t.skip(skipped);
      const token = await fleet.tokenFor({ role: 'web' });
      const uid = newInstanceUid();
      const description = {
        identifyingAttributes: recordToKeyValues({ 'service.name': 'io.corral.agent', 'service.instance.id': 'outsider' }),
        nonIdentifyingAttributes: recordToKeyValues({ 'host.name': 'outsider', 'os.type': 'linux', 'host.arch': 'x64', 'corral.label.role': 'db', role: 'db' }),
      };
      await postOpamp(fleet.url, token, encodeForHttp({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: description }));
      const offer = await eventually(
        async () => {
          const res = await postOpamp(fleet.url, token, encodeForHttp({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: description }));
          return res.reply?.remoteConfig?.config?.configMap;
        },
        { timeoutMs: 30_000, what: 'an offer to the outsider' },
      );
      assert.deepEqual(Object.keys(offer).sort(), ['common.conf'], 'it gets the config for everyone, and nothing of role=db');
      const bytes = Object.values(offer).map((f) => Buffer.from(f.body).toString('utf8')).join('\n');
      assert.deepEqual(leaks(bytes), []);
    });

    it('masks secrets in every answer and the CLI, for deployments, rollouts, configs, agents and events', async (t) => {
      if (skipped) return t.skip(skipped);
      const id = await agent.instanceUid();
      // The agent has reported its effective config (with the rendered spec) by now.
      const detail = await eventually(
        async () => {
          const res = await fleet.api<{ effectiveConfig: { files: Record<string, { body: string }> } | null }>('GET', `/api/v1/agents/${id}`);
          return res.body.effectiveConfig?.files['deployment.db.json'] && res.body.effectiveConfig.files['api.key'] ? res.body : undefined;
        },
        { timeoutMs: 30_000, what: 'effective config reported' },
      );
      assert.match(detail.effectiveConfig!.files['deployment.db.json']!.body, /"password":"\*\*\*"/);
      assert.match(detail.effectiveConfig!.files['api.key']!.body, /^\*\*\* sha256:[0-9a-f]{64}$/);
      const answers = [JSON.stringify(detail)];
      for (const path of ['/api/v1/deployments', '/api/v1/deployments/db', '/api/v1/deployments/db/status', '/api/v1/rollouts?deployment=db', '/api/v1/rollouts/db?agents=true', '/api/v1/configs', '/api/v1/configs/creds', '/api/v1/events?limit=1000', `/api/v1/agents`]) {
        const res = await fleet.api('GET', path);
        assert.equal(res.status, 200, `${path}: ${JSON.stringify(res.body)}`);
        answers.push(JSON.stringify(res.body));
      }
      const config = (await fleet.api<{ files: Record<string, { body: string; secret: boolean; sha256: string }> }>('GET', '/api/v1/configs/creds')).body;
      assert.equal(config.files['api.key']?.body, '***');
      assert.equal(config.files['api.key']?.secret, true);
      assert.match(config.files['api.key']?.sha256 ?? '', /^[0-9a-f]{64}$/);
      for (const args of [['deployment', 'show', 'db'], ['deployment', 'show', 'db', '-o', 'json'], ['deployment', 'status', 'db', '-o', 'json'], ['rollout', 'status', 'db', '-o', 'json'], ['config', 'get', 'creds'], ['events', '-o', 'json']]) {
        const res = await fleet.cli(...args);
        assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
        answers.push(res.stdout);
      }
      assert.match(answers.at(-6)!, /password\s+\*\*\*\s+secret/, 'deployment show lists the key, masked');
      for (const a of answers) assert.deepEqual(leaks(a), [], a.slice(0, 500));
    });

    it('keeps a secret sent as the mask, makes no rollout for the same value, and names a changed secret without showing it', async (t) => {
      if (skipped) return t.skip(skipped);
      const same = await fleet.cli('deploy', 'db', '--package', 'db@1.0.0', '-s', 'role=db', '--set', 'user=app', '--set-secret', `password=${PASSWORD}`, '-o', 'json');
      assert.equal(same.code, 0, same.stderr);
      assert.equal((JSON.parse(same.stdout) as { rollout: string | null }).rollout, null, 'same secret: no new revision');
      const kept = await fleet.cli('deploy', 'db', '--package', 'db@1.0.0', '-s', 'role=db', '--set', 'user=app', '--keep-secrets', '-o', 'json');
      assert.equal((JSON.parse(kept.stdout) as { rollout: string | null }).rollout, null, '--keep-secrets sends the mask: kept');
      const refused = await fleet.api('POST', '/api/v1/deployments', { name: 'db', package: 'db', version: '1.0.0', selector: 'role=db', values: {}, secretValues: { nope: '***' } });
      assert.equal(refused.status, 400);
      assert.match(JSON.stringify(refused.body), /has no secret nope/);
      const changed = await fleet.cli('deploy', 'db', '--package', 'db@1.0.0', '-s', 'role=db', '--set', 'user=app2', '--set-secret', `password=${PASSWORD_2}`);
      assert.equal(changed.code, 0, changed.stderr);
      assert.deepEqual(leaks(changed.stdout + changed.stderr), []);
      const status = await fleet.cli('rollout', 'status', 'db');
      assert.match(status.stdout, /secret changed: password/);
      assert.deepEqual(leaks(status.stdout), []);
      assert.equal(
        await eventually(async () => ((await readFile(join(agent.dataDir, 'services', 'db', 'current', 'db.conf'), 'utf8')).includes(PASSWORD_2) ? 'ok' : undefined), { timeoutMs: 60_000, what: 'new secret rendered' }),
        'ok',
      );
    });

    it('keeps no plaintext in the store and none in the server log', async (t) => {
      if (skipped) return t.skip(skipped);
      await fleet.awaitAgent(agent, (x) => x.config.status === 'APPLIED', 60_000);
      if (backend === 'sqlite') {
        const dir = join(fleet.root, 'server');
        let bytes = '';
        for (const f of (await readdir(dir)).filter((n) => n.startsWith('corral.db'))) bytes += (await readFile(join(dir, f))).toString('latin1');
        assert.ok(bytes.includes('cs1.'), 'sealed values are there');
        assert.deepEqual(leaks(bytes), []);
      } else {
        const client = new pg.Client({ connectionString: schema!.url });
        await client.connect();
        try {
          const tables = await client.query<{ table_name: string }>('select table_name from information_schema.tables where table_schema = $1', [schema!.name]);
          let text = '';
          for (const { table_name } of tables.rows) text += (await client.query<{ t: string }>(`select t::text as t from "${table_name}" t`)).rows.map((r) => r.t).join('\n');
          assert.ok(text.includes('cs1.'), 'sealed values are there');
          assert.deepEqual(leaks(text), []);
        } finally {
          await client.end();
        }
      }
      assert.ok(fleet.server.stderr.length > 0, 'debug logs were captured');
      assert.deepEqual(leaks(fleet.server.stderr + fleet.server.stdout), []);
    });

    it('refuses to start with another key, or none, naming the keys; starts again with the right one', async (t) => {
      if (skipped) return t.skip(skipped);
      const right = await readFile(keyFile, 'utf8');
      await fleet.stopServer();
      const gen = await runCorral(['server', 'gen-secrets-key'], {});
      await writeFile(keyFile, gen.stdout, { mode: 0o600 });
      const dataDir = join(fleet.root, 'server');
      const base = ['server', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...(schema ? ['--database', schema.url] : [])];
      const wrong = new CorralProcess([...base, ...(schema ? ['--secrets-key-file', keyFile] : [])], {});
      await eventually(() => (wrong.running ? undefined : true), { timeoutMs: 30_000, what: 'server with the wrong key exits' });
      assert.notEqual(wrong.exitCode, 0);
      assert.match(wrong.stderr, /sealed with key [0-9a-f]{16}, and .*secrets\.key holds key [0-9a-f]{16}/);
      if (schema) {
        const none = new CorralProcess(base, {});
        await eventually(() => (none.running ? undefined : true), { timeoutMs: 30_000, what: 'server without a key exits' });
        assert.match(none.stderr, /needs the secrets key.*--secrets-key-file/);
      }
      await writeFile(keyFile, right, { mode: 0o600 });
      await fleet.restartServer();
      const res = await fleet.api<{ secretValues: Record<string, string> }>('GET', '/api/v1/deployments/db');
      assert.deepEqual(res.body.secretValues, { password: '***' });
    });

    it('rotates the key: every secret re-sealed in one go, the service still gets its secret', async (t) => {
      if (skipped) return t.skip(skipped);
      await fleet.stopServer();
      const newKey = join(work, 'new.key');
      await writeFile(newKey, (await runCorral(['server', 'gen-secrets-key'], {})).stdout, { mode: 0o600 });
      const where = ['--data-dir', join(fleet.root, 'server'), ...(schema ? ['--database', schema.url] : [])];
      const same = await runCorral(['server', 'rotate-secrets-key', ...where, '--old-key-file', keyFile, '--new-key-file', keyFile], {});
      assert.equal(same.code, 1);
      assert.match(same.stderr, /same key/);
      const rotated = await runCorral(['server', 'rotate-secrets-key', ...where, '--old-key-file', keyFile, '--new-key-file', newKey], {});
      assert.equal(rotated.code, 0, rotated.stderr);
      assert.match(rotated.stdout, /re-sealed [1-9]\d* secret values and 1 secret files with key [0-9a-f]{16}/);
      await writeFile(keyFile, await readFile(newKey, 'utf8'), { mode: 0o600 });
      await fleet.restartServer();
      const dep = await fleet.cli('deploy', 'db', '--package', 'db@1.0.0', '-s', 'role=db', '--set', 'user=app3', '--keep-secrets');
      assert.equal(dep.code, 0, dep.stderr);
      const status = await fleet.cli('rollout', 'status', 'db');
      assert.doesNotMatch(status.stdout, /secret changed/, 'the same secrets, re-sealed, are not a change');
      await eventually(
        async () => ((await readFile(join(agent.dataDir, 'services', 'db', 'current', 'db.conf'), 'utf8')) === `user=app3\npassword=${PASSWORD_2}\n` ? true : undefined),
        { timeoutMs: 60_000, what: 'rendered with the secret opened by the new key' },
      );
      assert.equal(await readFile(join(agent.dataDir, 'config', 'api.key'), 'utf8'), API_KEY);
    });
  });
}
