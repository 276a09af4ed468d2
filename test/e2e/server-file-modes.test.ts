/**
 * The server's data dir holds its SQLite store, and with it the
 * package-signing private key, tokens and config bodies: the dir is 0700
 * and the database files 0600 from the first start, and an existing
 * install with looser modes is fixed at start, with a log line saying so.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, statSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { eventually } from '../../src/testkit/eventually.js';

const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);

describe('server file modes', { concurrency: false }, () => {
  let fleet: Fleet;
  let dir: string;

  before(async () => {
    fleet = await Fleet.start();
    dir = join(fleet.root, 'server');
  });
  after(async () => fleet?.close());

  it('creates the data dir 0700 and the SQLite files 0600', async () => {
    assert.equal(mode(dir), '700');
    // The -wal and -shm files exist while the server runs (WAL mode).
    await eventually(() => existsSync(join(dir, 'corral.db-wal')) && existsSync(join(dir, 'corral.db-shm')), { what: 'the WAL files' });
    for (const f of ['corral.db', 'corral.db-wal', 'corral.db-shm']) assert.equal(mode(join(dir, f)), '600', f);
  });

  it('fixes the modes of an existing install at start, and logs it', async () => {
    await fleet.stopServer();
    await chmod(dir, 0o755);
    await chmod(join(dir, 'corral.db'), 0o644);
    await fleet.restartServer();
    assert.equal(mode(dir), '700');
    assert.equal(mode(join(dir, 'corral.db')), '600');
    // The server's log is written asynchronously: the lines may land after "listening".
    const dbLine = new RegExp(`"path":"${join(dir, 'corral.db')}","from":"644","to":"600"`);
    const logged = await eventually(
      () => {
        const out = fleet.server.stdout + fleet.server.stderr;
        return dbLine.test(out) ? out : undefined;
      },
      { what: 'the log line for corral.db' },
    );
    assert.match(logged, new RegExp(`"path":"${dir}","from":"755","to":"700".*tightened file mode`));
  });
});
