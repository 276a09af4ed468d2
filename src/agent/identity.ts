/**
 * The agent's identity on disk: its instance uid (created once) and the
 * credential the server gave it at enrollment. `<data-dir>/identity.json`,
 * mode 0600, always written atomically.
 */
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { uuidBytesToString } from '../protocol/index.js';
import { uuidv7Bytes } from './uuidv7.js';
import { writeFileAtomic } from './atomic-write.js';

export interface Identity {
  version: 1;
  instanceUid: string;
  credential: string | null;
  /** The server's package-signing key, pinned at enrollment. */
  signingKeyPem?: string | null;
  /**
   * A credential offered by a rotation, not yet proven: the next connection
   * uses it; kept once the server accepts it, dropped (back to `credential`)
   * otherwise. Survives a crash, as the spec's "candidate" settings do.
   */
  pendingCredential?: string | null;
  /** Hash (hex) of the connection settings offer that carried `pendingCredential`, for the status report. */
  pendingSettingsHash?: string | null;
}

export class IdentityError extends Error {
  readonly code = 'BAD_IDENTITY_FILE';
}

function validate(file: string, value: unknown): Identity {
  const v = value as Partial<Identity> | null;
  if (!v || typeof v !== 'object' || v.version !== 1) throw new IdentityError(`${file}: expected {"version": 1, ...}`);
  if (typeof v.instanceUid !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(v.instanceUid)) {
    throw new IdentityError(`${file}: instanceUid must be a lower-case UUID`);
  }
  if (v.credential !== null && typeof v.credential !== 'string') throw new IdentityError(`${file}: credential must be a string or null`);
  if (v.signingKeyPem !== undefined && v.signingKeyPem !== null && typeof v.signingKeyPem !== 'string') throw new IdentityError(`${file}: signingKeyPem must be a string`);
  for (const key of ['pendingCredential', 'pendingSettingsHash'] as const) {
    if (v[key] !== undefined && v[key] !== null && typeof v[key] !== 'string') throw new IdentityError(`${file}: ${key} must be a string or null`);
  }
  return {
    version: 1,
    instanceUid: v.instanceUid,
    credential: v.credential ?? null,
    signingKeyPem: v.signingKeyPem ?? null,
    ...(v.pendingCredential ? { pendingCredential: v.pendingCredential, pendingSettingsHash: v.pendingSettingsHash ?? '' } : {}),
  };
}

export class IdentityStore {
  readonly file: string;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.file = join(dataDir, 'identity.json');
  }

  /** Reads the identity, creating it on first start. Throws IdentityError for a corrupt file (never silently replaced). */
  loadOrCreate(): Identity {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      const identity: Identity = { version: 1, instanceUid: uuidBytesToString(uuidv7Bytes()), credential: null, signingKeyPem: null };
      this.save(identity);
      return identity;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new IdentityError(`${this.file} is not valid JSON (${(e as Error).message}); move it away to enroll as a new agent`);
    }
    const identity = validate(this.file, parsed);
    chmodSync(this.file, 0o600);
    return identity;
  }

  save(identity: Identity): void {
    writeFileAtomic(this.file, `${JSON.stringify(identity, null, 2)}\n`, 0o600);
  }
}
