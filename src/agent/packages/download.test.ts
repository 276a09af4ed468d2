/** Artifact download against a real HTTP server that can cut, tamper, refuse for now (503/429) and resume. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadAbortedError, DownloadError, fetchArtifact, type DownloadQueued } from './download.js';

const content = randomBytes(256 * 1024);
const sha256 = createHash('sha256').update(content).digest('hex');
const keys = generateKeyPairSync('ed25519');
const signature = sign(null, Buffer.from(sha256, 'hex'), keys.privateKey).toString('hex');
const publicPem = keys.publicKey.export({ type: 'spki', format: 'pem' }).toString();
const otherPem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();

describe('artifact download', () => {
  let server: Server;
  let baseUrl = '';
  let mode: 'ok' | 'cut' | 'tamper' = 'ok';
  const ranges: (string | undefined)[] = [];
  /** The next `count` requests are refused with `status` (and Retry-After, when given), like a server at its download cap. */
  let refuse: { count: number; status: number; retryAfter?: string } = { count: 0, status: 503 };

  before(async () => {
    server = createServer((req, res) => {
      ranges.push(req.headers.range);
      if (refuse.count > 0) {
        refuse.count--;
        res.writeHead(refuse.status, { 'content-type': 'application/json', ...(refuse.retryAfter ? { 'retry-after': refuse.retryAfter } : {}) });
        res.end(JSON.stringify({ error: { code: 'DOWNLOAD_LIMIT', message: 'the server is at its download limit' } }));
        return;
      }
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = m ? Number(m[1]) : 0;
      const body = Buffer.from(content.subarray(start));
      if (mode === 'tamper') body[body.length - 1]! ^= 0xff;
      res.writeHead(m ? 206 : 200, { 'content-length': body.length });
      if (mode === 'cut') {
        res.write(body.subarray(0, body.length / 2));
        setTimeout(() => res.destroy(), 200);
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const artifact = { os: 'linux', arch: 'any', sha256, signature, size: content.length, path: `/api/v1/artifacts/${sha256}` };
  const target = (signingKeyPem: string | null = publicPem) => ({ baseUrl, credential: 'corral_agent_x', signingKeyPem });

  it('resumes a download that was cut halfway, then verifies hash and signature', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    mode = 'cut';
    await assert.rejects(fetchArtifact(artifact, dir, target()), (e: unknown) => e instanceof DownloadError && /interrupted/.test(e.message));
    const partial = statSync(join(dir, `${sha256}.part`)).size;
    assert.ok(partial > 0 && partial < content.length, 'the partial file is kept for resuming');
    mode = 'ok';
    ranges.length = 0;
    const file = await fetchArtifact(artifact, dir, target());
    assert.equal(ranges[0], `bytes=${partial}-`, 'asked only for the rest');
    assert.deepEqual(readFileSync(file), content);
    rmSync(dir, { recursive: true });
  });

  it('refuses tampered content and deletes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    mode = 'tamper';
    await assert.rejects(fetchArtifact(artifact, dir, target()), /failed verification/);
    assert.equal(existsSync(join(dir, `${sha256}.part`)), false);
    assert.equal(existsSync(join(dir, `${sha256}.tar.gz`)), false);
    mode = 'ok';
    rmSync(dir, { recursive: true });
  });

  it('refuses an artifact not signed by the pinned key, or when no key is pinned', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    await assert.rejects(fetchArtifact(artifact, dir, target(otherPem)), /bad signature/);
    assert.equal(existsSync(join(dir, `${sha256}.tar.gz`)), false);
    await assert.rejects(fetchArtifact(artifact, dir, target(null)), /no package-signing key/);
    rmSync(dir, { recursive: true });
  });

  /** Records the waits asked for and returns at once, so the test does not sleep. */
  const instantSleep = (waits: number[]) => (ms: number) => {
    waits.push(ms);
    return Promise.resolve();
  };

  it('waits as the server asks when refused (503 + Retry-After), then resumes from the partial file and verifies', { timeout: 10_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    mode = 'cut';
    await assert.rejects(fetchArtifact(artifact, dir, target()), /interrupted/);
    const partial = statSync(join(dir, `${sha256}.part`)).size;
    mode = 'ok';
    ranges.length = 0;
    refuse = { count: 2, status: 503, retryAfter: '2' };
    const waits: number[] = [];
    const queued: DownloadQueued[] = [];
    const progress: number[] = [];
    const file = await fetchArtifact(artifact, dir, target(), {
      sleep: instantSleep(waits),
      random: () => 0.5,
      onQueued: (q) => queued.push(q),
      onProgress: (p) => progress.push(p),
    });
    assert.deepEqual(readFileSync(file), content, 'complete, and verified (hash and signature) before it was kept');
    assert.deepEqual(ranges, [`bytes=${partial}-`, `bytes=${partial}-`, `bytes=${partial}-`], 'every ask, refused or not, resumes from the partial bytes');
    assert.deepEqual(waits, [2500, 2500], 'Retry-After: 2 honoured, plus jitter');
    const percent = Math.floor((partial / content.length) * 100);
    assert.deepEqual(queued, [
      { status: 503, delayMs: 2500, refusals: 1, percent },
      { status: 503, delayMs: 2500, refusals: 2, percent },
    ]);
    assert.equal(progress.at(-1), 100);
    rmSync(dir, { recursive: true });
  });

  it('reads an HTTP-date Retry-After, caps a long one, and backs off without one (429)', { timeout: 10_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    const waits: number[] = [];
    refuse = { count: 1, status: 503, retryAfter: new Date(Date.now() + 3_600_000).toUTCString() };
    await fetchArtifact(artifact, dir, target(), { sleep: instantSleep(waits), random: () => 0 });
    assert.deepEqual(waits, [60_000], 'an hour away is waited on for a minute');
    rmSync(dir, { recursive: true });

    const dir2 = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    waits.length = 0;
    refuse = { count: 3, status: 429 };
    await fetchArtifact(artifact, dir2, target(), { sleep: instantSleep(waits), random: () => 0.999, backoff: { initialMs: 1000, maxMs: 30_000 } });
    assert.deepEqual(waits, [999, 1998, 3996], 'exponential backoff with jitter when no Retry-After');
    rmSync(dir2, { recursive: true });
  });

  it('is called off by its signal in the middle of a long wait, keeping the partial file', { timeout: 10_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-dl-'));
    mode = 'cut';
    await assert.rejects(fetchArtifact(artifact, dir, target()), /interrupted/);
    const partial = statSync(join(dir, `${sha256}.part`)).size;
    mode = 'ok';
    refuse = { count: 1000, status: 503, retryAfter: '30' };
    const stop = new AbortController();
    let refusals = 0;
    // A real timer this time: 30 s that the signal must cut short (the test's own timeout is 10 s).
    await assert.rejects(
      fetchArtifact(artifact, dir, target(), {
        signal: stop.signal,
        onQueued: (q) => {
          refusals = q.refusals;
          setImmediate(() => stop.abort());
        },
      }),
      (e: unknown) => e instanceof DownloadAbortedError && /called off/.test(e.message),
    );
    assert.equal(refusals, 1);
    assert.equal(statSync(join(dir, `${sha256}.part`)).size, partial, 'the partial file is kept');
    refuse = { count: 0, status: 503 };
    rmSync(dir, { recursive: true });
  });
});
