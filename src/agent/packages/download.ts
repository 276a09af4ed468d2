/**
 * Downloads an artifact from the server into `<dir>/<sha256>.tar.gz`:
 * resumes a partial `.part` file with `Range`, then checks size, sha256 and
 * the server's ed25519 signature before the file is kept. Anything that
 * fails verification is deleted and reported; nothing unverified is ever
 * unpacked.
 *
 * A server at its download cap answers 503 (or 429) with Retry-After: the
 * download is then queued — it waits as asked (bounded, jittered) and asks
 * again, resuming from the bytes it has — until the server lets it through
 * or the caller calls it off with its AbortSignal.
 */
import type { ServerTrust } from '../server-trust.js';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { IncomingMessage } from 'node:http';
import type { DeploymentArtifact } from '../../protocol/index.js';
import { DEFAULT_BACKOFF, type BackoffPolicy } from '../backoff.js';
import { parseRetryAfterMs, retryDelayMs } from '../retry-after.js';
import { drain, request } from '../http-request.js';

export class DownloadError extends Error {
  readonly code: string = 'DOWNLOAD_FAILED';
}

/** The caller called the download off (deployment changed, agent stopping). The partial file is kept for resuming. */
export class DownloadAbortedError extends DownloadError {
  override readonly code = 'DOWNLOAD_ABORTED';
}

/** Statuses that mean "not now": the server is at its cap or overloaded, and the download waits and asks again. */
const QUEUED_STATUSES = new Set([429, 503]);

export interface DownloadQueued {
  /** 503 or 429. */
  status: number;
  /** How long the download waits before asking again. */
  delayMs: number;
  /** Refusals so far for this download, this one included. */
  refusals: number;
  /** Percent of the artifact already on disk (kept, and resumed from). */
  percent: number;
}

export interface FetchArtifactOptions {
  /** Percent of the artifact on disk, after each chunk received. */
  onProgress?: (percent: number) => void;
  /** The server refused for now (503/429); called before each wait. */
  onQueued?: (queued: DownloadQueued) => void;
  /**
   * Calls the download off, whether it is waiting in the queue or
   * streaming: fetchArtifact then rejects with DownloadAbortedError and the
   * partial file stays for the next attempt. Without a signal, a download
   * the server keeps refusing waits for as long as it is refused.
   */
  signal?: AbortSignal;
  /** Backoff when a refusal carries no Retry-After. Default DEFAULT_BACKOFF. */
  backoff?: BackoffPolicy;
  /** Jitter source. Default Math.random. */
  random?: () => number;
  /** Waits `ms`; must reject when `signal` aborts. Default a timer (tests make it instant). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface DownloadTarget {
  /** http(s)://host:port of the server. */
  baseUrl: string;
  credential: string | null;
  signingKeyPem: string | null;
  /** How an https:// server is verified (as for OpAMP); system CAs when absent. */
  trust?: ServerTrust;
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
  const res = await request(target.baseUrl + path, {
    method: 'HEAD',
    headers: target.credential ? { authorization: `Bearer ${target.credential}` } : {},
    ...(target.trust ? { trust: target.trust } : {}),
  }).catch((e: unknown) => {
    throw new DownloadError(`HEAD ${path} failed: ${(e as Error).message}`);
  });
  await drain(res);
  const size = Number(res.headers['content-length']);
  if (res.statusCode !== 200 || !Number.isInteger(size) || size < 0) throw new DownloadError(`HEAD ${path} failed: HTTP ${res.statusCode}`);
  return size;
}

function percentOf(bytes: number, total: number): number {
  return Math.floor((bytes / Math.max(total, 1)) * 100);
}

/** Returns the verified archive's path, downloading what is missing. Throws DownloadError (DownloadAbortedError when called off). */
export async function fetchArtifact(artifact: DeploymentArtifact, dir: string, target: DownloadTarget, opts: FetchArtifactOptions = {}): Promise<string> {
  if (!target.signingKeyPem) throw new DownloadError('no package-signing key pinned (the agent learns it at enrollment): refusing to install unsigned-checkable artifacts');
  // Private: the data dir may be searchable by run.user services (services/service-access.ts).
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const done = join(dir, `${artifact.sha256}.tar.gz`);
  if ((await sizeOf(done)) === artifact.size) return done;
  const part = join(dir, `${artifact.sha256}.part`);
  let have = await sizeOf(part);
  if (have > artifact.size) {
    await rm(part, { force: true });
    have = 0;
  }
  if (have < artifact.size) await download(artifact, part, have, target, opts);
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

/** Asks for the artifact until the server stops saying "not now" (503/429), waiting as asked in between. */
async function admitted(artifact: DeploymentArtifact, have: number, target: DownloadTarget, opts: FetchArtifactOptions): Promise<IncomingMessage> {
  const { signal } = opts;
  const sleep = opts.sleep ?? ((ms: number, s?: AbortSignal) => delay(ms, undefined, { signal: s }));
  for (let refusals = 1; ; refusals++) {
    if (signal?.aborted) throw calledOff(artifact, have);
    const res = await request(target.baseUrl + artifact.path, {
      headers: { ...(target.credential ? { authorization: `Bearer ${target.credential}` } : {}), ...(have > 0 ? { range: `bytes=${have}-` } : {}) },
      ...(target.trust ? { trust: target.trust } : {}),
      ...(signal ? { signal } : {}),
    }).catch((e: unknown) => {
      if (signal?.aborted) throw calledOff(artifact, have);
      throw new DownloadError(`download of ${artifact.path} failed: ${(e as Error).message}`);
    });
    const status = res.statusCode ?? 0;
    if (!QUEUED_STATUSES.has(status)) return res;
    // Reading the short refusal body lets the connection be reused.
    await drain(res);
    const delayMs = retryDelayMs(parseRetryAfterMs(res.headers['retry-after'], Date.now()), refusals - 1, opts.backoff ?? DEFAULT_BACKOFF, opts.random ?? Math.random);
    opts.onQueued?.({ status, delayMs, refusals, percent: percentOf(have, artifact.size) });
    try {
      await sleep(delayMs, signal);
    } catch (e) {
      if (signal?.aborted) throw calledOff(artifact, have);
      throw e;
    }
  }
}

function calledOff(artifact: DeploymentArtifact, at: number): DownloadAbortedError {
  return new DownloadAbortedError(`download of ${artifact.path} called off at ${at} of ${artifact.size} bytes`);
}

/** Appends the rest of the artifact to `part`, once the server lets the download through. */
async function download(artifact: DeploymentArtifact, part: string, have: number, target: DownloadTarget, opts: FetchArtifactOptions): Promise<void> {
  const res = await admitted(artifact, have, target, opts);
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    res.destroy();
    throw new DownloadError(`download of ${artifact.path} failed: HTTP ${res.statusCode}`);
  }
  if (res.statusCode === 200) have = 0;
  let got = have;
  // Each chunk is on disk before the next is read, so an interrupted download resumes from all it received.
  const fh = await open(part, have > 0 ? 'a' : 'w');
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      got += chunk.length;
      if (got > artifact.size) throw new DownloadError(`server sent more than the expected ${artifact.size} bytes`);
      await fh.write(chunk);
      opts.onProgress?.(percentOf(got, artifact.size));
    }
  } catch (e) {
    if (e instanceof DownloadError) throw e;
    if (opts.signal?.aborted) throw calledOff(artifact, got);
    throw new DownloadError(`download of ${artifact.path} interrupted at ${got} of ${artifact.size} bytes: ${(e as Error).message}`);
  } finally {
    res.destroy();
    await fh.close();
  }
}
