/**
 * The server's own TLS certificate (`--tls-cert`, `--tls-key`): loaded and
 * checked at start, reloaded without a restart when either file changes
 * (polled every `pollMs`) or on SIGHUP. A new pair that does not load (bad
 * PEM, key not matching the certificate, half-written) is refused with an
 * error log and the current one keeps serving.
 */
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import { ValidationError } from './errors.js';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
}

export interface LoadedCertificate {
  cert: string;
  key: string;
  /** sha256 of the leaf certificate, AB:CD:... as Node prints it. */
  fingerprint256: string;
  validTo: string;
}

function read(flag: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new ValidationError(`${flag} ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, flag);
  }
}

/** Reads and checks the pair; throws ValidationError naming the flag and what is wrong. */
export function loadCertificate(files: TlsFiles): LoadedCertificate {
  const cert = read('--tls-cert', files.certFile);
  const key = read('--tls-key', files.keyFile);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    throw new ValidationError(`--tls-cert ${files.certFile}: not a PEM certificate (${(e as Error).message})`, '--tls-cert');
  }
  try {
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not belong to the certificate');
    createSecureContext({ cert, key });
  } catch (e) {
    throw new ValidationError(`--tls-key ${files.keyFile}: ${(e as Error).message}`, '--tls-key');
  }
  return { cert, key, fingerprint256: x509.fingerprint256, validTo: x509.validTo };
}

export class CertificateWatcher {
  private listener: ((curr: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => void) | null = null;

  constructor(
    private readonly files: TlsFiles,
    private readonly deps: { log: Logger; apply: (c: LoadedCertificate) => void },
    private readonly pollMs = 1000,
  ) {}

  /** Loads the pair again and applies it; returns false (and logs) when it does not load. */
  reload(reason: string): boolean {
    let loaded: LoadedCertificate;
    try {
      loaded = loadCertificate(this.files);
    } catch (e) {
      this.deps.log.error({ reason, error: (e as Error).message }, 'kept the current TLS certificate: the new one does not load');
      return false;
    }
    this.deps.apply(loaded);
    this.deps.log.info({ reason, fingerprint256: loaded.fingerprint256, validTo: loaded.validTo }, 'reloaded the TLS certificate');
    return true;
  }

  /** Reloads when either file changes, until `close()`. */
  watch(): void {
    if (this.listener) return;
    const onChange = (curr: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => {
      if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size) this.reload('file changed');
    };
    this.listener = onChange;
    for (const f of [this.files.certFile, this.files.keyFile]) watchFile(f, { interval: this.pollMs, persistent: false }, onChange);
  }

  close(): void {
    const listener = this.listener;
    if (!listener) return;
    this.listener = null;
    for (const f of [this.files.certFile, this.files.keyFile]) unwatchFile(f, listener);
  }
}
