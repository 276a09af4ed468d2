/**
 * Downloads an artifact from the server into `<dir>/<sha256>.tar.gz`:
 * resumes a partial `.part` file with `Range`, then checks size, sha256 and
 * the server's ed25519 signature before the file is kept. Anything that
 * fails verification is deleted and reported; nothing unverified is ever
 * unpacked.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { DeploymentArtifact } from '../../protocol/index.js';

export class DownloadError extends Error {
  readonly code = 'DOWNLOAD_FAILED';
}

export interface DownloadTarget {
  /** http(s)://host:port of the server. */
  baseUrl: string;
  credential: string | null;
  signingKeyPem: string | null;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function sha256Of(path: string): Promise<string> {
  const h = createHash('sha256');
  await pipeline(createReadStream(path), h);
  return h.digest('hex');
}

/** The size of an artifact on the server (HEAD), for offers that carry no size (OpAMP DownloadableFile). Throws DownloadError. */
export async function artifactSize(path: string, target: DownloadTarget): Promise<number> {
  const res = await fetch(target.baseUrl + path, {
    method: 'HEAD',
    headers: target.credential ? { authorization: `Bearer ${target.credential}` } : {},
  }).catch((e: unknown) => {
    throw new DownloadError(`HEAD ${path} failed: ${(e as Error).message}`);
  });
  const size = Number(res.headers.get('content-length'));
  if (res.status !== 200 || !Number.isInteger(size) || size < 0) throw new DownloadError(`HEAD ${path} failed: HTTP ${res.status}`);
  return size;
}

/** Returns the verified archive's path, downloading what is missing. Throws DownloadError. */
export async function fetchArtifact(artifact: DeploymentArtifact, dir: string, target: DownloadTarget, onProgress?: (percent: number) => void): Promise<string> {
  if (!target.signingKeyPem) throw new DownloadError('no package-signing key pinned (the agent learns it at enrollment): refusing to install unsigned-checkable artifacts');
  await mkdir(dir, { recursive: true });
  const done = join(dir, `${artifact.sha256}.tar.gz`);
  if ((await sizeOf(done)) === artifact.size) return done;
  const part = join(dir, `${artifact.sha256}.part`);
  let have = await sizeOf(part);
  if (have > artifact.size) {
    await rm(part, { force: true });
    have = 0;
  }
  if (have < artifact.size) {
    const res = await fetch(target.baseUrl + artifact.path, {
      headers: { ...(target.credential ? { authorization: `Bearer ${target.credential}` } : {}), ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
    }).catch((e: unknown) => {
      throw new DownloadError(`download of ${artifact.path} failed: ${(e as Error).message}`);
    });
    if (res.status !== 200 && res.status !== 206) throw new DownloadError(`download of ${artifact.path} failed: HTTP ${res.status}`);
    if (res.status === 200) have = 0;
    if (!res.body) throw new DownloadError(`download of ${artifact.path} returned no body`);
    let got = have;
    // Each chunk is on disk before the next is read, so an interrupted download resumes from all it received.
    const fh = await open(part, have > 0 ? 'a' : 'w');
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        got += chunk.length;
        if (got > artifact.size) throw new DownloadError(`server sent more than the expected ${artifact.size} bytes`);
        await fh.write(chunk);
        onProgress?.(Math.floor((got / Math.max(artifact.size, 1)) * 100));
      }
    } catch (e) {
      if (e instanceof DownloadError) throw e;
      throw new DownloadError(`download of ${artifact.path} interrupted at ${got} of ${artifact.size} bytes: ${(e as Error).message}`);
    } finally {
      await fh.close();
    }
  }
  const size = await sizeOf(part);
  const sha = await sha256Of(part);
  if (size !== artifact.size || sha !== artifact.sha256) {
    await rm(part, { force: true });
    throw new DownloadError(`artifact ${artifact.sha256} failed verification: got ${size} bytes with sha256 ${sha}`);
  }
  const signed = verify(null, Buffer.from(sha, 'hex'), createPublicKey(target.signingKeyPem), Buffer.from(artifact.signature, 'hex'));
  if (!signed) {
    await rm(part, { force: true });
    throw new DownloadError(`artifact ${artifact.sha256} has a bad signature: not signed by the server this agent enrolled with`);
  }
  await rename(part, done);
  return done;
}
