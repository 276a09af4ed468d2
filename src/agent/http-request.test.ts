/** The agent's one-request HTTP(S) client against real local servers. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../testkit/test-tls.js';
import { drain, request } from './http-request.js';

const listen = async (server: Server): Promise<number> => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
};

describe('http request', () => {
  const seen: { method?: string; headers: Record<string, unknown> }[] = [];
  const handler = (req: { method?: string; headers: Record<string, unknown>; url?: string }, res: import('node:http').ServerResponse) => {
    seen.push({ method: req.method, headers: req.headers });
    if (req.url === '/moved') {
      res.writeHead(302, { location: '/elsewhere' });
      res.end();
    } else if (req.url === '/slow') {
      setTimeout(() => res.end('late'), 5000).unref();
    } else {
      res.writeHead(200, { 'content-length': 5 });
      res.end(req.method === 'HEAD' ? undefined : 'hello');
    }
  };
  let http: Server;
  let https: Server;
  let httpUrl = '';
  let httpsUrl = '';
  before(async () => {
    http = createHttpServer(handler);
    https = createHttpsServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, handler);
    httpUrl = `http://127.0.0.1:${await listen(http)}`;
    httpsUrl = `https://127.0.0.1:${await listen(https)}`;
  });
  after(() => {
    http.closeAllConnections();
    https.closeAllConnections();
    http.close();
    https.close();
  });

  it('sends the method and headers and streams the body', async () => {
    const res = await request(`${httpUrl}/x`, { headers: { authorization: 'Bearer t', range: 'bytes=2-' } });
    assert.equal(res.statusCode, 200);
    let body = '';
    for await (const chunk of res) body += String(chunk);
    assert.equal(body, 'hello');
    assert.equal(seen.at(-1)!.headers.authorization, 'Bearer t');
    assert.equal(seen.at(-1)!.headers.range, 'bytes=2-');
    const head = await request(`${httpUrl}/x`, { method: 'HEAD' });
    await drain(head);
    assert.equal(seen.at(-1)!.method, 'HEAD');
    assert.equal(head.headers['content-length'], '5');
  });

  it('returns a redirect as the answer instead of following it', async () => {
    const before = seen.length;
    const res = await request(`${httpUrl}/moved`);
    await drain(res);
    assert.equal(res.statusCode, 302);
    assert.equal(res.headers.location, '/elsewhere');
    assert.equal(seen.length, before + 1, 'one request, no follow-up to /elsewhere');
  });

  it('speaks TLS to https URLs, verifying the certificate', async () => {
    const res = await request(`${httpsUrl}/x`, { ca: TEST_TLS_CERT });
    await drain(res);
    assert.equal(res.statusCode, 200);
    await assert.rejects(request(`${httpsUrl}/x`), (e: NodeJS.ErrnoException) => /SELF_SIGNED|UNABLE_TO_VERIFY/.test(e.code ?? ''));
  });

  it('is aborted by its signal while waiting for the answer, and refuses other protocols', async () => {
    await assert.rejects(request(`${httpUrl}/slow`, { signal: AbortSignal.timeout(100) }), { name: 'AbortError' });
    const stop = new AbortController();
    stop.abort();
    await assert.rejects(request(`${httpUrl}/x`, { signal: stop.signal }), { name: 'AbortError' });
    await assert.rejects(request('ftp://127.0.0.1/x'), /unsupported protocol ftp:/);
    await assert.rejects(request(`http://127.0.0.1:1/x`), { code: 'ECONNREFUSED' });
  });
});
