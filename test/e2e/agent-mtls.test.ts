/**
 * mTLS for agents through OpAMP's CSR flow, against real processes and CAs
 * made by openssl in the test: an agent with --mtls makes its own key,
 * sends a CSR once it holds its credential, gets a certificate from the
 * server's --agent-ca-cert, presents it on its next connections, and renews
 * it (short validity here) without re-enrolling. The attacks: a certificate
 * from another CA, agent A's certificate used as agent B, a revoked agent's
 * certificate, a CSR on an enrollment-token session, a weak key, a CSR
 * claiming another identity.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import { AgentCapabilities, decodeServerToAgent, uuidBytesToString, uuidStringToBytes, type ServerToAgent } from '../../src/protocol/index.js';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { TestCa } from '../../src/testkit/test-ca.js';
import { encodeForHttp, newInstanceUid } from '../../src/testkit/opamp-client.js';
import { fetchWithCa } from '../../src/cli/ca-fetch.js';
import { AgentCa } from '../../src/server/agent-ca.js';
import { ClientCertificate } from '../../src/agent/client-certificate.js';

const run = promisify(execFile);
const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus) | BigInt(AgentCapabilities.AgentCapabilities_AcceptsOpAMPConnectionSettings);

interface Presented {
  cert?: string;
  key?: string;
  bearer?: string;
}

describe('agent mTLS (OpAMP CSR flow)', { concurrency: false }, () => {
  let dir: string;
  let fleet: Fleet;
  let serverCa: TestCa;
  let agentCa: TestCa;
  let otherCa: TestCa;
  let caPem: string;

  /** One plain-HTTP OpAMP message over TLS, presenting `as` (client certificate and/or bearer). */
  function post(uid: Uint8Array, as: Presented, extra: Parameters<typeof encodeForHttp>[0] = {}): Promise<{ status: number; reply: ServerToAgent | null }> {
    const body = encodeForHttp({ instanceUid: uid, sequenceNum: 0n, capabilities: CAPS, ...extra });
    return new Promise((resolve, reject) => {
      const req = request(
        `${fleet.url}/v1/opamp`,
        {
          method: 'POST',
          agent: false,
          ca: caPem,
          ...(as.cert ? { cert: as.cert, key: as.key } : {}),
          headers: { 'content-type': 'application/x-protobuf', ...(as.bearer ? { authorization: `Bearer ${as.bearer}` } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, reply: res.statusCode === 200 ? decodeServerToAgent(new Uint8Array(Buffer.concat(chunks))) : null }));
        },
      );
      req.once('error', reject);
      req.end(Buffer.from(body));
    });
  }

  async function api<T>(method: string, path: string): Promise<T> {
    const res = await fetchWithCa(`${fleet.url}${path}`, { method, headers: { authorization: `Bearer ${fleet.adminToken}` } }, caPem);
    assert.equal(res.status, 200, `${method} ${path}`);
    return (await res.json()) as T;
  }

  const events = async (uid: string, type: string) => (await api<{ events: { data: Record<string, unknown> }[] }>('GET', `/api/v1/events?agent=${uid}&type=${type}&limit=1000`)).events;

  /** Starts an --mtls agent and waits for its first certificate; returns it with its uid and files. */
  async function mtlsAgent(name: string): Promise<{ agent: TestAgent; uid: string; cert: string; key: string }> {
    const agent = await fleet.startAgent({ name, extraArgs: ['--ca-file', serverCa.caFile, '--mtls'] });
    const uid = await agent.instanceUid();
    const certFile = join(agent.dataDir, 'mtls-cert.pem');
    const cert = await eventually(async () => await readFile(certFile, 'utf8').catch(() => undefined), { timeoutMs: 20_000, what: `${name}'s client certificate` }).catch((e: unknown) => {
      console.error('AGENT', agent.process.stderr.slice(-4000), 'SERVER', fleet.server.stderr.slice(-3000));
      throw e;
    });
    return { agent, uid, cert, key: await readFile(join(agent.dataDir, 'mtls-key.pem'), 'utf8') };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-mtls-'));
    serverCa = await TestCa.create(dir, 'server-ca');
    agentCa = await TestCa.create(dir, 'agent-ca');
    otherCa = await TestCa.create(dir, 'other-ca');
    caPem = await serverCa.caPem;
    const tls = await serverCa.issue('server');
    fleet = await Fleet.start({
      extraServerArgs: ['--tls-cert', tls.certFile, '--tls-key', tls.keyFile, '--agent-ca-cert', agentCa.caFile, '--agent-ca-key', agentCa.caKeyFile, '--agent-cert-validity', '15'],
    });
  });
  after(async () => {
    await fleet?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('issues an --mtls agent a certificate for its own key and id, which then authenticates it without a bearer', async () => {
    const { agent, uid, cert, key } = await mtlsAgent('mtls-a');
    const x509 = new X509Certificate(cert);
    assert.equal(x509.subject, `CN=${uid}`);
    assert.match(x509.subjectAltName ?? '', new RegExp(`URI:urn:corral:agent:${uid}`));
    assert.ok(x509.verify(new X509Certificate(await agentCa.caPem).publicKey), 'signed by the agent CA');
    assert.ok(x509.checkPrivateKey((await import('node:crypto')).createPrivateKey(key)), 'for the key the agent made');
    assert.equal((await stat(join(agent.dataDir, 'mtls-key.pem'))).mode & 0o777, 0o600);
    await run('openssl', ['verify', '-CAfile', agentCa.caFile, '-purpose', 'sslclient', join(agent.dataDir, 'mtls-cert.pem')]);
    // The agent reconnects presenting it and stays online.
    await eventually(() => /"msg":"stored our new client certificate"/.test(agent.process.stderr), { what: 'the agent keeping its certificate' });
    await eventually(async () => (await events(uid, 'agent.online')).some((e) => e.data.clientCertificate === true), { what: 'mtls-a online over a connection with its client certificate' });
    await eventually(async () => (await events(uid, 'agent.certificate_issued')).length >= 1, { what: 'agent.certificate_issued recorded' });

    // The certificate alone (no bearer) is that agent.
    const byCert = await post(uuidStringToBytes(uid), { cert, key });
    assert.equal(byCert.status, 200);
    assert.equal(byCert.reply?.errorResponse, undefined);
  });

  it('renews the certificate at 2/3 of its lifetime over the authenticated connection, without enrolling again', async () => {
    const { agent, uid, cert } = await mtlsAgent('mtls-renew');
    const identity = async () => JSON.parse(await readFile(join(agent.dataDir, 'identity.json'), 'utf8')) as { credential: string };
    const credential = (await identity()).credential;
    const first = new X509Certificate(cert).serialNumber;
    const renewed = await eventually(
      async () => {
        const now = new X509Certificate(await readFile(join(agent.dataDir, 'mtls-cert.pem'), 'utf8'));
        return now.serialNumber !== first ? now : undefined;
      },
      { timeoutMs: 30_000, what: 'a renewed certificate' },
    );
    assert.equal(renewed.subject, `CN=${uid}`);
    assert.equal((await identity()).credential, credential, 'same credential: no re-enrollment');
    assert.equal((await events(uid, 'agent.enrolled')).length, 1);
    assert.match(agent.process.stderr, /"renewing":true,"msg":"sent a certificate signing request"/);
    await eventually(async () => (await api<{ status: string }>('GET', `/api/v1/agents/${uid}`)).status === 'online', { what: 'mtls-renew online' });
  });

  it("refuses a certificate from another CA, and agent A's certificate as agent B", async () => {
    const a = await mtlsAgent('mtls-x');
    const b = await mtlsAgent('mtls-y');
    // A well-formed certificate for A's id, signed by a CA the server does not use for agents.
    const forger = AgentCa.load({ certFile: otherCa.caFile, keyFile: otherCa.caKeyFile, validityMs: 3_600_000 });
    const forgedDir = join(dir, 'forged');
    await mkdir(forgedDir, { recursive: true });
    const keys = new ClientCertificate(forgedDir, pino({ level: 'silent' }));
    const forged = await forger.issue(a.uid, await keys.csr(a.uid));
    const forgedKey = await readFile(keys.keyFile, 'utf8');
    assert.equal((await post(uuidStringToBytes(a.uid), { cert: forged.certPem, key: forgedKey })).status, 401);

    // A's certificate, B's instance uid: not B.
    const asB = await post(uuidStringToBytes(b.uid), { cert: a.cert, key: a.key });
    assert.match(asB.reply?.errorResponse?.errorMessage ?? `status ${asB.status}`, /instance_uid does not belong to this credential/);
    // A's certificate with B's credential: refused outright.
    const bCredential = (JSON.parse(await readFile(join(b.agent.dataDir, 'identity.json'), 'utf8')) as { credential: string }).credential;
    assert.equal((await post(uuidStringToBytes(b.uid), { cert: a.cert, key: a.key, bearer: bCredential })).status, 401);
    // And with the enrollment token: a certificate never enrolls.
    assert.equal((await post(newInstanceUid(), { cert: a.cert, key: a.key, bearer: fleet.enrollmentToken })).status, 401);
  });

  it("refuses a revoked agent's certificate", async () => {
    const c = await mtlsAgent('mtls-revoked');
    assert.equal((await post(uuidStringToBytes(c.uid), { cert: c.cert, key: c.key })).status, 200);
    await api('DELETE', `/api/v1/agents/${c.uid}`);
    assert.equal((await post(uuidStringToBytes(c.uid), { cert: c.cert, key: c.key })).status, 401);
  });

  it('refuses a CSR on an enrollment-token session, with a weak key, claiming another identity, or oversized', async () => {
    const a = await mtlsAgent('mtls-z');
    const csrDir = join(dir, 'csr');
    await mkdir(csrDir, { recursive: true });
    const csrOf = async (name: string, args: string[]) => {
      await run('openssl', ['req', '-new', '-nodes', ...args, '-keyout', join(csrDir, `${name}.key`), '-out', join(csrDir, `${name}.csr`)]);
      return readFile(join(csrDir, `${name}.csr`));
    };
    const request = (csr: Buffer) => ({ connectionSettingsRequest: { opamp: { certificateRequest: { csr } } } });

    // Enrollment token only: the reply carries the credential offer, never a certificate.
    const uid = newInstanceUid();
    const good = await csrOf('good', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/']);
    const enrolling = await post(uid, { bearer: fleet.enrollmentToken }, request(good));
    assert.equal(enrolling.status, 200);
    assert.equal(enrolling.reply?.connectionSettings?.opamp?.certificate, undefined);
    const enrollingId = uuidBytesToString(uid);
    await eventually(async () => (await events(enrollingId, 'agent.certificate_refused')).some((e) => /enrollment token/.test(String(e.data.error))), { what: 'the refusal recorded' });

    // Authenticated as A (its certificate), but a weak key or another identity.
    const weak = await csrOf('weak', ['-newkey', 'rsa:1024', '-subj', '/']);
    const other = await csrOf('other', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', '/CN=00000000-0000-7000-8000-000000000000']);
    for (const csr of [weak, other]) {
      const r = await post(uuidStringToBytes(a.uid), { cert: a.cert, key: a.key }, request(csr));
      assert.equal(r.status, 200);
      assert.equal(r.reply?.connectionSettings?.opamp?.certificate, undefined);
    }
    await eventually(
      async () => {
        const refusals = (await events(a.uid, 'agent.certificate_refused')).map((e) => String(e.data.error));
        return refusals.some((e) => /too weak or not supported \(RSA 1024 bits\)/.test(e)) && refusals.some((e) => /claims another identity/.test(e));
      },
      { what: 'both refusals recorded' },
    );
    // An oversized CSR is refused at the edge, the whole message with it.
    const huge = await post(uuidStringToBytes(a.uid), { cert: a.cert, key: a.key }, request(Buffer.alloc(9 * 1024, 0x41)));
    assert.match(huge.reply?.errorResponse?.errorMessage ?? '', /MAX_CSR_BYTES/);
    // The same session with a good CSR gets a certificate.
    const ok = await post(uuidStringToBytes(a.uid), { cert: a.cert, key: a.key }, request(good));
    assert.match(Buffer.from(ok.reply?.connectionSettings?.opamp?.certificate?.cert ?? []).toString(), /BEGIN CERTIFICATE/);
    assert.equal(ok.reply?.connectionSettings?.opamp?.certificate?.privateKey.length, 0);
  });
});
