/** package build | push | list. */
import { openAsBlob } from 'node:fs';
import { lstat, readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import * as tar from 'tar';
import { MANIFEST_FILE, ManifestError, PUBLISHER_SIGNATURE_HEADER, PUBLISHER_SIGNATURE_SUFFIX, missingPackageFiles, packagePath, parseAnyManifest, type AnyPackageManifest, type PackageEntryKind } from '../../protocol/index.js';
import { signPackage } from '../package-sign.js';
import { CliError } from '../exit-codes.js';
import { formatTable } from '../table.js';
import { apiFor, printJson, withConnection, type CliIo, type ConnectionFlags } from '../context.js';

interface ApiPackage {
  name: string;
  version: string;
  os: string;
  arch: string;
  sha256: string;
  size: number;
  createdAt: string;
}

/** Validates DIR/corral.yaml and packs DIR into NAME-VERSION.tar.gz. Returns the file written. */
export async function buildPackage(dir: string, out?: string): Promise<{ file: string; name: string; version: string }> {
  let text: string;
  try {
    text = await readFile(join(dir, MANIFEST_FILE), 'utf8');
  } catch (e) {
    throw new CliError(`cannot read ${join(dir, MANIFEST_FILE)}: ${(e as Error).message}`, 1, 'INVALID_MANIFEST');
  }
  let manifest;
  try {
    manifest = parseAnyManifest(text, join(dir, MANIFEST_FILE));
  } catch (e) {
    if (e instanceof ManifestError) throw new CliError(e.message, 1, e.code);
    throw e;
  }
  // A relative command with a slash runs from the package, so the package must carry it.
  const [field, carried] = manifest.kind === 'agent' ? ['agent.entry', manifest.agent.entry] : ['run.command', manifest.run.command];
  if (carried.includes('/') && !carried.startsWith('/')) {
    try {
      await stat(join(dir, carried));
    } catch {
      throw new CliError(`${field} "${carried}" is not in ${dir}; a package must carry what it runs`, 1, 'INVALID_MANIFEST');
    }
  }
  const missing = await missingFilesIn(dir, manifest);
  if (missing.length > 0) throw new CliError(`${join(dir, MANIFEST_FILE)} names files ${dir} does not have: ${missing.join('; ')}`, 1, 'INVALID_MANIFEST');
  const file = resolve(out ?? `${manifest.name}-${manifest.version}.tar.gz`);
  const entries = (await readdir(dir)).filter((e) => !e.endsWith('.tar.gz')).sort();
  await tar.c({ gzip: true, cwd: dir, file, portable: true }, entries);
  return { file, name: manifest.name, version: manifest.version };
}

/** The manifest's template files DIR does not have as regular files (lstat: a link is not packed as the file it names). */
async function missingFilesIn(dir: string, manifest: AnyPackageManifest): Promise<string[]> {
  const kinds = new Map<string, PackageEntryKind | undefined>();
  const wanted = manifest.kind === 'agent' ? [] : manifest.config.files.map((f) => packagePath(f.template));
  for (const path of wanted) kinds.set(path, await lstat(join(dir, path)).then((st) => (st.isFile() ? 'file' : 'other'), () => undefined));
  return missingPackageFiles(manifest, (path) => kinds.get(path));
}

export function addPackageCommands(program: Command, io: CliIo): void {
  const pkg = program.command('package').description('Build, publish and list packages (a tar.gz with corral.yaml at its root)');

  pkg
    .command('build')
    .description('Validate DIR/corral.yaml and pack DIR into NAME-VERSION.tar.gz')
    .argument('<dir>', 'the package directory')
    .option('--out <file>', 'where to write the archive')
    .action(async (dir: string, flags: { out?: string }) => {
      const built = await buildPackage(dir, flags.out);
      io.stdout.write(`built ${built.name}@${built.version}: ${built.file}\n`);
    });

  pkg
    .command('sign')
    .description(`Sign a package archive with your own ed25519 key (kept off the server), writing FILE${PUBLISHER_SIGNATURE_SUFFIX}; push sends it along, and agents that pin your public key (policy packages.publisherKeys) install only what you signed`)
    .argument('<file>', 'a .tar.gz made by corral package build')
    .requiredOption('--key <file>', 'your ed25519 private key, PEM (make one with: openssl genpkey -algorithm ed25519 -out publisher.pem)')
    .action(async (file: string, flags: { key: string }) => {
      const signed = await signPackage(file, flags.key);
      io.stdout.write(`signed ${file} (sha256 ${signed.sha256}): ${signed.signatureFile}\npublic key to pin in agent policies:\n${signed.publicKeyPem}`);
    });

  withConnection(
    pkg
      .command('push')
      .description(`Publish a package archive to the server (it validates and signs it); FILE${PUBLISHER_SIGNATURE_SUFFIX}, if there, goes along as the publisher's signature`)
      .argument('<file>', 'a .tar.gz made by corral package build'),
  ).action(
    async (file: string, flags: ConnectionFlags) => {
      let blob: Blob;
      try {
        blob = await openAsBlob(file);
      } catch (e) {
        throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT');
      }
      const signature = await readFile(`${file}${PUBLISHER_SIGNATURE_SUFFIX}`, 'utf8').then(
        (s) => s.trim(),
        () => null,
      );
      const headers: Record<string, string> = signature ? { [PUBLISHER_SIGNATURE_HEADER]: signature } : {};
      const res = await apiFor(flags, io).upload<{ packages: ApiPackage[] }>('/api/v1/packages', blob, 'application/gzip', headers);
      if (flags.output === 'json') return printJson(io, res);
      for (const p of res.packages) io.stdout.write(`published ${p.name}@${p.version} for ${p.os}/${p.arch} (sha256 ${p.sha256})\n`);
    },
  );

  withConnection(pkg.command('list').description('List published packages').option('--name <name>', 'only this package')).action(
    async (flags: ConnectionFlags & { name?: string }) => {
      const q = flags.name ? `?name=${encodeURIComponent(flags.name)}` : '';
      const res = await apiFor(flags, io).request<{ packages: ApiPackage[] }>('GET', `/api/v1/packages${q}`);
      if (flags.output === 'json') return printJson(io, res);
      io.stdout.write(
        formatTable(
          ['NAME', 'VERSION', 'PLATFORM', 'SIZE', 'SHA256', 'PUBLISHED'],
          res.packages.map((p) => [p.name, p.version, `${p.os}/${p.arch}`, String(p.size), p.sha256.slice(0, 16), p.createdAt]),
        ),
      );
    },
  );
}
