#!/usr/bin/env node
// Builds a `kind: agent` package of this checkout's build, so that
// `node <unpacked>/dist/bin/corral.js agent …` runs from the unpacked
// directory alone: dist/, package.json (with its version set to --version,
// which the agent then reports as its own), corral.yaml, and the production
// dependencies from node_modules (dev dependencies left out, per
// package-lock.json; native build leftovers pruned).
//
//   npm run build && npm run package:agent -- [--version V] [--out FILE]
//
// Without --out it writes out/corral-agent-V.tar.gz in the checkout (out/ is
// git-ignored).
//
// Deploying the result (`corral package push FILE && corral deploy NAME
// --package corral-agent@V -s SELECTOR`) upgrades matching agents; see
// docs/agent-upgrade.md.
import { cp, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tar from 'tar';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ARCH = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86' };
export const AGENT_PACKAGE_NAME = 'corral-agent';

/** node_modules/<path> of every package a production install has (package-lock.json v2/v3). */
async function productionPackages(root) {
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8'));
  if (!lock.packages) throw new Error('package-lock.json has no "packages" section (lockfileVersion 2 or newer is needed)');
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && !p.dev && !p.devOptional && !p.link)
    .map(([path]) => path);
}

/** Native build leftovers (sources, object files) that a running agent never loads. */
function keep(src, pkgDir, native) {
  if (!native) return true;
  const rel = src.slice(pkgDir.length + 1);
  if (rel === '') return true;
  const [top, ...rest] = rel.split(sep);
  if (top === 'deps' || top === 'src') return false;
  if (top === 'build') return rest.length === 0 || (rest[0] === 'Release' && (rest.length === 1 || (rest.length === 2 && rest[1].endsWith('.node'))));
  return true;
}

/** Where the package goes without --out: out/ in the checkout, which git ignores. */
export function defaultOut(root, version) {
  return join(root, 'out', `${AGENT_PACKAGE_NAME}-${version}.tar.gz`);
}

/**
 * Builds the package; returns { file, version, sha256-free size }. `root` is
 * the checkout (dist/ must be built). Throws with the reason.
 */
export async function packageAgent({ version, out, root = ROOT } = {}) {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'));
  const v = version ?? pkg.version;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(v)) throw new Error(`--version must be letters, digits and .+_- (at most 64), got "${v}"`);
  try {
    await stat(join(root, 'dist', 'bin', 'corral.js'));
  } catch {
    throw new Error(`${join(root, 'dist', 'bin', 'corral.js')} is missing: run npm run build first`);
  }
  const file = resolve(out ?? defaultOut(root, v));
  const stage = await mkdtemp(join(tmpdir(), 'corral-agent-package-'));
  try {
    await cp(join(root, 'dist'), join(stage, 'dist'), { recursive: true, filter: (src) => !src.endsWith('.map') });
    for (const path of await productionPackages(root)) {
      const from = join(root, path);
      let native = false;
      try {
        await stat(join(from, 'binding.gyp'));
        native = true;
      } catch {
        // Not a native module: copied whole.
      }
      try {
        await cp(from, join(stage, path), { recursive: true, dereference: true, filter: (src) => keep(src, from, native) });
      } catch (e) {
        // An optional dependency for another platform is in the lock file but not on disk.
        if (e.code !== 'ENOENT') throw e;
      }
    }
    const runtime = { ...pkg, version: v };
    delete runtime.devDependencies;
    delete runtime.scripts;
    await writeFile(join(stage, 'package.json'), `${JSON.stringify(runtime, null, 2)}\n`);
    const arch = ARCH[process.arch] ?? process.arch;
    await writeFile(
      join(stage, 'corral.yaml'),
      `apiVersion: corral.io/v1
kind: agent
name: ${AGENT_PACKAGE_NAME}
version: ${JSON.stringify(v)}
description: The Corral agent ${v} (Node.js ${process.versions.node.split('.')[0]}, with native modules for ${process.platform}/${arch})
platforms: [{os: ${process.platform}, arch: ${arch}}]
agent: {entry: dist/bin/corral.js}
`,
    );
    await mkdir(dirname(file), { recursive: true });
    await tar.c({ gzip: { level: 4 }, cwd: stage, file, portable: true }, ['corral.yaml', 'package.json', 'dist', 'node_modules']);
    return { file, name: AGENT_PACKAGE_NAME, version: v, size: (await stat(file)).size };
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--version' || a === '--out') {
      if (argv[i + 1] === undefined) throw new Error(`${a} needs a value`);
      args[a.slice(2)] = argv[++i];
    } else if (a === '--help' || a === '-h') {
      args.help = true;
    } else {
      throw new Error(`unknown argument "${a}" (usage: package-agent [--version V] [--out FILE])`);
    }
  }
  return args;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(
        'usage: npm run package:agent -- [--version V] [--out FILE]\nBuilds a kind: agent package of this checkout (run npm run build first).\n' +
          '  --version V  the version the package and the agent report (default: package.json\'s)\n' +
          '  --out FILE   where to write it (default: out/corral-agent-V.tar.gz in the checkout, git-ignored)\n',
      );
    } else {
      const built = await packageAgent(args);
      process.stdout.write(`built ${built.name}@${built.version}: ${built.file} (${(built.size / 1024 / 1024).toFixed(1)} MiB)\n`);
    }
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  }
}
