/** `npm run package:agent` without --out writes into out/ of the checkout, which git ignores. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('package:agent writes its package into the git-ignored out/ by default', () => {
  const version = `0.0.0-ignored-${process.pid}`;
  const expected = join(ROOT, 'out', `corral-agent-${version}.tar.gz`);
  try {
    // Run from elsewhere: the default is in the checkout, not the working directory.
    const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'package-agent.mjs'), '--version', version], { cwd: tmpdir(), encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    assert.match(built.stdout, new RegExp(`built corral-agent@${version.replace(/\./g, '\\.')}: ${expected.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.ok(existsSync(expected));
    const ignored = spawnSync('git', ['check-ignore', '-q', expected], { cwd: ROOT });
    assert.equal(ignored.status, 0, `${expected} is not ignored by git`);
  } finally {
    rmSync(expected, { force: true });
  }
});
