import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { ClientCertificate } from './client-certificate.js';
import { compileAgentOptions } from './options.js';

describe('agent client certificate (--mtls)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'corral-client-cert-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('makes its key once (0600), asks again only after 30 s without an answer, and refuses a certificate that is not for its key', async () => {
    const cert = new ClientCertificate(dir, pino({ level: 'silent' }));
    assert.equal(cert.current, null);
    assert.ok(cert.due(1_000));
    const csr = await cert.csr('0190f5a2-3b4c-7d8e-9f00-112233445566', 1_000);
    assert.match(csr, /-----BEGIN CERTIFICATE REQUEST-----/);
    assert.equal((await stat(cert.keyFile)).mode & 0o777, 0o600);
    assert.equal(cert.due(2_000), false, 'a request is outstanding');
    assert.ok(cert.due(31_001));
    assert.equal(cert.accept('-----BEGIN CERTIFICATE-----\nnot one\n-----END CERTIFICATE-----\n'), false);
    assert.equal(cert.current, null);
  });

  it('forgets its certificate (a new instance uid) but keeps its key', async () => {
    const cert = new ClientCertificate(dir, pino({ level: 'silent' }));
    await writeFile(cert.certFile, 'stale\n');
    cert.forget();
    assert.equal(existsSync(cert.certFile), false);
    assert.equal(existsSync(cert.keyFile), true);
    assert.equal(cert.current, null);
    assert.ok(cert.due(1_000_000));
  });

  it('needs an https:// server for --mtls', () => {
    assert.throws(() => compileAgentOptions({ server: 'http://corral:4320', dataDir: dir, mtls: true, policyFile: join(dir, 'none.yaml') }), /--mtls needs an https:\/\/ \(or wss:\/\/\) --server/);
    assert.equal(compileAgentOptions({ server: 'https://corral:4320', dataDir: dir, mtls: true, policyFile: join(dir, 'none.yaml') }).mtls, true);
  });
});
