/**
 * Who did something is decided by the server from the token, never by what
 * the client writes: an `X-Corral-Actor` header naming someone else (the old
 * CLI sent one, and it was recorded as given) changes nothing in the record.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';

describe('the actor comes from the token', { concurrency: false }, () => {
  let fleet: Fleet;
  let work = '';

  before(async () => {
    fleet = await Fleet.start();
    work = await mkdtemp(join(tmpdir(), 'corral-actor-'));
    const dir = join(work, 'app');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'corral.yaml'), 'apiVersion: corral.io/v1\nname: app\nversion: 1.0.0\nplatforms: [{os: linux, arch: any}]\nrun: {command: sleep, args: ["100000"]}\n');
    const out = join(work, 'app.tar.gz');
    assert.equal((await fleet.cli('package', 'build', dir, '--out', out)).code, 0);
    const pushed = await fleet.cli('package', 'push', out);
    assert.equal(pushed.code, 0, pushed.stderr);
  });

  after(async () => {
    await fleet?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('ignores an X-Corral-Actor header naming someone else', async () => {
    const res = await fetch(`${fleet.url}/api/v1/deployments`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fleet.adminToken}`, 'content-type': 'application/json', 'x-corral-actor': 'ceo@corp' },
      body: JSON.stringify({ name: 'spoofed', package: 'app', version: '1.0.0', selector: 'env=none' }),
    });
    assert.ok(res.ok, `${res.status} ${await res.text()}`);
    const changed = await eventually(
      async () => (await fleet.api<{ events: { data: { name?: string; actor?: string } }[] }>('GET', '/api/v1/events?type=deployment.changed')).body.events.find((e) => e.data.name === 'spoofed'),
      { timeoutMs: 20_000, what: 'the deployment.changed event' },
    );
    assert.equal(changed.data.actor, 'admin', 'the user the token belongs to, not the header');
  });
});
