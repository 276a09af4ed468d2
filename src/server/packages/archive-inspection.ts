/**
 * Push-time inspection of a package archive's entries, before anything is
 * stored or signed: the same rules the agent applies before unpacking
 * (src/protocol/package-entries.ts). An archive the server signs is one
 * every agent will unpack; a hostile one is refused here, naming the entry.
 */
import * as tar from 'tar';
import { checkPackageEntries, DEFAULT_PACKAGE_ENTRY_LIMITS, UnsafePackageEntryError, type PackageEntryHeader, type PackageEntryLimits } from '../../protocol/index.js';
import { InvalidPackageError } from '../errors.js';

/** Reads every entry header of the tar.gz at `file` and checks them. Throws InvalidPackageError naming the offending entry. */
export async function inspectPackageArchive(file: string, limits: PackageEntryLimits = DEFAULT_PACKAGE_ENTRY_LIMITS): Promise<{ entries: number; bytes: number }> {
  const headers: PackageEntryHeader[] = [];
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (e) => {
        // Past the limit the check fails anyway: keep memory bounded.
        if (headers.length <= limits.maxEntries) {
          headers.push({ path: e.path, type: e.type, size: e.size ?? 0, ...(e.mode !== undefined ? { mode: e.mode } : {}), ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}) });
        }
      },
    });
  } catch (e) {
    throw new InvalidPackageError(`not a valid tar.gz package: ${(e as Error).message}`);
  }
  try {
    return checkPackageEntries(headers, limits);
  } catch (e) {
    if (e instanceof UnsafePackageEntryError) throw new InvalidPackageError(`unsafe package: ${e.message}`);
    throw e;
  }
}
