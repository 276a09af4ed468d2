import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { requirement } from './requirement.js';

/** Runs `fn` with CI set as given, restoring it after. */
async function withCi<T>(ci: string | undefined, fn: () => T | Promise<T>): Promise<T> {
  const saved = process.env.CI;
  if (ci === undefined) delete process.env.CI;
  else process.env.CI = ci;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  }
}

describe('test requirements', () => {
  it('fails a test whose requirement is missing under CI=true, naming it', async (t) => {
    await withCi('true', () => {
      assert.throws(() => requirement(t, false, 'systemd-analyze is not installed'), /^Error: systemd-analyze is not installed \(CI=true: this check must run/);
      assert.equal(requirement(t, true, 'systemd-analyze is not installed'), true);
    });
  });

  it('skips it outside CI, saying why', async (t) => {
    await withCi(undefined, () =>
      t.test('a test needing root', (inner) => {
        assert.equal(requirement(inner, false, 'needs root'), false);
      }),
    );
  });
});
