/**
 * A certificate authority made by `openssl` in a temp dir, for tests that
 * need real TLS: a CA, and server certificates it signs for 127.0.0.1 and
 * localhost. Nothing here is trusted by the system.
 *
 *   const ca = await TestCa.create(dir);
 *   const server = await ca.issue('server');  // { certFile, keyFile, fingerprint }
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { X509Certificate } from 'node:crypto';

const run = promisify(execFile);

export interface IssuedCert {
  certFile: string;
  keyFile: string;
  certPem: string;
  keyPem: string;
  /** `sha256:<64 hex>`, as `--server-fingerprint` takes it. */
  fingerprint: string;
}

export class TestCa {
  private serial = 0;

  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly caFile: string,
    readonly caKeyFile: string,
  ) {}

  /** Makes a new CA (EC P-256, valid 2 days) under `dir`, its files named after `name`. */
  static async create(dir: string, name = 'test-ca'): Promise<TestCa> {
    const caFile = join(dir, `${name}.crt`);
    const caKeyFile = join(dir, `${name}.key`);
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', caKeyFile, '-out', caFile]);
    return new TestCa(dir, name, caFile, caKeyFile);
  }

  get caPem(): Promise<string> {
    return readFile(this.caFile, 'utf8');
  }

  /** Issues a server certificate for 127.0.0.1 and localhost (and `hosts`), signed by this CA. */
  async issue(name: string, hosts: string[] = []): Promise<IssuedCert> {
    const base = join(this.dir, `${this.name}-${name}-${++this.serial}`);
    const keyFile = `${base}.key`;
    const csrFile = `${base}.csr`;
    const certFile = `${base}.crt`;
    const extFile = `${base}.ext`;
    const san = ['IP:127.0.0.1', 'DNS:localhost', ...hosts.map((h) => (/^[\d.]+$/.test(h) ? `IP:${h}` : `DNS:${h}`))].join(',');
    await writeFile(extFile, `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
    await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', keyFile, '-out', csrFile]);
    await run('openssl', ['x509', '-req', '-in', csrFile, '-CA', this.caFile, '-CAkey', this.caKeyFile, '-CAcreateserial', '-days', '2', '-extfile', extFile, '-out', certFile]);
    const certPem = await readFile(certFile, 'utf8');
    const keyPem = await readFile(keyFile, 'utf8');
    const fingerprint = `sha256:${new X509Certificate(certPem).fingerprint256.replace(/:/g, '').toLowerCase()}`;
    return { certFile, keyFile, certPem, keyPem, fingerprint };
  }
}
