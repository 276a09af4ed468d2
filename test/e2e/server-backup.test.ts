/**
 * `corral server backup`, end to end: a backup taken through the real CLI
 * while a real server runs and writes, then restored into the data dir the
 * way docs/server-install.md says (stop, replace corral.db, start): the
 * server comes back with what the store held at backup time (the admin
 * token, an enrollment token, the signing key) and without what came after.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { runCorral } from '../../src/testkit/processes.js';

describe('corral server backup', { concurrency: false }, () => {
  let fleet: Fleet;
  let work: string;
  const dataDir = () => join(fleet.root, 'server');
  const tokenNames = async () => {
    const res = await fleet.api<{ tokens: { name: string }[] }>('GET', '/api/v1/enrollment-tokens');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.tokens.map((t) => t.name);
  };
  const signingKey = async () => (await fleet.api<{ publicKeyPem: string }>('GET', '/api/v1/signing-key')).body.publicKeyPem;

  before(async () => {
    fleet = await Fleet.start();
    work = mkdtempSync(join(tmpdir(), 'corral-backup-'));
  });
  after(async () => {
    await fleet?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('copies the running store to a new 0600 file, refuses to overwrite one, and restores from it', async () => {
    assert.equal((await fleet.api('POST', '/api/v1/enrollment-tokens', { name: 'before-backup' })).status, 201);
    const key = await signingKey();
    const file = join(work, 'corral-backup.db');

    const r = await runCorral(['server', 'backup', '--data-dir', dataDir(), '--to', file, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { file: string }).file, file);
    assert.equal(statSync(file).mode & 0o777, 0o600, 'the backup holds the signing key and credentials');

    writeFileSync(join(work, 'taken.db'), 'keep me');
    const again = await runCorral(['server', 'backup', '--data-dir', dataDir(), '--to', join(work, 'taken.db')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists/);
    assert.equal(readFileSync(join(work, 'taken.db'), 'utf8'), 'keep me');

    assert.equal((await fleet.api('POST', '/api/v1/enrollment-tokens', { name: 'after-backup' })).status, 201);
    assert.ok((await tokenNames()).includes('after-backup'));

    // Restore as docs/server-install.md says: stop, replace corral.db (and its WAL files), start.
    await fleet.stopServer();
    for (const f of ['corral.db', 'corral.db-wal', 'corral.db-shm']) rmSync(join(dataDir(), f), { force: true });
    copyFileSync(file, join(dataDir(), 'corral.db'));
    await fleet.restartServer();

    const names = await tokenNames();
    assert.ok(names.includes('before-backup'), `restored: ${names.join(', ')}`);
    assert.ok(!names.includes('after-backup'), 'what came after the backup is not in it');
    assert.equal(await signingKey(), key, 'the same signing key, so agents still trust its packages');
  });

  it('points a PostgreSQL store at pg_dump, and names a data dir without a store', async () => {
    const pg = await runCorral(['server', 'backup', '--database', 'postgres://corral:secret@db:5432/corral', '--to', join(work, 'x.db')]);
    assert.equal(pg.code, 1);
    assert.match(pg.stderr, /pg_dump/);
    assert.doesNotMatch(pg.stderr, /secret/, 'the password is not printed');
    const none = await runCorral(['server', 'backup', '--data-dir', join(work, 'empty'), '--to', join(work, 'y.db')]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no Corral store/);
    assert.equal(existsSync(join(work, 'y.db')), false);
  });
});
