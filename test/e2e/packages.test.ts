/**
 * Publishing packages end to end: the real CLI builds and pushes, the real
 * server validates, signs, stores by sha256, refuses a changed artifact
 * under a published version, and serves downloads with Range.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tar from 'tar';
import { Fleet } from '../../src/testkit/fleet.js';

const MANIFEST = `apiVersion: corral.io/v1
name: hello
version: 1.0.0
platforms: [{os: linux, arch: amd64}, {os: linux, arch: arm64}]
run:
  command: bin/hello.sh
health: {type: http, url: "http://127.0.0.1:18080/healthz"}
`;

describe('packages', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;

  async function packageDir(name: string, manifest: string, script: string): Promise<string> {
    const dir = join(work, name);
    await mkdir(join(dir, 'bin'), { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), manifest);
    await writeFile(join(dir, 'bin', 'hello.sh'), script, { mode: 0o755 });
    return dir;
  }

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-pkg-'));
  });
  after(async () => {
    await fleet?.close();
    await rm(work, { recursive: true, force: true });
  });

  it('builds, publishes once per platform, signs, and serves the artifact with Range', async () => {
    const dir = await packageDir('v1', MANIFEST, '#!/bin/sh\necho hello\n');
    const out = join(work, 'hello-1.0.0.tar.gz');
    const built = await fleet.cli('package', 'build', dir, '--out', out);
    assert.equal(built.code, 0, built.stderr);
    const bytes = await readFile(out);
    const sha256 = createHash('sha256').update(bytes).digest('hex');

    const pushed = await fleet.cli('package', 'push', out, '-o', 'json');
    assert.equal(pushed.code, 0, pushed.stderr);
    const records = (JSON.parse(pushed.stdout) as { packages: { arch: string; sha256: string; signature: string; size: number }[] }).packages;
    assert.deepEqual(records.map((r) => r.arch), ['amd64', 'arm64']);
    assert.ok(records.every((r) => r.sha256 === sha256 && r.size === bytes.length));

    const key = await fleet.api<{ publicKeyPem: string }>('GET', '/api/v1/signing-key');
    assert.ok(verify(null, Buffer.from(sha256, 'hex'), createPublicKey(key.body.publicKeyPem), Buffer.from(records[0]!.signature, 'hex')));

    // Publishing the same bytes again is fine.
    assert.equal((await fleet.cli('package', 'push', out)).code, 0);

    const url = `${fleet.url}/api/v1/artifacts/${sha256}`;
    const auth = { authorization: `Bearer ${fleet.adminToken}` };
    const whole = await fetch(url, { headers: auth });
    assert.equal(whole.status, 200);
    assert.deepEqual(Buffer.from(await whole.arrayBuffer()), bytes);
    const part = await fetch(url, { headers: { ...auth, range: 'bytes=10-99' } });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-99/${bytes.length}`);
    assert.deepEqual(Buffer.from(await part.arrayBuffer()), bytes.subarray(10, 100));
    const rest = await fetch(url, { headers: { ...auth, range: 'bytes=100-' } });
    assert.deepEqual(Buffer.concat([bytes.subarray(0, 100), Buffer.from(await rest.arrayBuffer())]), bytes, 'a resumed download completes the file');
    assert.equal((await fetch(url, { headers: { ...auth, range: `bytes=${bytes.length + 10}-` } })).status, 416);
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: `Bearer ${fleet.enrollmentToken}` } })).status, 403, 'an enrollment token downloads agent packages only (the one-line install)');
    assert.equal((await fetch(`${fleet.url}/api/v1/artifacts/${'0'.repeat(64)}`, { headers: auth })).status, 404);

    // The manifest's JSON Schema, for editors: no token needed, the same as docs/corral.schema.json.
    const schema = await fetch(`${fleet.url}/api/v1/manifest.schema.json`);
    assert.equal(schema.status, 200);
    assert.deepEqual(await schema.json(), JSON.parse(await readFile(join(import.meta.dirname, '..', '..', 'docs', 'corral.schema.json'), 'utf8')));

    // The signing key survives a restart.
    await fleet.restartServer();
    const again = await fleet.api<{ publicKeyPem: string }>('GET', '/api/v1/signing-key');
    assert.equal(again.body.publicKeyPem, key.body.publicKeyPem);
  });

  it('refuses different content under a published name+version+platform, and keeps the original', async () => {
    const dir = await packageDir('v1-changed', MANIFEST, '#!/bin/sh\necho tampered\n');
    const out = join(work, 'changed.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 1);
    assert.match(pushed.stderr, /already published with different content.*PACKAGE_CONFLICT/);
    const list = await fleet.api<{ packages: { version: string; arch: string; sha256: string }[] }>('GET', '/api/v1/packages?name=hello');
    const original = createHash('sha256').update(await readFile(join(work, 'hello-1.0.0.tar.gz'))).digest('hex');
    const refused = createHash('sha256').update(await readFile(out)).digest('hex');
    assert.notEqual(refused, original);
    assert.deepEqual(list.body.packages.map((p) => [p.version, p.arch, p.sha256]).sort(), [['1.0.0', 'amd64', original], ['1.0.0', 'arm64', original]]);
    // The refused bytes were not kept either.
    assert.equal((await fetch(`${fleet.url}/api/v1/artifacts/${refused}`, { headers: { authorization: `Bearer ${fleet.adminToken}` } })).status, 404);
  });

  it('refuses, at build and at push, a manifest naming a template the package does not carry', async () => {
    const manifest = MANIFEST.replace('version: 1.0.0', 'version: 1.2.0') + 'config:\n  files: [{path: app.conf, template: templates/app.conf}]\n';
    const dir = await packageDir('no-template', manifest, '#!/bin/sh\n');
    const build = await fleet.cli('package', 'build', dir, '--out', join(work, 'no-template.tar.gz'));
    assert.equal(build.code, 1);
    assert.match(build.stderr, /config\.files\[0\]\.template: templates\/app\.conf is not in the package/);

    // Whatever made the archive, the server refuses it too, naming the file; a directory in its place is no better.
    await mkdir(join(dir, 'templates', 'app.conf'), { recursive: true });
    for (const [entries, problem] of [[['corral.yaml', 'bin'], 'is not in the package'], [['corral.yaml', 'bin', 'templates'], 'is not a regular file in the package']] as const) {
      const raw = join(work, 'no-template-raw.tar.gz');
      await tar.c({ gzip: true, cwd: dir, file: raw, portable: true }, [...entries]);
      const pushed = await fleet.cli('package', 'push', raw);
      assert.equal(pushed.code, 1);
      assert.match(pushed.stderr, new RegExp(`the package lacks files its manifest names: config\\.files\\[0\\]\\.template: templates/app\\.conf ${problem}.*INVALID_PACKAGE`));
    }
    const list = await fleet.api<{ packages: { version: string }[] }>('GET', '/api/v1/packages?name=hello');
    assert.ok(!list.body.packages.some((p) => p.version === '1.2.0'), 'nothing of 1.2.0 was published');
  });

  it('refuses archives without a valid manifest, naming the problem', async () => {
    const bad = await packageDir('bad', MANIFEST.replace('run:', 'surprise: 1\nrun:'), '#!/bin/sh\n');
    const build = await fleet.cli('package', 'build', bad);
    assert.equal(build.code, 1);
    assert.match(build.stderr, /surprise/);

    // The server checks too, whatever made the archive.
    const raw = join(work, 'raw.tar.gz');
    await tar.c({ gzip: true, cwd: bad, file: raw, portable: true }, ['corral.yaml', 'bin']);
    const res = await fetch(`${fleet.url}/api/v1/packages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/gzip' },
      body: await readFile(raw),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'INVALID_PACKAGE');
    assert.match(body.error.message, /surprise/);

    const noManifest = join(work, 'none.tar.gz');
    await tar.c({ gzip: true, cwd: bad, file: noManifest, portable: true }, ['bin']);
    const res2 = await fetch(`${fleet.url}/api/v1/packages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/gzip' },
      body: await readFile(noManifest),
    });
    assert.equal(res2.status, 400);
    assert.match(((await res2.json()) as { error: { message: string } }).error.message, /no corral\.yaml/);

    const junk = await fetch(`${fleet.url}/api/v1/packages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/gzip' },
      body: 'definitely not gzip',
    });
    assert.equal(junk.status, 400);
  });
});
