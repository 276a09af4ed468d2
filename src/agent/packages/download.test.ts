/** Artifact download against a real HTTP server that can cut, tamper and resume. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DownloadError, fetchArtifact } from './download.js';

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

  before(async () => {
    server = createServer((req, res) => {
      ranges.push(req.headers.range);
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
});
