/**
 * Issue 10's story end to end, through the real CLI against a real server
 * and agents: an admin creates an operator scoped to env=staging and a
 * viewer; the operator deploys to staging and is refused for prod (nothing
 * changes); the viewer reads but cannot write; the audit log names each
 * action with its user and outcome; a row altered in the database makes
 * `corral audit verify` fail naming that record.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Fleet } from '../../src/testkit/fleet.js';
import { runCorral } from '../../src/testkit/processes.js';

interface AuditRecord {
  id: number;
  actor: { name: string };
  action: string;
  target: Record<string, unknown>;
  outcome: { status: number; result: string; message: string };
}

describe('users, scoped roles and the audit log together', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';
  const tokens: Record<'operator' | 'viewer', string> = { operator: '', viewer: '' };

  /** The CLI as one of the users, with its own (empty) config dir. */
  const as = (who: 'operator' | 'viewer', ...args: string[]) =>
    runCorral(args, { CORRAL_SERVER: fleet.url, CORRAL_TOKEN: tokens[who], XDG_CONFIG_HOME: join(work, `${who}-xdg`) });

  async function userWithToken(name: string, role: string): Promise<string> {
    const created = await fleet.cli('user', 'create', name, '--role', role);
    assert.equal(created.code, 0, created.stderr);
    const minted = await fleet.cli('user', 'token', 'create', name, '--name', 'test', '-o', 'json');
    assert.equal(minted.code, 0, minted.stderr);
    return (JSON.parse(minted.stdout) as { token: string }).token;
  }

  async function audit(): Promise<AuditRecord[]> {
    const res = await fleet.cli('audit', '-o', 'json', '--limit', '1000');
    assert.equal(res.code, 0, res.stderr);
    return (JSON.parse(res.stdout) as { records: AuditRecord[] }).records;
  }

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-users-audit-'));
    const staging = await fleet.startAgent({ name: 'staging-1', labels: { env: 'staging' } });
    const prod = await fleet.startAgent({ name: 'prod-1', labels: { env: 'prod' } });
    await fleet.awaitAgent(staging, (a) => a.status === 'online');
    await fleet.awaitAgent(prod, (a) => a.status === 'online');
    const dir = join(work, 'app');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: app\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
    const out = join(work, 'app.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
    tokens.operator = await userWithToken('stella', 'operator:env=staging');
    tokens.viewer = await userWithToken('victor', 'viewer');
  });

  after(async () => {
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('lets the scoped operator deploy to staging only, and the viewer only read', async () => {
    const staged = await as('operator', 'deploy', 'app-staging', '--package', 'app@1.0.0', '-s', 'env=staging');
    assert.equal(staged.code, 0, staged.stderr);

    const prod = await as('operator', 'deploy', 'app-prod', '--package', 'app@1.0.0', '-s', 'env=prod');
    assert.notEqual(prod.code, 0, 'deploying to prod must be refused');
    assert.match(prod.stderr, /prod-1/, 'the refusal names the agent outside the scope');
    const names = ((await fleet.api<{ deployments: { name: string }[] }>('GET', '/api/v1/deployments')).body.deployments).map((d) => d.name);
    assert.deepEqual(names, ['app-staging'], 'the refused deploy changed nothing');

    const listed = await as('viewer', 'agents');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /staging-1/);
    assert.match(listed.stdout, /prod-1/);
    const write = await as('viewer', 'deploy', 'app-viewer', '--package', 'app@1.0.0', '-s', 'env=staging');
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /needs role operator; user victor has viewer/);
    const labels = await as('viewer', 'label', 'staging-1', 'team=x');
    assert.notEqual(labels.code, 0, 'a viewer cannot relabel');
    assert.match(labels.stderr, /needs role operator/);
  });

  it('records each action with its user and outcome, and verify names a row altered in the database', async () => {
    const records = await audit();
    const deploys = records.filter((r) => r.action === 'POST /api/v1/deployments');
    const by = (name: string, result: string) => deploys.filter((r) => r.actor.name === name && r.outcome.result === result);
    assert.equal(by('stella', 'ok').length, 1, JSON.stringify(deploys));
    assert.equal(by('stella', 'denied').length, 1, JSON.stringify(deploys));
    assert.equal(by('stella', 'denied')[0]!.outcome.status, 403);
    assert.equal(by('victor', 'denied').length, 1, JSON.stringify(deploys));
    assert.ok(records.some((r) => r.actor.name === 'admin' && r.action === 'POST /api/v1/users'), 'the admin creating users is recorded');
    assert.ok(!records.some((r) => r.actor.name === 'victor' && r.outcome.result === 'ok'), 'the viewer changed nothing');

    const intact = await fleet.cli('audit', 'verify');
    assert.equal(intact.code, 0, intact.stderr);
    const victim = by('stella', 'ok')[0]!.id;
    const db = new SqliteDatabase(join(fleet.root, 'server', 'corral.db'));
    try {
      db.pragma('busy_timeout = 5000');
      db.prepare('update audit_log set actor = ? where id = ?').run('admin', victim);
    } finally {
      db.close();
    }
    const tampered = await fleet.cli('audit', 'verify');
    assert.equal(tampered.code, 1);
    assert.match(tampered.stderr, new RegExp(`record ${victim} was altered`));
  });
});
