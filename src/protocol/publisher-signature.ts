/**
 * Publisher signatures: a package's publisher signs the artifact's sha256
 * digest with their own ed25519 key, kept off the server
 * (`corral package sign --key FILE pkg.tar.gz` writes `pkg.tar.gz.sig`);
 * `corral package push` sends it in PUBLISHER_SIGNATURE_HEADER; the server
 * stores it beside its own signature and passes it on in the deployment
 * spec; agents whose policy pins publisher keys refuse artifacts no pinned
 * key signed. So a compromised server cannot ship code to those agents.
 */
import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';

export const PUBLISHER_SIGNATURE_HEADER = 'x-corral-publisher-signature';
/** The signature file `corral package sign` writes beside the archive. */
export const PUBLISHER_SIGNATURE_SUFFIX = '.sig';

export class PublisherKeyError extends Error {
  readonly code = 'INVALID_KEY';
}

/** Parses an ed25519 public key (PEM, SPKI). Throws PublisherKeyError. */
export function publisherPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (e) {
    throw new PublisherKeyError(`not a PEM public key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new PublisherKeyError(`an ed25519 key is required, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return key;
}

/** Signs a sha256 digest (hex) with an ed25519 private key (PEM); returns the signature as hex. Throws PublisherKeyError. */
export function signDigestWith(privateKeyPem: string, sha256Hex: string): { signature: string; publicKeyPem: string } {
  let key: KeyObject;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (e) {
    throw new PublisherKeyError(`not a PEM private key: ${(e as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new PublisherKeyError(`an ed25519 key is required, got ${key.asymmetricKeyType ?? 'unknown'}`);
  return {
    signature: sign(null, Buffer.from(sha256Hex, 'hex'), key).toString('hex'),
    publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** Whether `signatureHex` is `key`'s signature of the digest. */
export function publisherSigned(key: KeyObject, sha256Hex: string, signatureHex: string): boolean {
  return verify(null, Buffer.from(sha256Hex, 'hex'), key, Buffer.from(signatureHex, 'hex'));
}
