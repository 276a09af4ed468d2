/**
 * TLS end to end against real processes, with CAs made by openssl in the
 * test: the server serves HTTPS and WSS itself, agents verify it with
 * --ca-file or a pinned certificate fingerprint (and refuse anything else
 * before sending a byte), the CLI takes --ca-file, and a renewed
 * certificate is served without a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCapabilities, decodeServerToAgent } from '../../src/protocol/index.js';
import { Fleet, type AgentSummaryJson } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { TestCa, type IssuedCert } from '../../src/testkit/test-ca.js';
import { encodeForHttp, newInstanceUid } from '../../src/testkit/opamp-client.js';
import { fetchWithCa } from '../../src/cli/ca-fetch.js';

/** The sha256 of the certificate the server serves now, as `sha256:<hex>`. */
function servedFingerprint(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect({ host: hostname, port: Number(port), rejectUnauthorized: false }, () => {
      resolve(`sha256:${s.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase()}`);
      s.destroy();
    });
    s.once('error', reject);
  });
}

describe('server TLS', { concurrency: false }, () => {
  let dir: string;
  let ca: TestCa;
  let otherCa: TestCa;
  let cert: IssuedCert;
  let fleet: Fleet;
  let caPem: string;

  async function agents(): Promise<AgentSummaryJson[]> {
    const res = await fetchWithCa(`${fleet.url}/api/v1/agents?selector=`, { headers: { authorization: `Bearer ${fleet.adminToken}` } }, caPem);
    assert.equal(res.status, 200);
    return ((await res.json()) as { agents: AgentSummaryJson[] }).agents;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-tls-'));
    ca = await TestCa.create(dir);
    otherCa = await TestCa.create(dir, 'other-ca');
    caPem = await ca.caPem;
    cert = await ca.issue('server');
    // The server reads the files it is given; keep them apart from the CA's own so the test can replace them.
    await copyFile(cert.certFile, join(dir, 'tls.crt'));
    await copyFile(cert.keyFile, join(dir, 'tls.key'));
    fleet = await Fleet.start({ extraServerArgs: ['--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')] });
  });
  after(async () => {
    await fleet?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves WSS and HTTPS itself: an agent with --ca-file enrolls and stays online, an HTTP agent enrolls over https, the CLI lists with --ca-file', async () => {
    assert.match(fleet.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    const agent = await fleet.startAgent({ name: 'tls-ca', extraArgs: ['--ca-file', ca.caFile] });
    await eventually(async () => (await agents()).find((a) => a.name === 'tls-ca' && a.status === 'online'), { timeoutMs: 20_000, what: 'tls-ca online' });
    await eventually(() => /"url":"wss:\/\/127\.0\.0\.1:\d+\/v1\/opamp","msg":"connected"/.test(agent.process.stderr), { what: 'the agent logging its wss connection' });

    const body = new Blob([encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 0n, capabilities: BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings) })]);
    const res = await fetchWithCa(`${fleet.url}/v1/opamp`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', authorization: `Bearer ${fleet.enrollmentToken}` }, body }, caPem);
    assert.equal(res.status, 200);
    const reply = decodeServerToAgent(new Uint8Array(await res.arrayBuffer()));
    assert.match(reply.connectionSettings?.opamp?.headers?.headers[0]?.value ?? '', /^Bearer corral_agent_/);

    const listed = await fleet.cli('agents', '-o', 'json', '--ca-file', ca.caFile);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /"tls-ca"/);
    const untrusted = await fleet.cli('agents');
    assert.notEqual(untrusted.code, 0);
    assert.match(untrusted.stderr, /cannot reach the Corral server at https:\/\/127\.0\.0\.1:\d+ \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
  });

  it('connects with a pinned certificate fingerprint, and refuses another CA or another pin before sending anything', async () => {
    const pinned = await fleet.startAgent({ name: 'tls-pin', extraArgs: ['--server-fingerprint', cert.fingerprint] });
    const wrongCa = await fleet.startAgent({ name: 'tls-wrong-ca', extraArgs: ['--ca-file', otherCa.caFile] });
    const otherPin = (await otherCa.issue('elsewhere')).fingerprint;
    const wrongPin = await fleet.startAgent({ name: 'tls-wrong-pin', extraArgs: ['--server-fingerprint', otherPin] });
    await eventually(async () => (await agents()).find((a) => a.name === 'tls-pin' && a.status === 'online'), { timeoutMs: 20_000, what: 'tls-pin online' });
    await eventually(() => /"msg":"connection failed"/.test(wrongCa.process.stderr), { what: 'the wrong-CA agent to refuse the server' });
    assert.match(wrongCa.process.stderr, /"err":"(unable to verify the first certificate|unable to get local issuer certificate)"/);
    await eventually(() => /is not the pinned sha256:/.test(wrongPin.process.stderr), { what: 'the wrong-pin agent to refuse the server' });
    const names = (await agents()).map((a) => a.name);
    assert.ok(!names.includes('tls-wrong-ca') && !names.includes('tls-wrong-pin'), names.join());
    assert.ok(pinned.process.running);
  });

  it('serves a renewed certificate without a restart, keeps the current one when the new pair is broken, and reloads on SIGHUP', async () => {
    assert.equal(await servedFingerprint(fleet.url), cert.fingerprint);
    const renewed = await ca.issue('server-renewed');
    await writeFile(join(dir, 'tls.key'), renewed.keyPem);
    await writeFile(join(dir, 'tls.crt'), renewed.certPem);
    await eventually(async () => (await servedFingerprint(fleet.url)) === renewed.fingerprint, { timeoutMs: 15_000, what: 'the renewed certificate served' });

    await writeFile(join(dir, 'tls.crt'), 'not a certificate\n');
    await eventually(() => /kept the current TLS certificate/.test(fleet.server.stderr), { timeoutMs: 15_000, what: 'the broken certificate refused' });
    assert.equal(await servedFingerprint(fleet.url), renewed.fingerprint);

    const third = await ca.issue('server-third');
    await writeFile(join(dir, 'tls.key'), third.keyPem);
    await writeFile(join(dir, 'tls.crt'), third.certPem);
    fleet.server.child.kill('SIGHUP');
    await eventually(async () => (await servedFingerprint(fleet.url)) === third.fingerprint, { timeoutMs: 15_000, what: 'the third certificate served' });
    assert.ok(fleet.server.running, 'SIGHUP reloads; it does not stop the server');
    // Agents connected before the renewals are still online.
    await eventually(async () => (await agents()).find((a) => a.name === 'tls-ca' && a.status === 'online'), { what: 'tls-ca still online' });
  });
});
