/**
 * The server's cap on concurrent artifact downloads, end to end: a real
 * server with `--max-downloads 1`, a client that holds the only slot by not
 * reading, and real agents that queue behind it and resume.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet, type TestAgent } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';
import { servicePid as servicePidOf } from '../../src/testkit/process-alive.js';

/** Far more than loopback socket buffers hold (~4 MiB here), so a client that stops reading keeps the download open. */
const BIG_BYTES = 16 * 1024 * 1024;

/** A download that has started (headers in) and then stops reading, holding its slot until released. */
interface HeldDownload {
  response: IncomingMessage;
  /** Cuts the connection mid-body. */
  abort(): void;
  /** Reads the rest; resolves with the byte count once the body ends. */
  finish(): Promise<number>;
}

function holdDownload(url: string, token: string): Promise<HeldDownload> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}` } }, (response) => {
      response.pause();
      let bytes = 0;
      resolve({
        response,
        abort: () => req.destroy(),
        finish: () =>
          new Promise((done, fail) => {
            response.on('data', (chunk: Buffer) => (bytes += chunk.length));
            response.on('end', () => done(bytes));
            response.on('error', fail);
            response.resume();
          }),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

function metricValue(text: string, name: string): number {
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`metric ${name} not found`);
  return Number(m[1]);
}

describe('artifact download cap', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  let bigUrl = '';
  let bigBytes: Buffer;
  const agents: TestAgent[] = [];

  const servicePid = (a: TestAgent): number | null => servicePidOf(a.dataDir, 'small');

  const metrics = async () => (await fetch(`${fleet.url}/metrics`)).text();
  const inFlight = async () => metricValue(await metrics(), 'corral_artifact_downloads_in_flight');
  const refused = async () => metricValue(await metrics(), 'corral_artifact_downloads_refused_total');

  async function publish(name: string, files: Record<string, string | Buffer>): Promise<Buffer> {
    const dir = join(work, name);
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), `apiVersion: corral.io/v1\nname: ${name}\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun:\n  command: bin/run.sh\n`);
    await writeFile(join(dir, 'bin', 'run.sh'), '#!/bin/sh\nexec sleep 3600\n', { mode: 0o755 });
    for (const [path, body] of Object.entries(files)) await writeFile(join(dir, path), body);
    const out = join(work, `${name}.tar.gz`);
    const built = await fleet.cli('package', 'build', dir, '--out', out);
    assert.equal(built.code, 0, built.stderr);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
    return readFile(out);
  }

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'corral-dl-cap-'));
    fleet = await Fleet.start({ extraServerArgs: ['--max-downloads', '1'] });
    bigBytes = await publish('big', { 'blob.bin': randomBytes(BIG_BYTES) });
    bigUrl = `${fleet.url}/api/v1/artifacts/${createHash('sha256').update(bigBytes).digest('hex')}`;
  });
  after(async () => {
    // Services outlive agents by design: stop them through the server before tearing down.
    if (agents.length > 0) {
      await fleet.cli('undeploy', 'small').catch(() => undefined);
      for (const a of agents) await eventually(() => servicePid(a) === null, { timeoutMs: 10_000 }).catch(() => undefined);
    }
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('answers 503 + Retry-After past the cap, and frees the slot when a download is cut or finishes', async () => {
    const held = await holdDownload(bigUrl, fleet.adminToken);
    assert.equal(held.response.statusCode, 200);
    assert.equal(await inFlight(), 1);
    const refusedBefore = await refused();

    const second = await fetch(bigUrl, { headers: { authorization: `Bearer ${fleet.adminToken}` } });
    assert.equal(second.status, 503);
    const retryAfter = Number(second.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 5, `Retry-After ${second.headers.get('retry-after')}`);
    const body = (await second.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'DOWNLOAD_LIMIT');
    assert.match(body.error.message, /at its download limit/);
    assert.equal(await refused(), refusedBefore + 1);
    // A HEAD streams nothing, so it is never refused.
    assert.equal((await fetch(bigUrl, { method: 'HEAD', headers: { authorization: `Bearer ${fleet.adminToken}` } })).status, 200);

    // A client that disconnects mid-body gives its slot back.
    held.abort();
    await eventually(async () => (await inFlight()) === 0, { what: 'the cut download to release its slot' });

    // So does one that reads to the end; meanwhile a resumed (Range) request is refused like any other.
    const again = await holdDownload(bigUrl, fleet.adminToken);
    assert.equal(again.response.statusCode, 200);
    const ranged = await fetch(bigUrl, { headers: { authorization: `Bearer ${fleet.adminToken}`, range: 'bytes=100-' } });
    assert.equal(ranged.status, 503);
    await ranged.body?.cancel();
    assert.equal(await again.finish(), bigBytes.length);
    await eventually(async () => (await inFlight()) === 0, { what: 'the finished download to release its slot' });
    const free = await fetch(bigUrl, { headers: { authorization: `Bearer ${fleet.adminToken}`, range: 'bytes=100-' } });
    assert.equal(free.status, 206);
    assert.deepEqual(Buffer.from(await free.arrayBuffer()), bigBytes.subarray(100));
    await eventually(async () => (await inFlight()) === 0, { what: 'the slot to be free again' });
  });

  it('agents refused at the cap report the package as downloading, wait their turn, and both end up running it', async () => {
    await publish('small', {});
    for (const name of ['queued-1', 'queued-2']) agents.push(await fleet.startAgent({ name, labels: { role: 'queued' } }));
    for (const a of agents) await fleet.awaitAgent(a, (x) => x.status === 'online');

    // Someone else holds the only download slot, so both agents are refused at first.
    const held = await holdDownload(bigUrl, fleet.adminToken);
    const refusedBefore = await refused();
    const deployed = await fleet.cli('deploy', 'small', '--package', 'small@1.0.0', '-s', 'role=queued');
    assert.equal(deployed.code, 0, deployed.stderr);

    const packageStatus = async (a: TestAgent) => {
      const res = await fleet.api<{ packageStatuses: { name: string; status: string; downloadPercent: number | null }[] | null }>('GET', `/api/v1/agents/${await a.instanceUid()}`);
      return res.body.packageStatuses?.find((p) => p.name === 'small');
    };
    for (const a of agents) {
      await eventually(() => a.process.stderr.includes('artifact download queued by the server'), { what: `${a.name} to log that it is queued`, timeoutMs: 15_000 });
      const st = await eventually(packageStatus.bind(null, a), { what: `${a.name} package status` });
      assert.equal(st.status, 'downloading', `${a.name} still reports downloading while queued`);
      assert.equal(st.downloadPercent, 0);
    }
    assert.ok((await refused()) >= refusedBefore + 2, 'both were refused at the cap');
    assert.equal(await inFlight(), 1);

    held.abort();
    await eventually(
      async () => {
        const rows = (await fleet.api<{ agents: { name: string; service: { healthy: boolean; status: string } | null }[] }>('GET', '/api/v1/deployments/small/status')).body.agents;
        return rows.length === 2 && rows.every((r) => r.service?.healthy && r.service.status === 'running');
      },
      { what: 'both agents running the package', timeoutMs: 30_000 },
    );
    for (const a of agents) {
      const st = await packageStatus(a);
      assert.equal(st?.status, 'installed');
      assert.ok(servicePid(a) !== null, `${a.name} runs the service`);
    }
    await eventually(async () => (await inFlight()) === 0, { what: 'every download slot free again' });
  });
});
