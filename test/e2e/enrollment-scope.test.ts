/**
 * Scoped enrollment and trusted labels, attacked against a real server
 * process with the bare OpAMP client (what a hostile token holder would send)
 * and real agents:
 * (a) a holder of the plain enrollment token who reports
 *     `corral.label.env=prod` (and more) never gets env=prod's config — not in
 *     the very first reply, not later, not on its own credential — and is
 *     never targeted by an env=prod exec job or rollout;
 * (b) an agent enrolled with a token bound to env=staging cannot become
 *     env=prod by reporting it;
 * (c) an operator label is not overridden by a report;
 * (d) an expired or exhausted token cannot enroll (401 / 403 saying why);
 *     agents enrolled with it keep working on their own credential.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCapabilities, EXEC_CAPABILITY, recordToKeyValues, uuidBytesToString, type ServerToAgent } from '../../src/protocol/index.js';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

const CAPS =
  BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_ReportsRemoteConfig) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings) |
  BigInt(AgentCapabilities.AgentCapabilities_AcceptsPackages);

/** What an impostor says about itself: a Corral agent in prod, on the same host type as the real ones. */
function claims(name: string, env = 'prod') {
  return {
    identifyingAttributes: recordToKeyValues({ 'service.name': 'io.corral.agent', 'service.instance.id': name }),
    nonIdentifyingAttributes: recordToKeyValues({ 'host.name': name, 'os.type': 'linux', 'host.arch': 'x64', 'corral.label.env': env, 'corral.label.role': 'web', env }),
  };
}

const credentialIn = (reply: ServerToAgent | null): string | undefined =>
  reply?.connectionSettings?.opamp?.headers?.headers.find((h) => h.key === 'Authorization')?.value.replace(/^Bearer /, '');

describe('enrollment scope and trusted labels', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';
  let prod: TestAgent;
  let configHash = '';

  before(async () => {
    work = join(tmpdir(), `corral-scope-${process.pid}`);
    await mkdir(work, { recursive: true });
    fleet = await Fleet.start();
    prod = await fleet.startAgent({ name: 'prod-1', labels: { env: 'prod' } });
    const put = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/prod-secrets', {
      selector: 'env=prod',
      files: { 'secrets.env': { contentType: 'text/plain', body: 'DB_PASSWORD=hunter2\n' } },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    configHash = put.body.hash;
    await fleet.awaitAgent(prod, (x) => x.config.status === 'APPLIED' && x.config.reportedHash === configHash);
  });

  after(async () => {
    await fleet?.cli('undeploy', 'web').catch(() => undefined);
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('(a) gives a token holder claiming env=prod no env=prod config, first reply or later, and never targets it', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    const client = await WsOpampClient.connect(fleet.url, fleet.enrollmentToken);
    client.send({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: claims('impostor'), customCapabilities: { capabilities: [EXEC_CAPABILITY] } });
    const first = await client.next(1);
    assert.equal(first?.remoteConfig, undefined, 'the very first reply carries no config for a claimed label');
    const credential = credentialIn(first);
    assert.ok(credential, 'the impostor enrolled (it holds a valid token) and got its own credential');

    const seen = (await fleet.listAgents()).find((a) => a.id === id)!;
    assert.deepEqual(seen.labels, {}, 'a plain token binds no labels; reports add none');
    assert.equal(seen.claimedLabels.env, 'prod', 'the claim is shown, as a claim');
    assert.deepEqual((await fleet.listAgents('env=prod')).map((a) => a.name), ['prod-1']);
    assert.ok((await fleet.listAgents('claim.env=prod')).some((a) => a.id === id), 'an operator can still select claims, explicitly');

    // Later: the config changes and is pushed to env=prod; the impostor (still connected) gets none of it.
    const changed = await fleet.api<{ hash: string }>('PUT', '/api/v1/configs/prod-secrets', {
      selector: 'env=prod',
      files: { 'secrets.env': { contentType: 'text/plain', body: 'DB_PASSWORD=hunter3\n' } },
    });
    configHash = changed.body.hash;
    await fleet.awaitAgent(prod, (x) => x.config.status === 'APPLIED' && x.config.reportedHash === configHash);
    client.send({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: claims('impostor') });
    await client.next(2);

    // On its own credential, as a reconnecting agent: still nothing.
    const again = await WsOpampClient.connect(fleet.url, credential);
    again.send({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: claims('impostor'), customCapabilities: { capabilities: [EXEC_CAPABILITY] } });
    assert.equal((await again.next(1))?.remoteConfig, undefined);
    const viaHttp = await postOpamp(fleet.url, credential, encodeForHttp({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: claims('impostor') }));
    assert.equal(viaHttp.status, 200);
    assert.equal(viaHttp.reply?.remoteConfig, undefined);

    // An env=prod exec job runs on prod-1 only.
    const exec = await fleet.cli('exec', '-s', 'env=prod', '--', 'true');
    assert.equal(exec.code, 0, exec.stderr);
    const jobId = /job ([0-9a-f-]{36}):/.exec(exec.stderr)?.[1];
    const job = await fleet.api<{ hosts: { agentName: string; agentId: string }[] }>('GET', `/api/v1/jobs/${jobId}`);
    assert.deepEqual(job.body.hosts.map((h) => h.agentName), ['prod-1']);

    // An env=prod rollout takes prod-1 only.
    const pkg = join(work, 'web');
    await mkdir(pkg, { recursive: true });
    await writeFile(join(pkg, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: web\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sh, args: ["-c", "exec sleep 100000"]}\n');
    assert.equal((await fleet.cli('package', 'build', pkg, '--out', join(work, 'web.tar.gz'))).code, 0);
    const pushed = await fleet.cli('package', 'push', join(work, 'web.tar.gz'));
    assert.equal(pushed.code, 0, pushed.stderr);
    const deployed = await fleet.api<{ rollout: string | null }>('POST', '/api/v1/deployments', { name: 'web', package: 'web', version: '1.0.0', selector: 'env=prod', values: {}, rollout: { canary: '1' } });
    assert.equal(deployed.status, 200, JSON.stringify(deployed.body));
    // The driver plans the rollout's agents on its first tick.
    const planned = await eventually(
      async () => {
        const r = await fleet.api<{ agents: { id: string; name: string }[] }>('GET', `/api/v1/rollouts/${deployed.body.rollout}?agents=true`);
        return r.body.agents.length > 0 ? r.body.agents : undefined;
      },
      { what: 'the rollout to plan its agents' },
    );
    assert.deepEqual(planned.map((a) => a.name), ['prod-1']);

    for (const reply of [...client.replies, ...again.replies]) {
      assert.equal(reply.remoteConfig, undefined, 'no config offer, ever');
      assert.equal(reply.customMessage, undefined, 'no exec request, ever');
    }
    client.close();
    again.close();
  });

  it('(b) keeps an agent enrolled with an env=staging token in staging whatever it reports', async () => {
    // A real agent whose own flags say env=prod, enrolled with a token bound to env=staging.
    const staging = await fleet.startAgent({ name: 'staging-1', labels: { env: 'staging' }, claims: { env: 'prod' } });
    const seen = await fleet.awaitAgent(staging, (x) => x.status === 'online' && x.config.status === 'NONE');
    assert.deepEqual(seen.labels, { env: 'staging' });
    assert.deepEqual(seen.boundLabels, { env: 'staging' });
    assert.equal(seen.claimedLabels.env, 'prod');
    assert.equal(existsSync(join(staging.dataDir, 'config', 'secrets.env')), false);

    // A bare client on the same token, claiming prod in every way it can.
    const token = await fleet.tokenFor({ env: 'staging' });
    const uid = newInstanceUid();
    const first = await postOpamp(fleet.url, token, encodeForHttp({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: claims('staging-impostor') }));
    assert.equal(first.status, 200, first.text);
    assert.equal(first.reply?.remoteConfig, undefined);
    const listed = await fleet.listAgents('env=prod');
    assert.deepEqual(listed.map((a) => a.name), ['prod-1']);
    const impostor = (await fleet.listAgents('env=staging')).find((a) => a.id === uuidBytesToString(uid));
    assert.equal(impostor?.labels.env, 'staging');
  });

  it('(c) does not let a report override an operator label', async () => {
    const uid = newInstanceUid();
    const id = uuidBytesToString(uid);
    const first = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, agentDescription: claims('labelled', 'dev') }));
    assert.equal(first.status, 200, first.text);
    const credential = credentialIn(first.reply)!;
    const labelled = await fleet.cli('label', id, 'env=dev', 'tier=edge');
    assert.equal(labelled.code, 0, labelled.stderr);
    // Now it reports env=prod (and a tier) about itself, on its own credential.
    const report = await postOpamp(fleet.url, credential, encodeForHttp({ instanceUid: uid, sequenceNum: 1n, capabilities: CAPS, agentDescription: { ...claims('labelled', 'prod'), nonIdentifyingAttributes: recordToKeyValues({ 'corral.label.env': 'prod', 'corral.label.tier': 'core', tier: 'core' }) } }));
    assert.equal(report.status, 200, report.text);
    assert.equal(report.reply?.remoteConfig, undefined);
    const seen = (await fleet.listAgents()).find((a) => a.id === id)!;
    assert.deepEqual(seen.labels, { env: 'dev', tier: 'edge' });
    assert.deepEqual(seen.claimedLabels, { env: 'prod', tier: 'core' });
    assert.equal((await fleet.listAgents('env=prod')).some((a) => a.id === id), false);
  });

  it('(d) refuses enrollments with an exhausted or expired token, saying why; enrolled agents keep their credential', async () => {
    const created = await fleet.cli('token', 'create', '--name', 'one-only', '--label', 'env=prod', '--max-agents', '1', '-o', 'json');
    assert.equal(created.code, 0, created.stderr);
    const one = JSON.parse(created.stdout) as { id: string; token: string; maxAgents: number; labels: Record<string, string> };
    assert.deepEqual({ maxAgents: one.maxAgents, labels: one.labels }, { maxAgents: 1, labels: { env: 'prod' } });

    const firstUid = newInstanceUid();
    const enrolled = await postOpamp(fleet.url, one.token, encodeForHttp({ instanceUid: firstUid, sequenceNum: 0n, capabilities: CAPS }));
    assert.equal(enrolled.status, 200, enrolled.text);
    const credential = credentialIn(enrolled.reply)!;
    // Its agent is enrolled into env=prod: that is what the operator bound to the token.
    assert.equal((await fleet.listAgents('env=prod')).some((a) => a.id === uuidBytesToString(firstUid)), true);
    const second = await postOpamp(fleet.url, one.token, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: CAPS }));
    assert.equal(second.status, 403);
    assert.match(second.text, /one-only .* has enrolled its maximum of 1 agents/);
    const ws = await WsOpampClient.connect(fleet.url, one.token);
    ws.send({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: CAPS });
    assert.equal(await ws.closed(), 4003);
    assert.match(ws.closeReason, /maximum of 1 agents/);
    // The enrolled agent goes on with the same token, and with its own credential.
    assert.equal((await postOpamp(fleet.url, one.token, encodeForHttp({ instanceUid: firstUid, sequenceNum: 1n, capabilities: CAPS }))).status, 200);
    assert.equal((await postOpamp(fleet.url, credential, encodeForHttp({ instanceUid: firstUid, sequenceNum: 2n, capabilities: CAPS }))).status, 200);

    const short = await fleet.api<{ token: string; name: string; expiresAt: string }>('POST', '/api/v1/enrollment-tokens', { name: 'short-lived', expiresIn: '5s' });
    assert.equal(short.status, 201, JSON.stringify(short.body));
    const early = newInstanceUid();
    const beforeExpiry = await postOpamp(fleet.url, short.body.token, encodeForHttp({ instanceUid: early, sequenceNum: 0n, capabilities: CAPS }));
    assert.equal(beforeExpiry.status, 200, beforeExpiry.text);
    const earlyCredential = credentialIn(beforeExpiry.reply)!;
    const refused = await eventually(
      async () => {
        const r = await postOpamp(fleet.url, short.body.token, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: CAPS }));
        return r.status === 401 ? r : undefined;
      },
      { timeoutMs: 20_000, what: 'the short-lived token to expire' },
    );
    assert.match(refused.text, /short-lived .* expired/);
    await assert.rejects(WsOpampClient.connect(fleet.url, short.body.token), (e: { status?: number }) => e.status === 401);
    assert.equal((await postOpamp(fleet.url, earlyCredential, encodeForHttp({ instanceUid: early, sequenceNum: 1n, capabilities: CAPS }))).status, 200, 'an agent enrolled before expiry keeps its credential');


    const list = await fleet.cli('token', 'list');
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /one-only .*env=prod\s+1\/1 .*full/);
    assert.match(list.stdout, /short-lived .*expired/);
  });

  it('names what is wrong with a token scope', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ labels: { 'claim.env': 'prod' } }, /may not start with "claim\."/],
      [{ labels: { 'bad key!': 'x' } }, /label key "bad key!"/],
      [{ labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) }, /at most 32 labels/],
      [{ expiresIn: 'soon' }, /expiresIn: "soon" is not a duration/],
      [{ expiresAt: '2001-01-01T00:00:00Z' }, /expiresAt: .* is in the past/],
      [{ maxAgents: 0 }, /maxAgents: must be a whole number from 1/],
    ];
    for (const [body, message] of cases) {
      const res = await fleet.api<{ error: { code: string; message: string } }>('POST', '/api/v1/enrollment-tokens', { name: 'bad', ...body });
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error.message, message);
    }
    const operator = await fleet.api<{ error: { message: string } }>('PATCH', `/api/v1/agents/${await prod.instanceUid()}`, { labels: { 'claim.env': 'x' } });
    assert.equal(operator.status, 400);
    assert.match(operator.body.error.message, /claim\./);
    // Operator labels are bounded per agent, whatever the patches add up to.
    const uid = await prod.instanceUid();
    const fill = (from: number) => Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`op${from + i}`, 'v']));
    assert.equal((await fleet.api('PATCH', `/api/v1/agents/${uid}`, { labels: fill(0) })).status, 200);
    const tooMany = await fleet.api<{ error: { message: string } }>('PATCH', `/api/v1/agents/${uid}`, { labels: fill(40) });
    assert.equal(tooMany.status, 400);
    assert.match(tooMany.body.error.message, /would have 8\d operator labels: at most 64/);
    assert.equal((await fleet.api('PATCH', `/api/v1/agents/${uid}`, { labels: Object.fromEntries(Object.keys(fill(0)).map((k) => [k, null])) })).status, 200);
    const cli = await fleet.cli('token', 'create', '--max-agents', 'lots');
    assert.notEqual(cli.code, 0);
    assert.match(cli.stderr, /--max-agents "lots"/);
  });
});
