/**
 * The CA the server signs agents' client certificates with (`--agent-ca-cert`,
 * `--agent-ca-key`), for mTLS through OpAMP's CSR flow: the agent keeps its
 * private key and sends a CSR (ConnectionSettingsRequest); the server signs
 * its public key into a certificate that binds the agent id (CN and the URI
 * SAN `urn:corral:agent:<id>`), for client authentication only.
 *
 * `@peculiar/x509` (CSR parsing, certificate building) is loaded only when a
 * CA is configured: Node has no API to issue certificates.
 */
import { X509Certificate, createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ValidationError } from './errors.js';
import { MAX_CSR_BYTES } from './opamp/limits.js';

/** A CSR larger than this is refused before it is parsed (the OpAMP edge refuses the whole message first). */
export { MAX_CSR_BYTES };
const AGENT_URI_PREFIX = 'urn:corral:agent:';
const ALLOWED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1']);
const MIN_RSA_BITS = 2048;

export interface AgentCaFiles {
  certFile: string;
  keyFile: string;
  /** How long an issued certificate is valid. */
  validityMs: number;
}

/** A CSR the server will not sign; `message` says why (sent back to the agent and recorded). */
export class CsrRefusedError extends Error {
  readonly code = 'CSR_REFUSED';
}

export interface IssuedAgentCertificate {
  certPem: string;
  caPem: string;
  notAfter: Date;
  serialNumber: string;
}

function read(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ValidationError(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, flag);
  }
}

/** The agent id a client certificate from the agent CA names (its CN), or null when it names none. */
export function agentIdOfCertificate(subjectCn: string | undefined, subjectAltName: string | undefined): string | null {
  if (!subjectCn || !/^[0-9a-f-]{36}$/i.test(subjectCn)) return null;
  // Both must agree: a certificate this CA issued carries the id twice.
  if (!(subjectAltName ?? '').split(', ').includes(`URI:${AGENT_URI_PREFIX}${subjectCn}`)) return null;
  return subjectCn.toLowerCase();
}

export class AgentCa {
  private constructor(
    readonly caPem: string,
    private readonly caCert: X509Certificate,
    private readonly caKey: KeyObject,
    private readonly validityMs: number,
  ) {}

  /** Reads and checks the CA pair; throws ValidationError naming the flag and what is wrong. */
  static load(files: AgentCaFiles): AgentCa {
    const certPem = read('--agent-ca-cert', files.certFile);
    const keyPem = read('--agent-ca-key', files.keyFile);
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(certPem);
    } catch (e) {
      throw new ValidationError(`--agent-ca-cert ${files.certFile}: not a PEM certificate (${(e as Error).message})`, '--agent-ca-cert');
    }
    if (!cert.ca) throw new ValidationError(`--agent-ca-cert ${files.certFile}: not a CA certificate (basicConstraints CA:TRUE missing)`, '--agent-ca-cert');
    let key: KeyObject;
    try {
      key = createPrivateKey(keyPem);
      if (!cert.checkPrivateKey(key)) throw new Error('the key does not belong to the certificate');
    } catch (e) {
      throw new ValidationError(`--agent-ca-key ${files.keyFile}: ${(e as Error).message}`, '--agent-ca-key');
    }
    if (key.asymmetricKeyType !== 'ec' && key.asymmetricKeyType !== 'rsa') {
      throw new ValidationError(`--agent-ca-key ${files.keyFile}: an EC or RSA key is needed, got ${key.asymmetricKeyType}`, '--agent-ca-key');
    }
    return new AgentCa(certPem, cert, key, files.validityMs);
  }

  /**
   * Signs the CSR for `agentId`. Throws CsrRefusedError for a CSR that is too
   * large, not PEM, badly signed, with a weak key, or whose subject names
   * anything but `agentId` (an empty subject is fine: the id is bound here).
   */
  async issue(agentId: string, csrPem: string, now = new Date()): Promise<IssuedAgentCertificate> {
    if (Buffer.byteLength(csrPem) > MAX_CSR_BYTES) throw new CsrRefusedError(`CSR is larger than ${MAX_CSR_BYTES} bytes`);
    if (!csrPem.includes('-----BEGIN CERTIFICATE REQUEST-----')) throw new CsrRefusedError('CSR is not PEM (expected -----BEGIN CERTIFICATE REQUEST-----)');
    // @peculiar/x509 (through tsyringe) needs the Reflect metadata polyfill loaded first.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      throw new CsrRefusedError(`CSR does not parse: ${(e as Error).message}`);
    }
    checkPublicKey(Buffer.from(csr.publicKey.rawData));
    let signed = false;
    try {
      signed = await csr.verify();
    } catch (e) {
      throw new CsrRefusedError(`CSR signature cannot be checked: ${(e as Error).message}`);
    }
    if (!signed) throw new CsrRefusedError('CSR signature does not verify');
    const cns = csr.subjectName.getField('CN');
    const others = csr.subjectName.toJSON().flatMap((rdn) => Object.keys(rdn)).filter((k) => k !== 'CN');
    if (others.length > 0 || cns.some((cn) => cn.toLowerCase() !== agentId) || cns.length > 1) {
      throw new CsrRefusedError(`CSR subject "${csr.subject.slice(0, 200)}" claims another identity: leave it empty or CN=${agentId}`);
    }
    const caKey = await webcrypto.subtle.importKey('pkcs8', this.caKey.export({ type: 'pkcs8', format: 'der' }), this.keyAlgorithm(), false, ['sign']);
    // Back-dated a little for clock skew, never so far that the agent's 2/3-of-lifetime renewal falls due at once.
    const notBefore = new Date(now.getTime() - Math.min(60_000, this.validityMs / 20));
    const notAfter = new Date(now.getTime() + this.validityMs);
    const serialNumber = `01${randomBytes(15).toString('hex')}`;
    const ca = new x509.X509Certificate(this.caCert.raw);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber,
      subject: `CN=${agentId}`,
      issuer: ca.subjectName,
      notBefore,
      notAfter,
      publicKey: csr.publicKey,
      signingKey: caKey,
      signingAlgorithm: this.caKey.asymmetricKeyType === 'ec' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' },
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `${AGENT_URI_PREFIX}${agentId}` }]),
        await x509.AuthorityKeyIdentifierExtension.create(ca.publicKey),
      ],
    });
    return { certPem: cert.toString('pem'), caPem: this.caPem, notAfter, serialNumber };
  }

  private keyAlgorithm(): webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams {
    if (this.caKey.asymmetricKeyType === 'ec') {
      const curve = this.caKey.asymmetricKeyDetails?.namedCurve;
      const namedCurve = curve === 'secp384r1' ? 'P-384' : curve === 'secp521r1' ? 'P-521' : 'P-256';
      return { name: 'ECDSA', namedCurve };
    }
    return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  }
}

/** Refuses keys that are weak or of a kind we do not sign. */
function checkPublicKey(spkiDer: Buffer): void {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' });
  } catch (e) {
    throw new CsrRefusedError(`CSR public key does not load: ${(e as Error).message}`);
  }
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec' && ALLOWED_CURVES.has(details.namedCurve ?? '')) return;
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= MIN_RSA_BITS) return;
  const what = key.asymmetricKeyType === 'rsa' ? `RSA ${details.modulusLength ?? '?'} bits` : `${key.asymmetricKeyType ?? '?'} ${details.namedCurve ?? ''}`.trim();
  throw new CsrRefusedError(`CSR public key is too weak or not supported (${what}): use EC P-256/P-384/P-521 or RSA of at least ${MIN_RSA_BITS} bits`);
}
