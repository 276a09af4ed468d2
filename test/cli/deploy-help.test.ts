/**
 * The rollout defaults `corral deploy --help` shows are the server's
 * built-in ones: the CLI restates them (it does not import the server), so
 * this checks the two cannot drift.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCli } from '../../src/cli/index.js';
import { DEFAULT_POLICY, type RolloutPolicy } from '../../src/server/rollouts/policy.js';

test('deploy --help shows the built-in rollout defaults', async () => {
  let out = '';
  const code = await runCli(['deploy', '--help'], { stdout: { write: (s: string) => (out += s) }, stderr: { write: () => true }, env: {}, configDir: '/nonexistent' });
  assert.equal(code, 0);
  // Commander wraps long descriptions onto indented lines: join each option's lines.
  const options = new Map<string, string>();
  let current = '';
  for (const line of out.split('\n')) {
    const m = /^ {2}(?:-\w, )?(--[\w-]+)(.*)$/.exec(line);
    if (m) options.set((current = m[1]!), m[2]!.trim());
    else if (current && /^ {10,}\S/.test(line)) options.set(current, `${options.get(current)} ${line.trim()}`);
    else current = '';
  }
  const shown = (flag: string) => options.get(flag) ?? '';
  const flags: [string, keyof RolloutPolicy][] = [
    ['--canary', 'canary'],
    ['--batches', 'batches'],
    ['--max-in-flight', 'maxInFlight'],
    ['--min-healthy', 'minHealthySeconds'],
    ['--healthy-deadline', 'healthyDeadlineSeconds'],
    ['--progress-deadline', 'progressDeadlineSeconds'],
    ['--error-budget', 'errorBudget'],
    ['--on-failure', 'onFailure'],
  ];
  for (const [flag, key] of flags) {
    assert.match(shown(flag), new RegExp(`\\(default: ${String(DEFAULT_POLICY[key])}\\)`), `${flag}: ${shown(flag)}`);
  }
});
