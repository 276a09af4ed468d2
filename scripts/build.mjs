#!/usr/bin/env node
// Builds dist/ (tsc -p tsconfig.build.json). Three callers:
//   npm run build          build, then link node_modules/.bin/corral (scripts/link-bin.mjs)
//   prepare                the same, after `npm ci` / `npm install` in a checkout; skipped
//                          while npm packs or publishes, because prepack has just built
//   prepack (--package)    a clean build for `npm pack` / `npm publish`: dist/ is emptied
//                          first, so the package holds no output of deleted sources
// Installing the packed tarball runs none of these (npm runs prepare only for git and
// directory installs), so an installed corral never needs TypeScript or other dev deps.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const forPackage = process.argv.includes('--package');
const packing = process.env.npm_command === 'pack' || process.env.npm_command === 'publish';

if (!forPackage && packing && process.env.npm_lifecycle_event === 'prepare') {
  console.log('build: prepack built dist/ for the package; prepare has nothing to do');
  process.exit(0);
}

if (forPackage) rmSync(join(root, 'dist'), { recursive: true, force: true });
const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
  cwd: root,
});
if (tsc.error) {
  console.error(`build: cannot run tsc: ${tsc.error.message} (run npm ci first)`);
  process.exit(1);
}
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

if (!forPackage) {
  const link = spawnSync(process.execPath, [join(root, 'scripts', 'link-bin.mjs')], { stdio: 'inherit', cwd: root });
  process.exit(link.status ?? 1);
}
