/**
 * PostgreSQL for tests: each suite gets its own schema (so parallel runs
 * cannot collide) at CORRAL_TEST_POSTGRES_URL, dropped afterwards. When
 * PostgreSQL is unreachable the suite is skipped with the reason — unless
 * CI=true, where that is a failure.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const POSTGRES_URL = process.env.CORRAL_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestSchema {
  /** A URL whose connections use the new schema (search_path in `options`). */
  url: string;
  name: string;
  drop(): Promise<void>;
}

export async function createTestSchema(baseUrl = POSTGRES_URL): Promise<TestSchema> {
  const name = `corral_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`create schema ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${name}`);
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${name} cascade`);
      } finally {
        await c.end();
      }
    },
  };
}

/** A fresh schema, or the reason to skip (never in CI: there it throws). */
export async function postgresForTest(): Promise<{ schema: TestSchema } | { skip: string }> {
  try {
    return { schema: await createTestSchema() };
  } catch (e) {
    const reason = `PostgreSQL unreachable at ${new URL(POSTGRES_URL).host}: ${(e as Error).message}`;
    if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: PostgreSQL tests must run)`, { cause: e });
    console.warn(`SKIPPED PostgreSQL tests: ${reason}`);
    return { skip: reason };
  }
}
