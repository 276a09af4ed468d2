/**
 * `npm run bench -- token-create [--dead 10000] [--backends sqlite,postgres] [--runs 40 (at most 49: each run makes two self-service tokens, 100 a day)]`
 *
 * What a user's dead tokens cost the token writes: one user with `--dead`
 * tokens revoked (or expired) days ago, created with a parent as
 * self-service tokens are, inserted straight into a fresh store (SQLite in a
 * temp dir; PostgreSQL in its own schema, then ANALYZE). Prints the median
 * and slowest time of UserStore.createToken (a self-service token: the
 * active count and the 24-hour window checked in its transaction) and of
 * UserStore.revokeToken of a live token with one live child, then the time
 * of deleting the dead tokens in batches (TokenStore.deleteDead).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { openStore, type Store } from '../src/server/store/index.js';
import { createTestSchema, POSTGRES_URL } from '../src/testkit/postgres.js';
import { newTokenRecord } from '../src/server/auth/tokens.js';
import { TOKEN_RETENTION_BATCH } from '../src/server/users/token-retention.js';

const DAY = 86_400_000;
const LIMITS = { maxActive: 20, maxWithParentPerDay: 100 };

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => `${x.toFixed(1)} ms`;

async function benchOne(store: Store, dead: number, runs: number, pgUrl: string | null): Promise<string[]> {
  const now = Date.now();
  const user = await store.users.create({ id: randomUUID(), name: 'ci', createdAt: now - 90 * DAY, disabledAt: null, roles: [] });
  const root = await store.users.createToken({ ...newTokenRecord('user', 'root', now - 60 * DAY).record, userId: user.id }, LIMITS);
  for (let i = 0; i < dead; i++) {
    const r = newTokenRecord('user', `old-${i}`, now - 50 * DAY + i).record;
    await store.createToken({ ...r, userId: user.id, parentId: root.id, ...(i % 2 === 0 ? { revokedAt: now - 40 * DAY } : { expiresAt: now - 40 * DAY }) });
  }
  if (pgUrl) {
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    await client.query('analyze');
    await client.end();
  }
  const creates: number[] = [];
  const revokes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const at = now + i;
    let t = performance.now();
    const made = await store.users.createToken({ ...newTokenRecord('user', `new-${i}`, at).record, userId: user.id, parentId: root.id, expiresAt: now + DAY }, LIMITS);
    creates.push(performance.now() - t);
    const child = await store.users.createToken({ ...newTokenRecord('user', `child-${i}`, at).record, userId: user.id, parentId: made.id, expiresAt: now + DAY }, { maxActive: LIMITS.maxActive });
    t = performance.now();
    const r = await store.users.revokeToken(user.id, made.id, at + 1);
    revokes.push(performance.now() - t);
    if (r.alsoRevoked[0]?.id !== child.id) throw new Error('revocation missed the child');
  }
  let deleted = 0;
  const t0 = performance.now();
  for (let i = 0; i < 1000; i++) {
    const d = await store.tokens.deleteDead(now - 30 * DAY, now, TOKEN_RETENTION_BATCH, { enrollment: true });
    if (d.length === 0) break;
    deleted += d.length;
  }
  const sweep = performance.now() - t0;
  return [store.kind, String(dead), ms(median(creates)), ms(Math.max(...creates)), ms(median(revokes)), ms(Math.max(...revokes)), `${deleted} in ${(sweep / 1000).toFixed(2)} s`];
}

export async function tokenCreateBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { dead: { type: 'string', default: '10000' }, backends: { type: 'string', default: 'sqlite,postgres' }, runs: { type: 'string', default: '40' } } });
  const dead = Number(values.dead);
  const runs = Number(values.runs);
  const rows: string[][] = [];
  for (const backend of values.backends.split(',')) {
    const dir = mkdtempSync(join(tmpdir(), 'corral-bench-tokens-'));
    let database = '';
    let drop = async () => {};
    if (backend === 'postgres') {
      const schema = await createTestSchema(POSTGRES_URL);
      database = schema.url;
      drop = () => schema.drop();
    }
    const store = await openStore({ database, dataDir: dir });
    try {
      rows.push(await benchOne(store, dead, runs, database || null));
    } finally {
      await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log('| backend | dead tokens | createToken median | slowest | revokeToken median | slowest | retention sweep |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
}
