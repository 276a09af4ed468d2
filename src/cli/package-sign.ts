/** `corral package sign`: the publisher's ed25519 signature of an archive's sha256, written beside it. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { PUBLISHER_SIGNATURE_SUFFIX, PublisherKeyError, signDigestWith } from '../protocol/index.js';
import { CliError } from './exit-codes.js';

/** Signs `file` with the PEM key in `keyFile`; writes FILE.sig (hex). Throws CliError naming what was wrong. */
export async function signPackage(file: string, keyFile: string): Promise<{ sha256: string; signatureFile: string; publicKeyPem: string }> {
  let pem: string;
  try {
    pem = await readFile(keyFile, 'utf8');
  } catch (e) {
    throw new CliError(`cannot read --key ${keyFile}: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT');
  }
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT');
  }
  const sha256 = hash.digest('hex');
  let signed: { signature: string; publicKeyPem: string };
  try {
    signed = signDigestWith(pem, sha256);
  } catch (e) {
    if (e instanceof PublisherKeyError) throw new CliError(`--key ${keyFile}: ${e.message}`, 1, e.code);
    throw e;
  }
  const signatureFile = `${file}${PUBLISHER_SIGNATURE_SUFFIX}`;
  await writeFile(signatureFile, `${signed.signature}\n`);
  return { sha256, signatureFile, publicKeyPem: signed.publicKeyPem };
}
