/**
 * The console's static files: content types, caching, the SPA fallback,
 * security headers, and no way out of the bundle directory (plain, encoded
 * and double-encoded ../, backslashes, NUL) over a real HTTP server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleStatic } from './console-static.js';

/** A raw GET: fetch() would normalize ../ away before it reaches the server. */
function get(port: number, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console static files', () => {
  let root: string;
  let server: Server;
  let port: number;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'corral-console-static-'));
    const bundle = join(root, 'console');
    await mkdir(join(bundle, 'assets'), { recursive: true });
    await writeFile(join(bundle, 'index.html'), '<!doctype html><title>console</title>');
    await writeFile(join(bundle, 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(join(bundle, 'assets', 'index-abc123.css'), 'body{}');
    // A secret beside the bundle: what a traversal would be after.
    await writeFile(join(root, 'secret.txt'), 'TOP SECRET');
    const files = consoleStatic(bundle)!;
    server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      if (!files.handle(req, res, path)) {
        res.writeHead(405);
        res.end('not mine');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await rm(root, { recursive: true, force: true });
  });

  it('is absent when no bundle is built', async () => {
    assert.equal(consoleStatic(join(root, 'nowhere')), null);
  });

  it('serves index.html at / with no caching and a strict content security policy', async () => {
    const res = await get(port, '/');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(res.headers['cache-control'], 'no-cache');
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
    assert.equal(res.headers['x-content-type-options'], 'nosniff');
    assert.match(res.body, /<title>console<\/title>/);
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await get(port, '/assets/index-abc123.js');
    assert.equal(js.status, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.body, 'console.log(1)');
    const css = await get(port, '/assets/index-abc123.css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });

  it('answers client routes with index.html (the console routes itself)', async () => {
    for (const path of ['/fleet', '/agents/0193-abc', '/rollouts/x/y', '/deployments/web']) {
      const res = await get(port, path);
      assert.equal(res.status, 200, path);
      assert.match(res.body, /<title>console<\/title>/, path);
    }
  });

  it('answers a missing asset with 404, not HTML in place of a script', async () => {
    const res = await get(port, '/assets/index-old999.js');
    assert.equal(res.status, 404);
    assert.equal((await get(port, '/favicon.png')).status, 404);
  });

  it('never serves a file outside the bundle', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/%2E%2E%2Fsecret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%5csecret.txt',
      '/%252e%252e/secret.txt',
      '/secret.txt%00.js',
      '//secret.txt',
    ];
    for (const path of attempts) {
      const res = await get(port, path);
      assert.doesNotMatch(res.body, /TOP SECRET/, path);
      assert.ok([200, 400, 404].includes(res.status), `${path}: ${res.status}`);
      if (res.status === 200) assert.match(res.body, /<title>console<\/title>/, path);
    }
  });

  it('refuses a malformed percent-encoding with 400', async () => {
    assert.equal((await get(port, '/%E0%A4%A')).status, 400);
  });

  it('answers HEAD without a body and leaves other methods alone', async () => {
    const head = await get(port, '/assets/index-abc123.js', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.equal(head.headers['content-length'], String('console.log(1)'.length));
    assert.equal((await get(port, '/fleet', 'POST')).status, 405);
  });
});
