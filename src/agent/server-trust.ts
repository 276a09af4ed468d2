/**
 * How the agent verifies the server over TLS: Node's default (system) CAs,
 * the CAs of `--ca-file`, or a pinned certificate (`--server-fingerprint
 * sha256:...`). With a pin the chain and host name are not checked: the
 * certificate itself is the trust (as with an SSH host key).
 *
 * The TLS socket is opened and verified before any byte of the request (and
 * its bearer credential) is written; the request then runs on it.
 */
import { connect, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';

export interface ServerTrust {
  /** PEM CAs to trust instead of the system ones; null for the system CAs. */
  caPem: string | null;
  /** Pinned sha256 of the server certificate (DER), as 64 lower-case hex digits; null for none. */
  fingerprint: string | null;
}

export const SYSTEM_TRUST: ServerTrust = { caPem: null, fingerprint: null };

export class ServerTrustError extends Error {
  readonly code = 'INVALID_ARGUMENT';
}

/** Reads `--ca-file`; throws ServerTrustError naming the flag and what is wrong. */
export function readCaFile(flag: string, path: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ServerTrustError(`${flag} ${path}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new ServerTrustError(`${flag} ${path}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`);
  return text;
}

/** Parses `sha256:AB:CD:...` or `sha256:abcd...` (64 hex digits) into lower-case hex. */
export function parseFingerprint(flag: string, value: string): string {
  const m = /^sha256:([0-9A-Fa-f:]+)$/.exec(value.trim());
  const hex = m ? m[1]!.replace(/:/g, '').toLowerCase() : '';
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new ServerTrustError(`${flag} must be sha256: followed by 64 hex digits (colons allowed), got "${value.slice(0, 120)}"`);
  return hex;
}

/** The sha256 fingerprint of a certificate as Node reports it (AB:CD:...) in the form parseFingerprint returns. */
function normalized(fingerprint256: string): string {
  return fingerprint256.replace(/:/g, '').toLowerCase();
}

/**
 * Opens a TLS connection to `url` (https:// or wss://) and resolves once the
 * server is verified by `trust`; rejects with the reason otherwise.
 * `clientCert`: a client certificate to present (mTLS), if any.
 */
export function dialTls(url: URL, trust: ServerTrust, timeoutMs = 10_000, clientCert: { cert: string; key: string } | null = null): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = connect({
      host,
      port: Number(url.port || 443),
      servername: /^[\d.]+$|:/.test(host) ? undefined : host,
      ALPNProtocols: ['http/1.1'],
      ...(trust.caPem ? { ca: trust.caPem } : {}),
      // mTLS (--mtls): our certificate from the server's agent CA.
      ...(clientCert ? { cert: clientCert.cert, key: clientCert.key } : {}),
      // With a pin, the pinned certificate is checked below instead of the chain.
      rejectUnauthorized: trust.fingerprint === null,
    });
    const timer = setTimeout(() => socket.destroy(new Error(`TLS handshake with ${url.host} timed out after ${timeoutMs} ms`)), timeoutMs);
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      if (trust.fingerprint !== null) {
        const got = normalized(socket.getPeerCertificate().fingerprint256 ?? '');
        if (got !== trust.fingerprint) {
          socket.destroy();
          return reject(new Error(`server certificate sha256:${got} is not the pinned sha256:${trust.fingerprint}`));
        }
      }
      resolve(socket);
    });
  });
}
