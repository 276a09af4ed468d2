/**
 * The REST and metrics edge of a real server under abuse: random paths do
 * not grow /metrics, /metrics can require a token, REST bodies are bounded,
 * and bursts of wrong tokens are rate limited and logged while valid clients
 * keep working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { AgentCapabilities, ServerErrorResponseType } from '../../src/protocol/index.js';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { WsOpampClient, encodeForHttp, newInstanceUid, postOpamp } from '../../src/testkit/opamp-client.js';

const METRICS_TOKEN = 'metrics-secret-0123456789';
const CAPS = BigInt(AgentCapabilities.AgentCapabilities_ReportsStatus);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP request from a chosen loopback source address (127.0.0.0/8 is all
 * local on Linux), so tests can be several clients. `body` as a Buffer is
 * sent with its length; `chunked` sends it without one.
 */
function send(url: string, method: string, path: string, opts: { from?: string; token?: string; body?: Buffer; chunked?: boolean; contentType?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.body) headers['content-type'] = opts.contentType ?? 'application/json';
    if (opts.body && !opts.chunked) headers['content-length'] = String(opts.body.length);
    const req = request(url + path, { method, headers, localAddress: opts.from ?? '127.0.0.1' }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
      res.on('error', reject);
    });
    // A server that answers before reading the whole body may close while we still send: the answer counts.
    let answered = false;
    req.on('response', () => (answered = true));
    req.on('error', (err) => (answered ? undefined : reject(err)));
    if (opts.body) req.end(opts.body);
    else req.end();
  });
}

function series(metrics: string, name: string): string[] {
  return metrics.split('\n').filter((l) => l.startsWith(`${name}{`));
}

describe('HTTP edge bounds', { concurrency: false, timeout: 120_000 }, () => {
  let fleet: Fleet;
  before(async () => {
    fleet = await Fleet.start({ extraServerArgs: ['--metrics-token', METRICS_TOKEN, '--max-enrollments-per-second', '0.1'] });
  });
  after(async () => fleet?.close());

  const scrape = async () => {
    const res = await fetch(`${fleet.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(res.status, 200);
    return res.text();
  };

  it('labels HTTP metrics by route template: 1,000 random paths add no series', async () => {
    // Every status the random requests can get, once, so the comparison is about paths only.
    // From an address of their own: the flood is also a burst of failed authentications, which gets that address 429s.
    const from = '127.0.0.5';
    for (const path of ['/nothing-here', '/api/v1/nothing-here']) await send(fleet.url, 'GET', path, { from });
    const before = series(await scrape(), 'corral_http_requests_total');
    const words: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const word = randomBytes(6).toString('hex');
      words.push(word);
      const path = i % 2 === 0 ? `/${word}/x` : `/api/v1/${word}`;
      await send(fleet.url, 'GET', path, { from });
    }
    const afterScrape = await scrape();
    const after = series(afterScrape, 'corral_http_requests_total');
    const added = after.filter((l) => !before.some((b) => b.split('}')[0] === l.split('}')[0]));
    assert.ok(added.length <= 2, `at most a new status (429) per unmatched label, got:\n${added.join('\n')}`);
    assert.ok(!words.some((w) => afterScrape.includes(w)), 'no raw path reaches /metrics');
    assert.match(afterScrape, /corral_http_requests_total\{route="GET unmatched",status="40\d"\}/);
  });

  it('answers /metrics only with the --metrics-token', async () => {
    assert.equal((await fetch(`${fleet.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${fleet.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
    assert.match(await scrape(), /corral_agents/);
  });

  it('answers a burst of wrong tokens with 429 + Retry-After and one log line, while valid clients elsewhere work', async () => {
    const from = '127.0.0.7';
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < 100; i++) {
      const res = await send(fleet.url, 'GET', '/api/v1/agents', { from, token: `corral_admin_${randomBytes(32).toString('base64url')}` });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = String(res.headers['retry-after']);
    }
    // A burst of 20 failures is answered 401, then 429 (a slow machine may earn a refill of one every 2 s).
    assert.deepEqual(statuses.slice(0, 21), [...Array<number>(20).fill(401), 429]);
    assert.ok(statuses.filter((s) => s === 429).length >= 50, statuses.join(','));
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    // The penalized address is refused whatever it presents; another address with the admin token is served.
    assert.equal((await send(fleet.url, 'GET', '/api/v1/agents', { from, token: fleet.adminToken })).status, 429);
    assert.equal((await send(fleet.url, 'GET', '/api/v1/agents', { from: '127.0.0.1', token: fleet.adminToken })).status, 200);

    // OpAMP too: wrong tokens from one address get 429; an agent elsewhere enrolls.
    const opampFrom = '127.0.0.8';
    const opamp: number[] = [];
    for (let i = 0; i < 30; i++) {
      const res = await send(fleet.url, 'POST', '/v1/opamp', { from: opampFrom, token: `corral_agent_${i}`, body: Buffer.from(encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n })), contentType: 'application/x-protobuf' });
      opamp.push(res.status);
    }
    assert.deepEqual(opamp.slice(0, 21), [...Array<number>(20).fill(401), 429]);
    const ok = await postOpamp(fleet.url, fleet.enrollmentToken, encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS }));
    assert.equal(ok.status, 200);

    // One structured line per source address per interval, not one per request.
    // (The server's log is written asynchronously: wait for the line, then check no second one came within the interval.)
    const linesFrom = (address: string) =>
      eventually(
        () => {
          const found = fleet.server.stderr.split('\n').filter((l) => l.includes('"authentication failed"') && l.includes(`"address":"${address}"`));
          return found.length > 0 ? found : undefined;
        },
        { what: `the failed-authentication log line for ${address}` },
      );
    const lines = await linesFrom(from);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /"edge":"rest"/);
    const opampLines = await linesFrom(opampFrom);
    assert.equal(opampLines.length, 1, opampLines.join('\n'));
    assert.match(opampLines[0]!, /"edge":"opamp"/);
  });

  it('rate limits enrollments per enrollment token and per address with 429 + Retry-After', async () => {
    // --max-enrollments-per-second 0.1: a burst of one, then one every 10 s.
    const tokens: string[] = [];
    for (const name of ['burst-a', 'burst-b']) {
      const created = await fleet.api<{ token: string }>('POST', '/api/v1/enrollment-tokens', { name });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      tokens.push(created.body.token);
    }
    const [a, b] = tokens as [string, string];
    const enroll = (token: string, from: string) =>
      send(fleet.url, 'POST', '/v1/opamp', { from, token, body: Buffer.from(encodeForHttp({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS })), contentType: 'application/x-protobuf' });
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < 5; i++) {
      const res = await enroll(a, '127.0.0.12');
      statuses.push(res.status);
      if (res.status === 429) retryAfter = String(res.headers['retry-after']);
    }
    assert.deepEqual(statuses, [200, 429, 429, 429, 429]);
    assert.ok(Number(retryAfter) >= 1, `Retry-After: ${retryAfter}`);
    assert.equal((await enroll(a, '127.0.0.13')).status, 429, 'the token is limited wherever it comes from');
    assert.equal((await enroll(b, '127.0.0.12')).status, 429, 'the address is limited whatever token it uses');
    assert.equal((await enroll(b, '127.0.0.11')).status, 200, 'another token from another address enrolls');

    // Over WebSocket the refusal is the spec's Unavailable error with RetryInfo, then close 1013.
    const ws = await WsOpampClient.connect(fleet.url, a);
    ws.send({ instanceUid: newInstanceUid(), sequenceNum: 1n, capabilities: CAPS });
    const reply = await ws.next(1);
    assert.equal(reply?.errorResponse?.type, ServerErrorResponseType.ServerErrorResponseType_Unavailable);
    assert.equal(reply?.errorResponse?.Details.case, 'retryInfo');
    assert.equal(await ws.closed(), 1013);
  });

  it('refuses REST bodies over the limit with 413 naming it, declared or streamed', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024, 'a');
    const declared = await send(fleet.url, 'PUT', '/api/v1/configs/big', { token: fleet.adminToken, body: big });
    assert.equal(declared.status, 413);
    assert.match(declared.text, /"code":"PAYLOAD_TOO_LARGE".*over the limit of 4194304 bytes \(MAX_REST_BODY_BYTES\)/);
    const streamed = await send(fleet.url, 'PUT', '/api/v1/configs/big', { token: fleet.adminToken, body: big, chunked: true });
    assert.equal(streamed.status, 413);
    assert.match(streamed.text, /MAX_REST_BODY_BYTES/);
    const small = await send(fleet.url, 'PUT', '/api/v1/configs/small', { token: fleet.adminToken, body: Buffer.from(JSON.stringify({ selector: 'env=x', files: { 'a.txt': { contentType: 'text/plain', body: 'hi' } } })) });
    assert.equal(small.status, 200, small.text);
  });

  it('rate limits one token wherever it comes from, with 429 + Retry-After, and recovers', async () => {
    // Batches of 50 from two addresses (each far under its own limit) until the token's budget is spent: at most 40 batches.
    const limited: Answer[] = [];
    for (let batch = 0; batch < 40 && limited.length === 0; batch++) {
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => send(fleet.url, 'GET', '/api/v1/healthz-nope', { from: i % 2 ? '127.0.0.9' : '127.0.0.10', token: fleet.adminToken })));
      limited.push(...answers.filter((a) => a.status === 429));
    }
    assert.ok(limited.length > 0, 'requests with one token are limited');
    assert.match(limited[0]!.text, /"code":"RATE_LIMITED"/);
    assert.ok(Number(limited[0]!.headers['retry-after']) >= 1);
    await eventually(async () => (await fleet.api('GET', '/api/v1/agents')).status === 200, { what: 'the token served again' });
  });
});
