/**
 * The server's ed25519 package-signing key: created on first start, kept in
 * the store (so replicas sharing PostgreSQL sign with the same key), and
 * offered to agents so they can verify artifacts before unpacking.
 * Signatures cover the artifact's raw sha256 digest.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import type { Store } from '../store/index.js';

const META_KEY = 'signing.ed25519.private_pem';

export interface SigningKey {
  publicKeyPem: string;
  /** Signs a sha256 digest given as hex; returns the signature as hex. */
  signDigest(sha256Hex: string): string;
}

export async function loadSigningKey(store: Store): Promise<SigningKey> {
  let pem = await store.getMeta(META_KEY);
  if (pem === null) {
    const { privateKey } = generateKeyPairSync('ed25519');
    // First writer wins, so replicas starting together agree on one key.
    pem = await store.setMetaIfAbsent(META_KEY, privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  }
  const key: KeyObject = createPrivateKey(pem);
  return {
    publicKeyPem: createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString(),
    signDigest: (sha256Hex) => sign(null, Buffer.from(sha256Hex, 'hex'), key).toString('hex'),
  };
}

/** Verifies a signature made by `signDigest` (the agent does the same). */
export function verifyDigest(publicKeyPem: string, sha256Hex: string, signatureHex: string): boolean {
  return verify(null, Buffer.from(sha256Hex, 'hex'), createPublicKey(publicKeyPem), Buffer.from(signatureHex, 'hex'));
}
