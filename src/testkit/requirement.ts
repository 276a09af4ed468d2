/**
 * Tests that need something of the machine (root, a tool, a tmpfs mount):
 * outside CI a missing requirement skips the test, saying why; with CI=true
 * it fails the test, because .ci/run provides every requirement and a check
 * that silently stops running is worse than none.
 *
 *   if (!requirement(t, process.getuid?.() === 0, 'needs root to switch users')) return;
 */
import type { TestContext } from 'node:test';

/** True when `met`; otherwise skips `t` with `reason` and returns false, or under CI=true throws. */
export function requirement(t: TestContext, met: boolean, reason: string): boolean {
  if (met) return true;
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: this check must run; .ci/run provides what it needs)`);
  t.skip(reason);
  return false;
}
