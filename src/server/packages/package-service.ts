/**
 * Publishing packages: an upload is streamed to disk while its sha256 is
 * computed (never held in memory), its corral.yaml is read and validated,
 * the digest is signed, and one record per platform of the manifest is
 * stored. Artifact bytes live in the store (in 1 MiB chunks), so every
 * replica can serve them; each server process keeps a local copy in
 * `<data-dir>/artifacts/<sha256>` to serve downloads (Range) from a file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar';
import { MANIFEST_FILE, ManifestError, PUBLISHER_SIGNATURE_HEADER, parseAnyManifest, type AnyPackageManifest } from '../../protocol/index.js';
import type { PackageRecord, Store } from '../store/index.js';
import { ArtifactNotFoundError, InvalidPackageError, StoreError } from '../errors.js';
import type { Clock } from '../clock.js';
import type { EventRecorder } from '../events.js';
import type { SigningKey } from './signing-key.js';
import { checkPackageFiles } from './package-files-check.js';
import { inspectPackageArchive } from './archive-inspection.js';

export const DEFAULT_MAX_PACKAGE_BYTES = 1024 ** 3;
const MAX_MANIFEST_BYTES = 256 * 1024;
const ARTIFACT_CHUNK_BYTES = 1024 * 1024;

class TooLarge extends Error {}

/** Reads corral.yaml out of a tar.gz without unpacking anything else. */
async function readManifest(file: string): Promise<AnyPackageManifest> {
  let text: string | null = null;
  let tooBig = false;
  try {
    await tar.t({
      file,
      strict: true,
      filter: (p) => p === MANIFEST_FILE || p === `./${MANIFEST_FILE}`,
      onReadEntry: (e) => {
        if ((e.size ?? 0) > MAX_MANIFEST_BYTES) {
          tooBig = true;
          e.resume();
          return;
        }
        const chunks: Buffer[] = [];
        e.on('data', (c: Buffer) => chunks.push(c));
        e.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
      },
    });
  } catch (e) {
    throw new InvalidPackageError(`not a valid tar.gz package: ${(e as Error).message}`);
  }
  if (tooBig) throw new InvalidPackageError(`${MANIFEST_FILE} is larger than ${MAX_MANIFEST_BYTES} bytes`);
  if (text === null) throw new InvalidPackageError(`package has no ${MANIFEST_FILE} at its root`);
  try {
    return parseAnyManifest(text);
  } catch (e) {
    if (e instanceof ManifestError) throw new InvalidPackageError(e.message);
    throw e;
  }
}

export class PackageService {
  private readonly artifactDir: string;

  constructor(
    private readonly deps: { store: Store; clock: Clock; events: EventRecorder; signingKey: SigningKey; dataDir: string; maxBytes?: number },
  ) {
    this.artifactDir = join(deps.dataDir, 'artifacts');
  }

  get publicKeyPem(): string {
    return this.deps.signingKey.publicKeyPem;
  }

  /** Stores an uploaded package. Throws InvalidPackageError or PackageConflictError; on error nothing is kept. */
  async push(body: Readable, opts: { publisherSignature?: string | undefined; actor: string }): Promise<PackageRecord[]> {
    const publisherSignature = opts.publisherSignature?.trim().toLowerCase() || null;
    if (publisherSignature !== null && !/^[0-9a-f]{128}$/.test(publisherSignature)) {
      throw new InvalidPackageError(`${PUBLISHER_SIGNATURE_HEADER}: expected an ed25519 signature as 128 hex digits (corral package sign writes one)`);
    }
    const maxBytes = this.deps.maxBytes ?? DEFAULT_MAX_PACKAGE_BYTES;
    await mkdir(this.artifactDir, { recursive: true });
    const tmp = join(this.artifactDir, `.upload-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const meter = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          if (size > maxBytes) return done(new TooLarge());
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(body, meter, createWriteStream(tmp, { mode: 0o644 }));
      if (size === 0) throw new InvalidPackageError('empty upload: send the package tar.gz as the request body');
      await inspectPackageArchive(tmp);
      const manifest = await readManifest(tmp);
      await checkPackageFiles(tmp, manifest);
      const sha256 = hash.digest('hex');
      // The bytes go to the store first, so no package record ever points at content no replica can serve.
      const newContent = !(await this.deps.store.hasArtifactContent(sha256));
      if (newContent) await this.deps.store.putArtifactContent(sha256, createReadStream(tmp, { highWaterMark: ARTIFACT_CHUNK_BYTES }));
      const signature = this.deps.signingKey.signDigest(sha256);
      const now = this.deps.clock.now();
      const records: PackageRecord[] = [];
      for (const p of manifest.platforms) {
        records.push(
          await this.deps.store
            .putPackage({
            name: manifest.name,
            version: manifest.version,
            os: p.os,
            arch: p.arch,
            sha256,
            size,
            signature,
            publisherSignature,
              manifest: manifest as unknown as Record<string, unknown>,
              createdAt: now,
            })
            .catch(async (e: unknown) => {
              // Refused (e.g. a conflicting version): drop content that nothing refers to.
              if (newContent && (await this.deps.store.findPackagesBySha256(sha256)).length === 0) await this.deps.store.deleteArtifactContent(sha256);
              throw e;
            }),
        );
      }
      await rename(tmp, join(this.artifactDir, sha256));
      this.deps.events.record('package.pushed', null, { name: manifest.name, version: manifest.version, sha256, platforms: manifest.platforms, actor: opts.actor });
      return records;
    } catch (e) {
      await rm(tmp, { force: true });
      if (e instanceof TooLarge) throw new InvalidPackageError(`package larger than ${maxBytes} bytes`);
      throw e;
    }
  }

  list(name?: string): Promise<PackageRecord[]> {
    return this.deps.store.listPackages(name);
  }

  /**
   * Path and size of a stored artifact, as a local file. A replica that has
   * not served it before copies it from the store first (checking its
   * sha256), so every replica serves every package. Throws ArtifactNotFoundError.
   */
  async artifact(sha256: string): Promise<{ path: string; size: number }> {
    if (!/^[0-9a-f]{64}$/.test(sha256)) throw new ArtifactNotFoundError(sha256);
    const path = join(this.artifactDir, sha256);
    const local = await stat(path).catch(() => null);
    if (local) return { path, size: local.size };
    if (!(await this.deps.store.hasArtifactContent(sha256))) throw new ArtifactNotFoundError(sha256);
    await mkdir(this.artifactDir, { recursive: true });
    const tmp = join(this.artifactDir, `.fetch-${randomBytes(8).toString('hex')}`);
    try {
      const hash = createHash('sha256');
      const check = new Transform({
        transform(chunk: Buffer, _enc, done) {
          hash.update(chunk);
          done(null, chunk);
        },
      });
      await pipeline(Readable.from(this.deps.store.readArtifactContent(sha256)), check, createWriteStream(tmp, { mode: 0o644 }));
      if (hash.digest('hex') !== sha256) throw new StoreError(`artifact ${sha256} in the store does not match its hash`);
      await rename(tmp, path);
    } finally {
      await rm(tmp, { force: true });
    }
    return { path, size: (await stat(path)).size };
  }
}
