/**
 * Push-time check that a package carries the files its manifest names
 * (every config template, as a regular file), so a package no agent could
 * install is refused at push, naming the file, instead of failing on every
 * host it is deployed to.
 */
import * as tar from 'tar';
import { missingPackageFiles, packagePath, type AnyPackageManifest, type PackageEntryKind } from '../../protocol/index.js';
import { InvalidPackageError } from '../errors.js';

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Lists the archive (a tar.gz already known to be readable) and throws InvalidPackageError naming each file the manifest wants and it lacks. */
export async function checkPackageFiles(file: string, manifest: AnyPackageManifest): Promise<void> {
  if (manifest.kind === 'agent' || manifest.config.files.length === 0) return;
  const kinds = new Map<string, PackageEntryKind>();
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (e) => {
        // A later entry of the same path wins on extraction, so it wins here too.
        kinds.set(packagePath(e.path), FILE_TYPES.has(e.type) ? 'file' : 'other');
        e.resume();
      },
    });
  } catch (e) {
    throw new InvalidPackageError(`not a valid tar.gz package: ${(e as Error).message}`);
  }
  const missing = missingPackageFiles(manifest, (path) => kinds.get(path));
  if (missing.length > 0) throw new InvalidPackageError(`the package lacks files its manifest names: ${missing.join('; ')}`);
}
