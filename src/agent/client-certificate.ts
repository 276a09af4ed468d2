/**
 * The agent's TLS client certificate for mTLS (`--mtls`), through OpAMP's
 * CSR flow: the agent makes its own key pair (EC P-256, `mtls-key.pem`, mode
 * 0600 in the data dir, never sent anywhere), sends a CSR over a connection
 * authenticated with its own credential, and keeps the certificate the server
 * offers (`mtls-cert.pem`). The pair is presented on every later TLS
 * connection. A certificate past 2/3 of its lifetime is renewed with a new
 * CSR for the same key, without re-enrolling.
 *
 * `@peculiar/x509` (to build the CSR) is loaded only when a CSR is made.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from './atomic-write.js';

const KEY_FILE = 'mtls-key.pem';
const CERT_FILE = 'mtls-cert.pem';
/** Renew once this share of the certificate's lifetime has passed. */
const RENEW_AT = 2 / 3;
/** A CSR with no answer is sent again after this long (on a later check). */
const RETRY_MS = 30_000;

export interface ClientKeyPair {
  cert: string;
  key: string;
}

export class ClientCertificate {
  private pair: ClientKeyPair | null = null;
  private validFromMs = 0;
  private validToMs = 0;
  private requestedAtMs: number | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly log: Logger,
  ) {
    this.loadFromDisk();
  }

  /** The key and certificate to present, or null before the server issued one. */
  get current(): ClientKeyPair | null {
    return this.pair;
  }

  get keyFile(): string {
    return join(this.dataDir, KEY_FILE);
  }

  get certFile(): string {
    return join(this.dataDir, CERT_FILE);
  }

  /** Whether a CSR is due now: no certificate, or one past 2/3 of its lifetime, and none asked for in the last RETRY_MS. */
  due(now = Date.now()): boolean {
    if (this.requestedAtMs !== null && now - this.requestedAtMs < RETRY_MS) return false;
    if (!this.pair) return true;
    return now >= this.validFromMs + (this.validToMs - this.validFromMs) * RENEW_AT;
  }

  /** A PEM CSR for our key (made on first use), subject CN=`agentId`; marks a request as outstanding. */
  async csr(agentId: string, now = Date.now()): Promise<string> {
    // Counted as asked even if making it fails: retried after RETRY_MS, not on every check.
    this.requestedAtMs = now;
    const keyPem = this.ensureKey();
    // @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill loaded first.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    const alg = { name: 'ECDSA', namedCurve: 'P-256' };
    const privateKey = createPrivateKey(keyPem);
    const keys = {
      privateKey: await webcrypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']),
      publicKey: await webcrypto.subtle.importKey('spki', createPublicKey(privateKey).export({ type: 'spki', format: 'der' }), alg, true, ['verify']),
    };
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: `CN=${agentId}`, keys, signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } });
    return csr.toString('pem');
  }

  /** Keeps a certificate the server offered, if it is for our key; returns false (and logs) otherwise. */
  accept(certPem: string): boolean {
    const key = existsSync(this.keyFile) ? readFileSync(this.keyFile, 'utf8') : null;
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
      if (!key || !cert.checkPrivateKey(createPrivateKey(key))) throw new Error('it is not for our key');
    } catch (e) {
      this.log.error({ err: (e as Error).message }, 'refused the client certificate the server offered');
      return false;
    }
    writeFileAtomic(this.certFile, certPem, 0o644);
    this.requestedAtMs = null;
    this.use({ cert: certPem, key }, cert);
    this.log.info({ validTo: cert.validTo, serialNumber: cert.serialNumber }, 'stored our new client certificate');
    return true;
  }

  /** Drops the certificate (it names an instance uid we no longer use); the key stays for the next CSR. */
  forget(): void {
    rmSync(this.certFile, { force: true });
    this.pair = null;
    this.requestedAtMs = null;
    this.log.info({ file: this.certFile }, 'dropped our client certificate: it named our previous instance uid');
  }

  private use(pair: ClientKeyPair, cert: X509Certificate): void {
    this.pair = pair;
    this.validFromMs = Date.parse(cert.validFrom);
    this.validToMs = Date.parse(cert.validTo);
  }

  private loadFromDisk(): void {
    if (!existsSync(this.keyFile) || !existsSync(this.certFile)) return;
    try {
      const key = readFileSync(this.keyFile, 'utf8');
      const certPem = readFileSync(this.certFile, 'utf8');
      const cert = new X509Certificate(certPem);
      if (!cert.checkPrivateKey(createPrivateKey(key))) throw new Error('the certificate is not for our key');
      this.use({ cert: certPem, key }, cert);
    } catch (e) {
      // A new CSR replaces it.
      this.log.warn({ err: (e as Error).message, file: this.certFile }, 'ignoring our stored client certificate');
    }
  }

  private ensureKey(): string {
    if (existsSync(this.keyFile)) return readFileSync(this.keyFile, 'utf8');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileAtomic(this.keyFile, pem, 0o600);
    this.log.info({ file: this.keyFile }, 'made our mTLS key pair');
    return pem;
  }
}
