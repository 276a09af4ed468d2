#!/usr/bin/env node
// Makes `npx corral` run this checkout's build: links node_modules/.bin/corral
// to dist/bin/corral.js. (npm does not link a root package's own "bin", and
// its npx path for that is broken in npm 11, so we link it ourselves.)
import { chmodSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';

mkdirSync('node_modules/.bin', { recursive: true });
rmSync('node_modules/.bin/corral', { force: true });
symlinkSync('../../dist/bin/corral.js', 'node_modules/.bin/corral');
chmodSync('dist/bin/corral.js', 0o755);
