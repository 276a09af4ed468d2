/**
 * What a package archive must carry for its manifest: every config
 * template, as a regular file. Checked when a package is built and again
 * when it is pushed, so a package an agent could never install is refused
 * before it is published, naming the file. Shared by the CLI and the server.
 */
import type { AnyPackageManifest } from './package-manifest.js';

/** How an entry of the package looks: `file` for a regular file, `other` for anything else (directory, link, …). */
export type PackageEntryKind = 'file' | 'other';

/** An archive entry's path as the manifest names it: `./a//b/` → `a/b`. */
export function packagePath(p: string): string {
  return p
    .split('/')
    .filter((part) => part !== '' && part !== '.')
    .join('/');
}

/**
 * Problems with the files the manifest names, one message per file, each
 * naming the manifest field and the path; empty when the package carries
 * them all. `entryKind(path)` says what the package has at a normalized
 * path, or undefined when it has nothing there.
 */
export function missingPackageFiles(manifest: AnyPackageManifest, entryKind: (path: string) => PackageEntryKind | undefined): string[] {
  if (manifest.kind === 'agent') return [];
  const problems: string[] = [];
  manifest.config.files.forEach((f, i) => {
    const kind = entryKind(packagePath(f.template));
    if (kind === undefined) problems.push(`config.files[${i}].template: ${f.template} is not in the package`);
    else if (kind !== 'file') problems.push(`config.files[${i}].template: ${f.template} is not a regular file in the package`);
  });
  return problems;
}
