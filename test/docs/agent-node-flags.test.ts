/**
 * Every example command line (in fenced code) in the README and docs/ that
 * starts the agent shows
 * the node flags the agent is really started with (AGENT_NODE_FLAGS, which
 * the systemd unit, the upgrade watcher and the demo use), so a copied
 * example runs the agent as Corral itself does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS } from '../../src/agent/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const files = ['README.md', ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join('docs', f))];
/** The script that runs the agent: dist/bin/corral.js, or the npm bin link. */
const SCRIPT = /(?:corral\.js|\.bin\/corral)$/;

test('agent command lines in the docs carry the node flags the agent runs with', () => {
  let checked = 0;
  for (const file of files) {
    let inCode = false;
    readFileSync(join(ROOT, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        // Only the examples people copy: lines of fenced code blocks.
        if (line.trimStart().startsWith('```')) inCode = !inCode;
        if (!inCode) return;
        const tokens = line.replace(/^.*?(ExecStart=|command_args="|command=)/, '').split(/\s+/);
        const at = tokens.findIndex((t, j) => SCRIPT.test(t) && tokens[j + 1] === 'agent');
        if (at < 0) return;
        let first = at;
        while (first > 0 && tokens[first - 1]!.startsWith('--')) first--;
        assert.deepEqual(tokens.slice(first, at), AGENT_NODE_FLAGS, `${file}:${i + 1}: ${line.trim()}`);
        checked++;
      });
  }
  assert.ok(checked >= 5, `found only ${checked} agent command lines: has the docs' wording changed?`);
});
