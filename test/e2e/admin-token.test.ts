/**
 * `corral server rotate-admin-token` against a running server's store, on
 * SQLite (--data-dir) and PostgreSQL (--database): the old admin token stops
 * working at once (with the tokens it minted) and the printed one works.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Fleet } from '../../src/testkit/fleet.js';
import { runCorral } from '../../src/testkit/processes.js';
import { postgresForTest, type TestSchema } from '../../src/testkit/postgres.js';

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`rotate-admin-token on ${backend}`, { concurrency: false }, () => {
    let fleet: Fleet;
    let schema: TestSchema | null = null;
    let cwd = '';
    let skipped = '';

    before(async () => {
      if (backend === 'postgres') {
        const pg = await postgresForTest();
        if ('skip' in pg) {
          skipped = pg.skip;
          return;
        }
        schema = pg.schema;
      }
      fleet = await Fleet.start({ database: schema?.url });
      // A directory of its own to run the command in, so a store it wrongly creates under ./corral-data shows.
      cwd = await mkdtemp(join(tmpdir(), 'corral-rotate-cwd-'));
    });

    after(async () => {
      await fleet?.close();
      await schema?.drop();
      if (cwd) await rm(cwd, { recursive: true, force: true });
    });

    it('revokes the old admin token and prints a new one that the running server accepts', async (t) => {
      if (skipped) return t.skip(skipped);
      const old = fleet.adminToken;
      assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, old)).status, 200);
      // A token minted with the old admin token (by a thief, say) goes with it.
      const minted = await fleet.api<{ token: string }>('POST', '/api/v1/whoami/tokens', { name: 'minted' }, old);
      assert.equal(minted.status, 201, JSON.stringify(minted.body));

      const where = schema ? ['--database', schema.url] : ['--data-dir', join(fleet.root, 'server')];
      const res = await runCorral(['server', 'rotate-admin-token', ...where], { CORRAL_DATABASE: undefined }, 30_000, { cwd });
      assert.equal(res.code, 0, res.stderr);
      const token = /new admin token: (\S+)/.exec(res.stdout)?.[1];
      assert.ok(token, res.stdout);
      assert.equal(existsSync(join(cwd, 'corral-data')), false, 'it must not create a store in the working directory');

      assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, old)).status, 401);
      assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, token)).status, 200);
      assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, minted.body.token)).status, 401, 'what the old admin token minted is revoked with it');

      // The same flags given before the subcommand mean the same store.
      const before = await runCorral(['server', ...where, 'rotate-admin-token'], { CORRAL_DATABASE: undefined }, 30_000, { cwd });
      assert.equal(before.code, 0, before.stderr);
      const third = /new admin token: (\S+)/.exec(before.stdout)?.[1];
      assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, token)).status, 401);
      assert.equal((await fleet.api('GET', '/api/v1/agents', undefined, third)).status, 200);
      assert.equal(existsSync(join(cwd, 'corral-data')), false);
    });

    it('refuses a store that was never set up instead of making one', async (t) => {
      if (skipped || backend === 'postgres') return t.skip(skipped || 'the SQLite case shows it');
      const missing = join(cwd, 'no-such-store');
      const res = await runCorral(['server', 'rotate-admin-token', '--data-dir', missing], { CORRAL_DATABASE: undefined }, 30_000, { cwd });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /no Corral store/);
      assert.match(res.stderr, /no-such-store/);
      assert.equal(existsSync(missing), false);
    });
  });
}
