#!/usr/bin/env node
// Runs the whole test suite with Node's test runner: builds first (end-to-end
// tests start the real `dist/bin/corral.js`), then runs unit tests beside the
// code and end-to-end tests under test/. Extra arguments are passed as file
// filters: `npm test -- selector` runs only files whose path contains "selector".
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...walk('src'), ...walk('test')]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error(`no test files match ${filters.join(' ')}`);
  process.exit(1);
}

const build = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
// The browser tests drive the console the server serves from dist/console: build it fresh for them.
if (files.some((f) => f.startsWith(join('test', 'console')))) {
  const consoleBuild = spawnSync('npx', ['vite', 'build', '--config', 'console/vite.config.ts'], { stdio: 'inherit' });
  if (consoleBuild.status !== 0) process.exit(consoleBuild.status ?? 1);
}

const concurrency = process.env.CORRAL_TEST_CONCURRENCY ?? '2';
const run = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(run.status ?? 1);
