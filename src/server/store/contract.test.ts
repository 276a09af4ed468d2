/**
 * One contract for every Store: the same cases against SQLite (temp dir)
 * and PostgreSQL (own schema at CORRAL_TEST_POSTGRES_URL).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type Store } from './index.js';
import { AgentNotFoundError, AgentRevokedError, ConfigNotFoundError, DeploymentNotFoundError, PackageConflictError, TokenNotFoundError } from '../errors.js';
import { createTestSchema, postgresForTest, type TestSchema } from '../../testkit/postgres.js';
import { snapshotPostgres, snapshotSqlite } from '../../testkit/store-snapshot.js';

const id = (n: number) => `0190aaaa-0000-7000-8000-${String(n).padStart(12, '0')}`;

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`store contract: ${backend}`, { concurrency: false }, () => {
    let store: Store;
    let dir = '';
    let schema: TestSchema | null = null;
    let skip = '';

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'corral-store-'));
      let database = '';
      if (backend === 'postgres') {
        const pg = await postgresForTest();
        if ('skip' in pg) {
          skip = pg.skip;
          return;
        }
        schema = pg.schema;
        database = schema.url;
      }
      store = await openStore({ database, dataDir: dir });
    });

    after(async () => {
      await store?.close();
      await schema?.drop();
      await rm(dir, { recursive: true, force: true });
    });

    it('migrates again without change, also twice at once', async (t) => {
      if (skip) return t.skip(skip);
      const snapshot = () => (schema ? snapshotPostgres(schema.url, schema.name) : Promise.resolve(snapshotSqlite(dir)));
      const before = await snapshot();
      assert.ok(Object.keys(before.rows).length > 5 && before.schema.length > 5, 'the snapshot sees the tables');
      assert.ok(Object.values(before.rows).some((rows) => rows.length > 0), 'and the migration bookkeeping rows');
      await store.migrate();
      const database = schema?.url ?? '';
      const [a, b] = await Promise.all([openStore({ database, dataDir: dir }), openStore({ database, dataDir: dir })]);
      await Promise.all([a.close(), b.close()]);
      assert.equal(store.kind, backend);
      assert.deepEqual(await snapshot(), before, 'the same schema and the same rows');
    });

    it('migrates a fresh schema even when another schema in the database has its own migration tables', async (t) => {
      if (skip) return t.skip(skip);
      if (backend !== 'postgres') return t.skip('schemas are a PostgreSQL matter');
      // `schema` already holds migration tables; a second, empty schema in the same database must still migrate.
      const other = await createTestSchema();
      try {
        const fresh = await openStore({ database: other.url, dataDir: dir });
        assert.deepEqual(await fresh.listAgents(), []);
        await fresh.close();
      } finally {
        await other.drop();
      }
    });

    it('creates an agent on first report, then patches only what the report carries', async (t) => {
      if (skip) return t.skip(skip);
      const created = await store.upsertAgentReport(
        id(1),
        { kind: 'corral', name: 'web-1', identifyingAttributes: { 'service.name': 'io.corral.agent' }, nonIdentifyingAttributes: { 'os.type': 'linux' }, capabilities: 7 },
        1000,
      );
      assert.equal(created.status, 'online');
      assert.equal(created.firstSeenAt, 1000);
      assert.equal(created.capabilities, 7);
      const health = { healthy: true, startTimeMs: 1, lastError: '', status: 'running', statusTimeMs: 2, components: {} };
      const patched = await store.upsertAgentReport(id(1), { health, remoteConfigStatus: { hash: 'ab', status: 'APPLIED', errorMessage: '' } }, 2000);
      assert.equal(patched.name, 'web-1');
      assert.deepEqual(patched.nonIdentifyingAttributes, { 'os.type': 'linux' });
      assert.deepEqual(patched.health, health);
      assert.equal(patched.remoteConfigStatus?.status, 'APPLIED');
      assert.equal(patched.lastSeenAt, 2000);
      assert.equal(patched.firstSeenAt, 1000);
      assert.equal((await store.getAgent(id(1)))?.kind, 'corral');
      assert.equal(await store.getAgent(id(999_998)), null);
    });

    it('applies batched reports to known agents and skips unknown ones', async (t) => {
      if (skip) return t.skip(skip);
      await store.applyAgentReports([
        { id: id(1), patch: { remoteConfigStatus: { hash: 'cd', status: 'FAILED', errorMessage: 'bad' } }, at: 2500 },
        { id: id(999_997), patch: { name: 'ghost' }, at: 2500 },
      ]);
      const a = await store.getAgent(id(1));
      assert.deepEqual(a?.remoteConfigStatus, { hash: 'cd', status: 'FAILED', errorMessage: 'bad' });
      assert.equal(a?.name, 'web-1');
      assert.equal(a?.lastSeenAt, 2500);
      assert.equal(await store.getAgent(id(999_997)), null);
    });

    it('sets labels and credentials, and finds agents by credential', async (t) => {
      if (skip) return t.skip(skip);
      const labelled = await store.setAgentLabels(id(1), { env: 'prod' });
      assert.deepEqual(labelled.labels, { env: 'prod' });
      await assert.rejects(store.setAgentLabels(id(999_998), {}), AgentNotFoundError);
      await store.setAgentCredential(id(1), 'c0ffee');
      assert.equal((await store.findAgentByCredentialHash('c0ffee'))?.id, id(1));
      assert.equal(await store.findAgentByCredentialHash('nope'), null);
    });

    it('reports a status change once', async (t) => {
      if (skip) return t.skip(skip);
      assert.equal(await store.setAgentStatus(id(1), 'offline', 3000), true);
      assert.equal(await store.setAgentStatus(id(1), 'offline', 3001), false);
      assert.equal(await store.setAgentStatus(id(1), 'online', 3002), true);
      assert.equal((await store.getAgent(id(1)))?.lastSeenAt, 3002);
    });

    it('touches thousands of agents in a batch and sweeps the stale ones', async (t) => {
      if (skip) return t.skip(skip);
      const n = 5000;
      for (let i = 10; i < 10 + n; i += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, k) => store.upsertAgentReport(id(i + k), { name: `a${i + k}` }, 100)));
      }
      await store.touchAgents(Array.from({ length: n / 2 }, (_, k) => ({ id: id(10 + k), lastSeenAt: 5000, lastSequenceNum: k })));
      // An older touch never moves last_seen backwards; unknown ids are ignored.
      await store.touchAgents([{ id: id(10), lastSeenAt: 10, lastSequenceNum: 1 }, { id: id(999_999), lastSeenAt: 1, lastSequenceNum: 1 }]);
      assert.equal((await store.getAgent(id(10)))?.lastSeenAt, 5000);
      assert.equal((await store.getAgent(id(11)))?.lastSequenceNum, 1);
      const stale = await store.markStaleAgentsOffline(4000);
      assert.equal(stale.length, n / 2 + 1, "the untouched half and agent 1");
      assert.ok(stale.includes(id(10 + n - 1)));
      assert.ok(!stale.includes(id(10)));
      assert.deepEqual(await store.markStaleAgentsOffline(4000), []);
      assert.equal((await store.listAgents()).length, n + 1);
    });

    it('revokes an agent: refused from then on, credential gone, status kept', async (t) => {
      if (skip) return t.skip(skip);
      const revoked = await store.revokeAgent(id(1), 6000);
      assert.equal(revoked.status, 'revoked');
      assert.equal(revoked.credentialHash, null);
      assert.equal(await store.findAgentByCredentialHash('c0ffee'), null);
      await assert.rejects(store.upsertAgentReport(id(1), { name: 'again' }, 7000), AgentRevokedError);
      assert.equal((await store.getAgent(id(1)))?.name, 'web-1');
      assert.equal(await store.setAgentStatus(id(1), 'online', 7000), false);
      await assert.rejects(store.revokeAgent(id(999_998), 1), AgentNotFoundError);
    });

    it('finds tokens by hash until they are revoked', async (t) => {
      if (skip) return t.skip(skip);
      await store.createToken({ id: 't1', kind: 'enrollment', name: 'one', hash: 'h1', prefix: 'corral_enroll_ab', createdAt: 1, revokedAt: null });
      await store.createToken({ id: 't2', kind: 'admin', name: 'adm', hash: 'h2', prefix: 'corral_admin_cd', createdAt: 2, revokedAt: null });
      assert.equal((await store.findActiveTokenByHash('h1'))?.id, 't1');
      assert.deepEqual((await store.listTokens('enrollment')).map((x) => x.id), ['t1']);
      assert.equal((await store.listTokens()).length, 2);
      const revoked = await store.revokeToken('t1', 10);
      assert.equal(revoked.revokedAt, 10);
      assert.equal((await store.revokeToken('t1', 20)).revokedAt, 10, 'revoking twice keeps the first time');
      assert.equal(await store.findActiveTokenByHash('h1'), null);
      await assert.rejects(store.revokeToken('nope', 1), TokenNotFoundError);
    });

    it('enrolls agents with a scoped token: binds its labels, counts to its cap, refuses when expired or revoked', async (t) => {
      if (skip) return t.skip(skip);
      await store.createToken({ id: 'ts1', kind: 'enrollment', name: 'prod', hash: 'hs1', prefix: 'corral_enroll_ps', createdAt: 1, revokedAt: null, labels: { env: 'prod' }, maxAgents: 2, expiresAt: 5000 });
      const token = await store.findActiveTokenByHash('hs1');
      assert.deepEqual({ labels: token?.labels, maxAgents: token?.maxAgents, expiresAt: token?.expiresAt, enrolledAgents: token?.enrolledAgents, requireApproval: token?.requireApproval }, {
        labels: { env: 'prod' },
        maxAgents: 2,
        expiresAt: 5000,
        enrolledAgents: 0,
        requireApproval: false,
      });
      // Five at once for a cap of two (replicas race like this): exactly two get in.
      const outcomes = await Promise.all([900_501, 900_502, 900_503, 900_504, 900_505].map((n) => store.enrollAgent({ id: id(n), tokenId: 'ts1', at: 100, requireApproval: false })));
      assert.equal(outcomes.filter((o) => o === 'enrolled').length, 2);
      assert.equal(outcomes.filter((o) => o === 'token-exhausted').length, 3);
      const enrolled = [900_501, 900_502, 900_503, 900_504, 900_505].map(id).filter((_, i) => outcomes[i] === 'enrolled');
      const agent = await store.getAgent(enrolled[0]!);
      assert.deepEqual({ bound: agent?.boundLabels, token: agent?.enrollmentTokenId, labels: agent?.labels, approval: agent?.approval }, {
        bound: { env: 'prod' },
        token: 'ts1',
        labels: {},
        approval: 'approved',
      });
      assert.equal(await store.enrollAgent({ id: enrolled[0]!, tokenId: 'ts1', at: 100, requireApproval: false }), 'exists', 'an existing agent is not counted again');
      assert.equal((await store.findActiveTokenByHash('hs1'))?.enrolledAgents, 2);
      // Reports never touch bound labels.
      const reported = await store.upsertAgentReport(enrolled[0]!, { nonIdentifyingAttributes: { 'corral.label.env': 'dev' } }, 200);
      assert.deepEqual(reported.boundLabels, { env: 'prod' });

      await store.createToken({ id: 'ts2', kind: 'enrollment', name: 'short', hash: 'hs2', prefix: 'corral_enroll_sh', createdAt: 1, revokedAt: null, expiresAt: 1000, requireApproval: true });
      assert.equal(await store.enrollAgent({ id: id(900_510), tokenId: 'ts2', at: 999, requireApproval: false }), 'enrolled');
      assert.equal((await store.getAgent(id(900_510)))?.approval, 'pending', 'the token asks for approval');
      assert.equal(await store.enrollAgent({ id: id(900_511), tokenId: 'ts2', at: 1000, requireApproval: false }), 'token-expired');
      await store.revokeToken('ts2', 1);
      assert.equal(await store.enrollAgent({ id: id(900_512), tokenId: 'ts2', at: 10, requireApproval: false }), 'token-revoked');
      assert.equal(await store.getAgent(id(900_511)), null);
      assert.equal(await store.getAgent(id(900_512)), null);
      assert.equal((await store.setAgentApproval(id(900_510), 'approved')).approval, 'approved');
      await assert.rejects(store.setAgentApproval(id(999_997), 'approved'), AgentNotFoundError);
      // The server's first-start token: no labels, no cap, no expiry.
      await store.createToken({ id: 'ts3', kind: 'enrollment', name: 'plain', hash: 'hs3', prefix: 'corral_enroll_pl', createdAt: 1, revokedAt: null });
      assert.equal(await store.enrollAgent({ id: id(900_520), tokenId: 'ts3', at: 10, requireApproval: true }), 'enrolled');
      assert.deepEqual((await store.getAgent(id(900_520)))?.boundLabels, {});
      assert.equal((await store.getAgent(id(900_520)))?.approval, 'pending', 'the server asks for approval');
    });

    it('stores configs by name, replacing content and keeping createdAt', async (t) => {
      if (skip) return t.skip(skip);
      const files = { 'a.json': { contentType: 'application/json', body: '{}' } };
      const first = await store.putConfig({ name: 'c1', selector: 'env=prod', files, hash: 'h1', updatedAt: 100 });
      assert.equal(first.createdAt, 100);
      const second = await store.putConfig({ name: 'c1', selector: 'env=dev', files, hash: 'h2', updatedAt: 200 });
      assert.equal(second.createdAt, 100);
      assert.equal(second.updatedAt, 200);
      assert.equal(second.selector, 'env=dev');
      assert.deepEqual((await store.getConfig('c1'))?.files, files);
      assert.deepEqual((await store.listConfigs()).map((c) => c.name), ['c1']);
      await store.deleteConfig('c1');
      assert.equal(await store.getConfig('c1'), null);
      await assert.rejects(store.deleteConfig('c1'), ConfigNotFoundError);
    });

    it('pages events oldest first, filtered by agent, type and time', async (t) => {
      if (skip) return t.skip(skip);
      await store.appendEvents(
        Array.from({ length: 30 }, (_, i) => ({ at: i, type: i % 2 ? 'agent.online' : 'agent.offline', agentId: i % 3 ? id(2) : null, data: { i } })),
      );
      const newest = await store.listEvents({ limit: 10 });
      assert.equal(newest.length, 10);
      assert.deepEqual(newest.map((e) => e.data.i), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29]);
      const page = await store.listEvents({ afterId: newest[0]!.id, limit: 3 });
      assert.deepEqual(page.map((e) => e.data.i), [21, 22, 23]);
      const online = await store.listEvents({ type: 'agent.online', agentId: id(2), limit: 1000 });
      assert.ok(online.every((e) => e.type === 'agent.online' && e.agentId === id(2)));
      assert.equal(online.length, 10);
      assert.deepEqual((await store.listEvents({ since: 5, until: 8, limit: 1000 })).map((e) => e.data.i), [5, 6, 7]);
    });

    it('takes the newest events of a time window by time, where ids disagree with times, and by id without one', async (t) => {
      if (skip) return t.skip(skip);
      // Two replicas' batches, the later written holding earlier times (as their flushes interleave).
      const batch = (ats: number[]) => ats.map((at) => ({ at, type: 'test.window', agentId: id(3), data: { at } }));
      await store.appendEvents(batch([1000, 1001, 1002]));
      await store.appendEvents(batch([995, 996, 997]));
      const ats = (events: { data: Record<string, unknown> }[]) => events.map((e) => e.data.at);
      assert.deepEqual(ats(await store.listEvents({ since: 990, limit: 2 })), [1001, 1002]);
      assert.deepEqual(ats(await store.listEvents({ type: 'test.window', since: 990, limit: 2 })), [1001, 1002]);
      assert.deepEqual(ats(await store.listEvents({ agentId: id(3), until: 1001, limit: 3 })), [996, 997, 1000]);
      assert.deepEqual(ats(await store.listEvents({ since: 996, until: 1001, limit: 1000 })), [996, 997, 1000], 'oldest first by time');
      assert.deepEqual(ats(await store.listEvents({ type: 'test.window', limit: 2 })), [996, 997], 'no window: the newest by id, as the live feed counts');
      const after = (await store.listEvents({ type: 'test.window', limit: 6 }))[2]!.id;
      assert.deepEqual(ats(await store.listEvents({ afterId: after, since: 996, limit: 1000 })), [996, 997], 'after an id: by id');
    });

    it('records packages per platform and refuses different content under the same name+version+platform', async (t) => {
      if (skip) return t.skip(skip);
      const pkg = { name: 'hello', version: '1.0.0', os: 'linux', arch: 'amd64', sha256: 'aa', size: 10, signature: 'ss', manifest: { name: 'hello' }, createdAt: 1, publisherSignature: null };
      assert.deepEqual(await store.putPackage(pkg), pkg);
      assert.deepEqual(await store.putPackage({ ...pkg, createdAt: 2 }), pkg, 'same content again is a no-op');
      const signed = { ...pkg, publisherSignature: 'pp' };
      assert.deepEqual(await store.putPackage({ ...signed, createdAt: 3 }), signed, 'same content with a publisher signature adds it');
      assert.deepEqual(await store.putPackage({ ...pkg, createdAt: 4 }), signed, 'pushing again unsigned keeps the signature');
      await store.putPackage({ ...pkg, arch: 'arm64', sha256: 'bb' });
      await assert.rejects(store.putPackage({ ...pkg, sha256: 'cc' }), PackageConflictError);
      assert.deepEqual((await store.listPackages('hello')).map((p) => `${p.arch}:${p.sha256}`), ['amd64:aa', 'arm64:bb']);
      assert.equal((await store.findPackagesBySha256('bb'))[0]?.arch, 'arm64');
      assert.deepEqual(await store.listPackages('nope'), []);
    });

    it('stores deployments by name, replacing them and keeping createdAt', async (t) => {
      if (skip) return t.skip(skip);
      const d = { name: 'web', package: 'hello', version: '1.0.0', selector: 'env=prod', values: { port: '8080' }, secretValues: { pw: 'cs1.sealed' }, desiredState: 'running' as const, revision: 1, stableRevision: null, policy: { batches: 2 }, updatedAt: 10 };
      assert.equal((await store.putDeployment(d)).createdAt, 10);
      assert.deepEqual((await store.getDeployment('web'))?.policy, { batches: 2 });
      assert.deepEqual((await store.getDeployment('web'))?.secretValues, { pw: 'cs1.sealed' });
      const replaced = await store.putDeployment({ ...d, version: '1.1.0', desiredState: 'stopped', updatedAt: 20 });
      assert.equal(replaced.createdAt, 10);
      assert.equal(replaced.version, '1.1.0');
      assert.equal((await store.getDeployment('web'))?.desiredState, 'stopped');
      assert.deepEqual((await store.listDeployments()).map((x) => x.name), ['web']);
      await store.deleteDeployment('web');
      assert.equal(await store.getDeployment('web'), null);
      await assert.rejects(store.deleteDeployment('web'), DeploymentNotFoundError);
    });

    it('keeps revisions, rollouts with their agents and leases, and per-agent revisions; all go with the deployment', async (t) => {
      if (skip) return t.skip(skip);
      const d = { name: 'api', package: 'hello', version: '1.0.0', selector: '', values: {}, secretValues: {}, desiredState: 'running' as const, revision: 1, stableRevision: null, policy: {}, updatedAt: 10 };
      const rev = { deployment: 'api', revision: 1, package: 'hello', version: '1.0.0', values: { a: 'b' }, secretValues: { pw: 'cs1.sealed' }, createdAt: 10 };
      const rollout = {
        id: 'r1', deployment: 'api', kind: 'rollout' as const, fromRevision: null, toRevision: 1, policy: { batches: 1 }, state: 'running', stage: 0, stageStartedAt: 10,
        promoted: false, forgiven: 0, reason: '', createdBy: 'me', createdAt: 10, updatedAt: 10, finishedAt: null,
      };
      const row = { rolloutId: 'r1', agentId: id(1), agentName: 'a', stage: 1, state: 'pending', startedAt: null, healthySince: null, finishedAt: null, reason: '' };
      await store.rollouts.commitChange({ deployment: d, revision: rev, rollout, agents: [row, { ...row, agentId: id(2), agentName: 'b', stage: 0 }] });
      assert.deepEqual(await store.rollouts.listRevisions('api'), [rev]);
      assert.deepEqual(await store.rollouts.getRollout('r1'), { ...rollout, leaseOwner: null, leaseUntil: null });
      assert.deepEqual((await store.rollouts.listRolloutAgents('r1')).map((r) => r.agentName), ['b', 'a'], 'ordered by stage');
      await store.rollouts.putRolloutAgents([{ ...row, state: 'updating', startedAt: 11 }]);
      assert.equal((await store.rollouts.listRolloutAgents('r1'))[1]?.state, 'updating');
      assert.equal(await store.rollouts.updateRollout('r1', { state: 'paused', reason: 'x' }, ['succeeded']), false, 'state guard');
      assert.equal(await store.rollouts.updateRollout('r1', { state: 'paused', reason: 'x', promoted: true }, ['running']), true);
      assert.deepEqual((await store.rollouts.listActiveRollouts()).map((r) => [r.id, r.state, r.promoted]), [['r1', 'paused', true]]);
      assert.equal(await store.rollouts.acquireRolloutLease('r1', 'one', 100, 200), true);
      assert.equal(await store.rollouts.acquireRolloutLease('r1', 'two', 150, 250), false, 'held by another until 200');
      assert.equal(await store.rollouts.acquireRolloutLease('r1', 'one', 150, 300), true, 'renewed by its holder');
      assert.equal(await store.rollouts.acquireRolloutLease('r1', 'two', 301, 400), true, 'taken over once expired');
      assert.deepEqual([(await store.rollouts.getRollout('r1'))?.leaseOwner, (await store.rollouts.getRollout('r1'))?.leaseUntil], ['two', 400]);
      await store.rollouts.setAgentRevisions('api', [id(1), id(2)], 1);
      await store.rollouts.setAgentRevisions('api', [id(2)], 2);
      assert.deepEqual((await store.rollouts.listAgentRevisions()).map((r) => r.revision).sort(), [1, 2]);
      await store.rollouts.setStableRevision('api', 1);
      assert.equal((await store.getDeployment('api'))?.stableRevision, 1);
      // A newer change supersedes the running rollout in the same transaction.
      await store.rollouts.commitChange({ deployment: { ...d, revision: 2, updatedAt: 20 }, revision: { ...rev, revision: 2 }, rollout: { ...rollout, id: 'r2', toRevision: 2, createdAt: 20 }, supersede: ['r1'] });
      assert.equal((await store.rollouts.getRollout('r1'))?.state, 'aborted');
      assert.deepEqual((await store.rollouts.listRollouts('api')).map((r) => r.id), ['r2', 'r1'], 'newest first');
      await store.deleteDeployment('api');
      assert.deepEqual(await store.rollouts.listRevisions('api'), []);
      assert.deepEqual(await store.rollouts.listRollouts('api'), []);
      assert.deepEqual(await store.rollouts.listAgentRevisions(), []);
      assert.deepEqual(await store.rollouts.listRolloutAgents('r1'), []);
    });

    it('re-seals every secret in one transaction (key rotation), or none when one fails', async (t) => {
      if (skip) return t.skip(skip);
      const d = { name: 'sec', package: 'hello', version: '1.0.0', selector: '', values: {}, secretValues: { pw: 'cs1.a' }, desiredState: 'running' as const, revision: 1, stableRevision: null, policy: {}, updatedAt: 10 };
      await store.rollouts.commitChange({ deployment: d, revision: { deployment: 'sec', revision: 1, package: 'hello', version: '1.0.0', values: {}, secretValues: { pw: 'cs1.a' }, createdAt: 10 } });
      await store.putConfig({ name: 'sec-c', selector: '', files: { 'k.pem': { contentType: 'text/plain', body: 'cs1.f', secret: true, sha256: 'ab' }, 'plain.conf': { contentType: 'text/plain', body: 'x' } }, hash: 'h', updatedAt: 10 });
      const failing = { deploymentValue: () => 'cs1.new', configFile: () => { throw new Error('does not open'); } };
      await assert.rejects(store.resealSecrets(failing, { key: 'secrets.key-id', value: 'k2' }), /does not open/);
      assert.deepEqual((await store.getDeployment('sec'))?.secretValues, { pw: 'cs1.a' }, 'nothing changed');
      assert.equal(await store.getMeta('secrets.key-id'), null);
      let calls = 0;
      const n = await store.resealSecrets({ deploymentValue: (_d, _k, v) => `${v}.${++calls}`, configFile: (_c, _f, v) => `${v}.f` }, { key: 'secrets.key-id', value: 'k2' });
      assert.deepEqual(n, { values: 2, files: 1 });
      assert.equal(calls, 1, 'the same sealed text is re-sealed once, so deployment and revision keep sharing it');
      assert.deepEqual((await store.getDeployment('sec'))?.secretValues, { pw: 'cs1.a.1' });
      assert.deepEqual((await store.rollouts.listRevisions('sec'))[0]?.secretValues, { pw: 'cs1.a.1' });
      const files = (await store.getConfig('sec-c'))?.files;
      assert.deepEqual(files?.['k.pem'], { contentType: 'text/plain', body: 'cs1.f.f', secret: true, sha256: 'ab' });
      assert.equal(files?.['plain.conf']?.body, 'x');
      assert.equal(await store.getMeta('secrets.key-id'), 'k2');
      await store.deleteDeployment('sec');
      await store.deleteConfig('sec-c');
    });

    it('keeps artifact bytes in chunks, replaces and deletes them', async (t) => {
      if (skip) return t.skip(skip);
      const chunks = [Buffer.alloc(1000, 1), Buffer.from([0, 255, 7]), Buffer.alloc(5, 9)];
      async function* gen(bufs: Buffer[]) {
        for (const b of bufs) yield b;
      }
      const read = async (sha: string) => {
        const out: Buffer[] = [];
        for await (const c of store.readArtifactContent(sha)) out.push(c);
        return Buffer.concat(out);
      };
      assert.equal(await store.hasArtifactContent('a1'), false);
      assert.equal((await read('a1')).length, 0);
      await store.putArtifactContent('a1', gen(chunks));
      assert.equal(await store.hasArtifactContent('a1'), true);
      assert.deepEqual(await read('a1'), Buffer.concat(chunks), 'binary bytes come back exactly, in order');
      await store.putArtifactContent('a1', gen([Buffer.from('x')]));
      assert.deepEqual(await read('a1'), Buffer.from('x'), 'replaced, no stale chunks');
      await store.deleteArtifactContent('a1');
      assert.equal(await store.hasArtifactContent('a1'), false);
    });

    it('keeps jobs and per-host results, with output', async (t) => {
      if (skip) return t.skip(skip);
      const spec = { selector: 'env=prod', command: ['uptime'], service: null, timeoutMs: 1000, maxConcurrency: '2', errorBudget: '0' };
      const host = { jobId: 'j1', agentId: id(2), agentName: 'b', status: 'pending' as const, exitCode: null, signal: null, output: '', truncated: false, timedOut: false, error: '', startedAt: null, finishedAt: null };
      await store.createJob({ id: 'j1', spec, status: 'running', createdBy: 'alice', createdAt: 5, finishedAt: null }, [host, { ...host, agentId: id(3), agentName: 'a' }]);
      await store.putJobHost({ ...host, status: 'failed', exitCode: 2, output: 'line\n'.repeat(1000), truncated: true, error: 'exit 2', startedAt: 6, finishedAt: 7 });
      await store.finishJob('j1', 'failed', 8);
      const got = await store.getJob('j1');
      assert.equal(got?.job.status, 'failed');
      assert.deepEqual(got?.job.spec, spec);
      assert.deepEqual(got?.hosts.map((h) => [h.agentName, h.status, h.exitCode, h.truncated]), [['a', 'pending', null, false], ['b', 'failed', 2, true]]);
      assert.equal(got?.hosts[1]?.output.length, 5000);
      assert.deepEqual((await store.queryJobs({ limit: 10 })).jobs.map((j) => j.id), ['j1']);
      assert.equal(await store.getJob('nope'), null);
    });

    it('keeps meta values', async (t) => {
      if (skip) return t.skip(skip);
      assert.equal(await store.setMetaIfAbsent('first', 'a'), 'a');
      assert.equal(await store.setMetaIfAbsent('first', 'b'), 'a', 'first writer wins');
      assert.equal(await store.getMeta('k'), null);
      await store.setMeta('k', 'v1');
      await store.setMeta('k', 'v2');
      assert.equal(await store.getMeta('k'), 'v2');
    });

    it('rotates credentials: previous one found only in its grace window, kept when the agent came back with it, gone once confirmed or revoked', async (t) => {
      if (skip) return t.skip(skip);
      const agent = id(900_001);
      await store.upsertAgentReport(agent, { name: 'rot' }, 100);
      assert.equal(await store.credentials.requestRotation([agent], 1000), 0, 'no credential yet: nothing to rotate');
      await store.setAgentCredential(agent, 'c1');
      assert.equal(await store.credentials.requestRotation([agent, id(999_997)], 1000), 1);
      assert.deepEqual(await store.credentials.listRequestedRotations(), [agent]);
      assert.equal(await store.credentials.rotateCredential(agent, 'c2', { keepPrevious: false, previousUntil: 2000, onlyIfRequested: true }), true);
      assert.deepEqual(await store.credentials.listRequestedRotations(), []);
      assert.equal(await store.credentials.rotateCredential(agent, 'cX', { keepPrevious: false, previousUntil: 2000, onlyIfRequested: true }), false, 'the request was taken');
      assert.equal((await store.findAgentByCredentialHash('c2'))?.id, agent);
      assert.equal(await store.findAgentByCredentialHash('c1'), null);
      assert.equal(await store.credentials.findAgentByPreviousCredentialHash('c1', 1999), agent);
      assert.equal(await store.credentials.findAgentByPreviousCredentialHash('c1', 2000), null, 'the grace window ends');
      // The agent came back with c1 (it never took c2): c1 stays the previous one, with its expiry.
      await store.credentials.rotateCredential(agent, 'c3', { keepPrevious: true, previousUntil: 9000 });
      assert.deepEqual(await store.credentials.getRotation(agent), { agentId: agent, requestedAt: null, previousHash: 'c1', previousExpiresAt: 2000 });
      assert.equal(await store.credentials.findAgentByPreviousCredentialHash('c2', 1500), null);
      await store.credentials.confirmCredential(agent);
      assert.equal(await store.credentials.getRotation(agent), null);
      assert.equal(await store.credentials.findAgentByPreviousCredentialHash('c1', 1500), null);
      await store.credentials.requestRotation([agent], 3000);
      await store.credentials.rotateCredential(agent, 'c4', { keepPrevious: false, previousUntil: 10_000 });
      await store.revokeAgent(agent, 4000);
      assert.equal(await store.credentials.findAgentByPreviousCredentialHash('c3', 5000), null, 'a revoked agent has no credential at all');
    });

    it('claims an agent\'s first credential once: never over an enrolled, revoked or unknown agent', async (t) => {
      if (skip) return t.skip(skip);
      await store.upsertAgentReport(id(800_001), { name: 'claim-1' }, 1);
      const [a, b] = await Promise.all([store.claimAgentCredential(id(800_001), 'cafe01'), store.claimAgentCredential(id(800_001), 'cafe02')]);
      assert.equal(Number(a) + Number(b), 1, 'exactly one of two concurrent claims wins');
      const kept = (await store.getAgent(id(800_001)))!.credentialHash;
      assert.equal(await store.claimAgentCredential(id(800_001), 'cafe03'), false);
      assert.equal((await store.getAgent(id(800_001)))!.credentialHash, kept);
      assert.equal(await store.claimAgentCredential(id(800_999), 'cafe04'), false, 'unknown agent');
      await store.upsertAgentReport(id(800_002), { name: 'claim-2' }, 1);
      await store.revokeAgent(id(800_002), 2);
      assert.equal(await store.claimAgentCredential(id(800_002), 'cafe05'), false, 'revoked agent');
      assert.equal(await store.findAgentByCredentialHash('cafe05'), null);
    });

    it('tells which touched agents are marked offline, so the replica talking to them can set them online again', async (t) => {
      if (skip) return t.skip(skip);
      await store.upsertAgentReport(id(800_020), { name: 'touch-1' }, 1);
      await store.upsertAgentReport(id(800_021), { name: 'touch-2' }, 1);
      await store.setAgentStatus(id(800_020), 'offline', 2);
      const offline = await store.touchAgents([
        { id: id(800_020), lastSeenAt: 3, lastSequenceNum: 1 },
        { id: id(800_021), lastSeenAt: 3, lastSequenceNum: 1 },
        { id: id(800_999), lastSeenAt: 3, lastSequenceNum: 1 },
      ]);
      assert.deepEqual(offline, [id(800_020)]);
      assert.deepEqual(await store.touchAgents([]), []);
    });

    it('deletes a revoked agent with its events and per-agent revisions; refuses one that is not revoked', async (t) => {
      if (skip) return t.skip(skip);
      await store.upsertAgentReport(id(800_010), { name: 'gone-1' }, 1);
      await store.upsertAgentReport(id(800_011), { name: 'stays-1' }, 1);
      await store.appendEvents([
        { at: 1, type: 'agent.online', agentId: id(800_010), data: {} },
        { at: 2, type: 'agent.offline', agentId: id(800_010), data: {} },
        { at: 3, type: 'agent.online', agentId: id(800_011), data: {} },
      ]);
      await store.rollouts.setAgentRevisions('web', [id(800_010), id(800_011)], 1);
      await store.claimAgentCredential(id(800_010), 'gone-1-hash');
      assert.equal(await store.credentials.requestRotation([id(800_010)], 2), 1);
      await assert.rejects(store.deleteAgent(id(800_010)), (e: Error & { code?: string }) => e.code === 'AGENT_NOT_REVOKED' && /gone-1.*is online.*revoke it first/.test(e.message));
      assert.ok(await store.getAgent(id(800_010)), 'refused: nothing deleted');
      await store.revokeAgent(id(800_010), 5);
      const res = await store.deleteAgent(id(800_010));
      assert.equal(res.agent.name, 'gone-1');
      assert.equal(res.events, 2);
      assert.equal(await store.getAgent(id(800_010)), null);
      assert.deepEqual(await store.listEvents({ agentId: id(800_010) }), []);
      assert.equal((await store.listEvents({ agentId: id(800_011) })).length, 1, "another agent's events stay");
      const revisions = (await store.rollouts.listAgentRevisions()).filter((r) => r.deployment === 'web').map((r) => r.agentId);
      assert.deepEqual(revisions, [id(800_011)]);
      assert.equal(await store.credentials.getRotation(id(800_010)), null, 'its credential rotation state went with it');
      await assert.rejects(store.deleteAgent(id(800_010)), AgentNotFoundError);
      // The uid is free again: it can be reported (enrolled) anew.
      assert.equal((await store.upsertAgentReport(id(800_010), { name: 'back' }, 9)).status, 'online');
    });
  });
}
