/**
 * Encryption at rest for secret values and secret config files.
 *
 * AES-256-GCM (node:crypto) with a 32-byte key that lives in a file outside
 * the database (`--secrets-key-file`; for SQLite `<data-dir>/secrets.key`
 * by default, created 0600 on first start). A sealed value is one string:
 *
 *     cs1.<key id>.<iv>.<tag>.<ciphertext>      (base64url parts)
 *
 * The key id is a short fingerprint of the key (never the key), so a value
 * sealed with another key is told apart from a corrupted one. Every value is
 * sealed with an "additional authenticated data" context naming where it
 * belongs (`deployment/db/value/password`), so a row copied from one
 * deployment or config into another in the database fails to open instead
 * of delivering one owner's secret to another's agents.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { CorralError } from '../errors.js';

const VERSION = 'cs1';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** No key was configured but a secret must be sealed or opened. */
export class SecretsKeyMissingError extends CorralError {
  constructor(readonly what: string) {
    super('SECRETS_KEY_MISSING', `${what} needs the secrets key, and this server has none: start it with --secrets-key-file PATH (CORRAL_SECRETS_KEY_FILE), the same file on every replica`);
  }
}

/** A sealed value that this key cannot open: another key, or the stored text was altered. */
export class SecretUnreadableError extends CorralError {
  constructor(
    readonly what: string,
    reason: string,
  ) {
    super('SECRET_UNREADABLE', `cannot decrypt ${what}: ${reason}`);
  }
}

/** The key file exists but is not a key, or cannot be read or created. */
export class SecretsKeyFileError extends CorralError {
  constructor(
    readonly file: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super('SECRETS_KEY_FILE', `secrets key file ${file}: ${reason}`, options);
  }
}

export const isSealed = (value: string): boolean => value.startsWith(`${VERSION}.`);

/** The key id of a key: 16 hex characters of a hash under its own label. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('corral secrets key id\0').update(key).digest('hex').slice(0, 16);
}

/** Decodes a key file's text: 32 bytes as base64 (44 characters) or hex (64). */
export function parseKey(text: string, file: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : null;
  if (!key || key.length !== KEY_BYTES) throw new SecretsKeyFileError(file, `expected ${KEY_BYTES} bytes as base64 (44 characters) or hex (64), got ${t.length} characters`);
  return key;
}

/** A new key as the text of a key file (base64 and a newline). */
export const newKeyText = (): string => `${randomBytes(KEY_BYTES).toString('base64')}\n`;

export class SecretBox {
  readonly keyId: string;

  private constructor(
    private readonly key: Buffer,
    /** Where the key came from, for messages. */
    readonly source: string,
  ) {
    this.keyId = keyIdOf(key);
  }

  static fromKey(key: Buffer, source = 'key'): SecretBox {
    if (key.length !== KEY_BYTES) throw new SecretsKeyFileError(source, `a key is ${KEY_BYTES} bytes, got ${key.length}`);
    return new SecretBox(Buffer.from(key), source);
  }

  /**
   * Reads the key from `file`. With `create`, a missing file is created with
   * a new random key, mode 0600 (exclusively: two processes starting at once
   * never write two keys). Throws SecretsKeyFileError naming the file for a
   * missing (without `create`), unreadable, group/other-readable or
   * malformed file.
   */
  static load(file: string, opts: { create: boolean }): SecretBox {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SecretsKeyFileError(file, 'cannot be read', { cause: e });
      if (!opts.create) throw new SecretsKeyFileError(file, 'does not exist (create one with: corral server gen-secrets-key > FILE, and give every replica the same file)');
      text = createKeyFile(file);
    }
    const fd = openSync(file, 'r');
    try {
      const mode = fstatSync(fd).mode & 0o777;
      if ((mode & 0o077) !== 0) throw new SecretsKeyFileError(file, `is readable by group or others (mode ${mode.toString(8)}); chmod 600 it`);
    } finally {
      closeSync(fd);
    }
    return new SecretBox(parseKey(text, file), file);
  }

  /** Encrypts `plaintext` for `context` (where it belongs, e.g. `deployment/db/value/password`). */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return [VERSION, this.keyId, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  /**
   * Decrypts what `seal` made for the same `context`. Throws
   * SecretUnreadableError naming `what` (e.g. "secret value password of
   * deployment db") for another key, another context or altered text.
   */
  open(sealed: string, context: string, what: string): string {
    const parts = sealed.split('.');
    if (parts.length !== 5 || parts[0] !== VERSION) throw new SecretUnreadableError(what, 'the stored text is not a sealed secret (altered in the database?)');
    const [, keyId, iv, tag, ct] = parts as [string, string, string, string, string];
    if (keyId !== this.keyId) throw new SecretUnreadableError(what, `it was encrypted with key ${keyId}, and the secrets key in ${this.source} is ${this.keyId}`);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnreadableError(what, 'authentication failed (altered in the database, or moved from another deployment or config)');
    }
  }
}

function createKeyFile(file: string): string {
  const text = newKeyText();
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    // Another process created it meanwhile: use theirs.
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8');
    throw new SecretsKeyFileError(file, 'cannot be created', { cause: e });
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return text;
}
