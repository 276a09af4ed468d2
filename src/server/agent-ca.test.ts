import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentCa, MAX_CSR_BYTES, agentIdOfCertificate } from './agent-ca.js';
import { compileServerOptions } from './options.js';
import { TestCa } from '../testkit/test-ca.js';

const run = promisify(execFile);
const ID = '0190f5a2-3b4c-7d8e-9f00-112233445566';

describe('agent CA', () => {
  let dir: string;
  let ca: TestCa;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-agent-ca-'));
    ca = await TestCa.create(dir, 'agents');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses a start with a CA pair that does not load, naming the flag', async () => {
    const server = await ca.issue('not-a-ca');
    assert.throws(() => AgentCa.load({ certFile: join(dir, 'missing.crt'), keyFile: ca.caKeyFile, validityMs: 1000 }), /--agent-ca-cert .*missing\.crt: cannot read it/);
    assert.throws(() => AgentCa.load({ certFile: server.certFile, keyFile: server.keyFile, validityMs: 1000 }), /--agent-ca-cert .*: not a CA certificate/);
    assert.throws(() => AgentCa.load({ certFile: ca.caFile, keyFile: server.keyFile, validityMs: 1000 }), /--agent-ca-key .*the key does not belong to the certificate/);
  });

  it('binds the agent id in the certificate it issues, and refuses oversized or non-PEM CSRs', async () => {
    const agentCa = AgentCa.load({ certFile: ca.caFile, keyFile: ca.caKeyFile, validityMs: 3_600_000 });
    await assert.rejects(agentCa.issue(ID, 'x'.repeat(MAX_CSR_BYTES + 1)), /CSR is larger than 8192 bytes/);
    await assert.rejects(agentCa.issue(ID, 'hello'), /CSR is not PEM/);
    await run('openssl', ['req', '-new', '-nodes', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-subj', `/CN=${ID}`, '-keyout', join(dir, 'a.key'), '-out', join(dir, 'a.csr')]);
    const issued = await agentCa.issue(ID, await readFile(join(dir, 'a.csr'), 'utf8'));
    const cert = new X509Certificate(issued.certPem);
    assert.equal(agentIdOfCertificate(cert.subject.replace(/^CN=/, ''), cert.subjectAltName), ID);
    assert.ok(cert.checkIssued(new X509Certificate(await ca.caPem)));
    assert.ok(cert.checkPrivateKey(createPrivateKey(await readFile(join(dir, 'a.key'), 'utf8'))));
    assert.equal(cert.ca, false);
    assert.equal(agentIdOfCertificate(ID, 'URI:urn:corral:agent:another'), null, 'CN and SAN must agree');
  });

  it('compiles the agent CA options: both files, with --tls-cert, validity at least 10 s', async () => {
    const tls = { tlsCert: 'tls.crt', tlsKey: 'tls.key' };
    assert.throws(() => compileServerOptions({ ...tls, agentCaCert: 'a.crt' }), /--agent-ca-cert and --agent-ca-key go together/);
    assert.throws(() => compileServerOptions({ agentCaCert: 'a.crt', agentCaKey: 'a.key' }), /--agent-ca-cert needs --tls-cert/);
    assert.throws(() => compileServerOptions({ ...tls, agentCaCert: 'a.crt', agentCaKey: 'a.key', agentCertValiditySeconds: 5 }), /at least 10 seconds/);
    assert.equal(compileServerOptions({ ...tls, agentCaCert: 'a.crt', agentCaKey: 'a.key' }).agentCa?.validityMs, 30 * 24 * 3600 * 1000);
    assert.equal(compileServerOptions({}).agentCa, null);
  });
});
