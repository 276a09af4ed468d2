#!/usr/bin/env node
// Builds the self-contained agent (docs/agent-install.md, "Self-contained agent"):
//
//   out/agent/bundle/dist/bin/corral.js   src/bin/agent-main.ts and everything it imports,
//                                         bundled by esbuild into one ES module: needs only `node`
//   out/agent/corral-agent-V-linux-ARCH.tar.gz
//                                         a `kind: agent` package: that bundle (as dist/bin/corral.js,
//                                         where the systemd unit and the upgrade watcher look) and the
//                                         node runtime it runs on (node/bin/node, a copy of --node)
//   out/agent/sea/corral-agent            with --sea: a Node single executable application (the
//                                         bundle as CommonJS injected into a copy of --node with
//                                         postject): needs nothing at all
//
//   npm run build:agent -- [--version V] [--out-dir DIR] [--node FILE] [--arch amd64|arm64] [--sea]
//                          [--no-runtime] [--no-package]
//
// --node is the node binary shipped in the package and used for the SEA (default: the one running
// this script); --arch is the platform written in the manifest (default: this machine's), and must
// match --node's. The package is what `GET /install.sh` installs and what self-upgrade delivers:
// `corral package push out/agent/corral-agent-V-linux-amd64.tar.gz`.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import * as tar from 'tar';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ENTRY = join(ROOT, 'src', 'bin', 'agent-main.ts');
const ELF_MACHINE = { 0x3e: 'amd64', 0xb7: 'arm64' };
export const AGENT_PACKAGE_NAME = 'corral-agent';
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
    execFileSync(node, ['--experimental-sea-config', join(work, 'sea-config.json')], { stdio: 'pipe' });
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

/** Packs the bundle in BUNDLE_DIR, with the node runtime `node` unless it is null, into a `kind: agent` package. */
export async function packageBundle({ version, bundleDir, node, arch, file }) {
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
    const nodeVersion = node ? execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim() : null;
    writeFileSync(join(stage, 'corral.yaml'), manifest(version, node ? arch : null, nodeVersion));
    mkdirSync(dirname(file), { recursive: true });
    await tar.c({ gzip: { level: 4 }, cwd: stage, file, portable: true }, ['corral.yaml', 'package.json', 'dist', ...(node ? ['node'] : [])]);
    return file;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

export async function buildAgent({ version, outDir = join(ROOT, 'out', 'agent'), node = process.execPath, arch, sea = false, runtime = true, pack = true } = {}) {
  const v = version ?? JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
  if (!/^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/.test(v)) throw new Error(`--version must be letters, digits and .+_- (at most 64), got "${v}"`);
  if (!existsSync(node)) throw new Error(`--node ${node} does not exist`);
  const nodeArch = elfArch(node);
  const a = arch ?? nodeArch;
  if (a !== nodeArch) throw new Error(`--arch ${a} does not match --node ${node}, which is ${nodeArch}`);
  const bundleDir = join(outDir, 'bundle');
  const bundle = await bundleAgent({ version: v, dir: bundleDir });
  const pkg = pack
    ? await packageBundle({ version: v, bundleDir, node: runtime ? node : null, arch: a, file: join(outDir, `${AGENT_PACKAGE_NAME}-${v}-linux-${runtime ? a : 'any'}.tar.gz`) })
    : null;
  const seaFile = sea ? await buildSea({ version: v, node, file: join(outDir, 'sea', AGENT_PACKAGE_NAME) }) : null;
  return { version: v, arch: a, bundle, bundleBytes: statSync(bundle).size, package: pkg, packageBytes: pkg ? statSync(pkg).size : 0, sea: seaFile };
}

function parseArgs(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (['--version', '--out-dir', '--node', '--arch'].includes(a)) {
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
      throw new Error(`unknown argument "${a}" (usage: build-agent [--version V] [--out-dir DIR] [--node FILE] [--arch amd64|arm64] [--sea] [--no-runtime] [--no-package])`);
    }
  }
  return args;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
      process.stdout.write(
        'usage: npm run build:agent -- [--version V] [--out-dir DIR] [--node FILE] [--arch amd64|arm64] [--sea] [--no-runtime] [--no-package]\n' +
          'Bundles the agent into one file and packs it with a node runtime as a kind: agent package.\n' +
          "  --version V   the version the package and the agent report (default: package.json's)\n" +
          '  --out-dir D   where to write (default: out/agent in the checkout, git-ignored)\n' +
          '  --node FILE   the Linux node binary to ship and to build the SEA from (default: this one)\n' +
          "  --arch A      amd64 or arm64: the manifest's platform (default and check: --node's)\n" +
          '  --sea         also build a single executable (out-dir/sea/corral-agent)\n' +
          '  --no-runtime  package the bundle alone (linux/any: hosts that run node 20 or later already)\n' +
          '  --no-package  build the bundle (and the SEA) only\n',
      );
    } else {
      const r = await buildAgent(args);
      const mib = (b) => `${(b / 1024 / 1024).toFixed(1)} MiB`;
      process.stdout.write(`bundle ${r.bundle} (${mib(r.bundleBytes)})\n`);
      if (r.package) process.stdout.write(`package corral-agent@${r.version}: ${r.package} (${mib(r.packageBytes)})\n`);
      if (r.sea) process.stdout.write(`single executable ${r.sea} (${mib(statSync(r.sea).size)})\n`);
    }
  } catch (e) {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  }
}
