/**
 * Secret deployment values and secret config files: how a write is turned
 * into what the store keeps (sealed), how the stored form is opened for the
 * agents that get it, and how it is masked in every answer.
 *
 * The rule for an update (a PUT replaces the whole deployment or config):
 * - a secret given with a value is stored (sealed) under that value;
 * - a secret given as the mask `***` keeps the stored one of that name
 *   (what `GET` answers can be sent back unchanged; for a config file, its
 *   content type is kept too); `***` for a name with no stored secret is
 *   refused;
 * - a secret left out is removed, as a left-out value or file is.
 * So the literal value `***` cannot itself be a secret.
 *
 * An unchanged secret keeps its stored ciphertext, so re-sending the same
 * value makes no new revision and no rollout.
 */
import { createHash } from 'node:crypto';
import type { ConfigFile } from '../store/index.js';
import { ValidationError } from '../errors.js';
import { SecretsKeyMissingError, type SecretBox } from './secret-box.js';

/** What answers show instead of a secret; sent back in a write, it keeps the stored secret. */
export const SECRET_MASK = '***';

export const deploymentSecretContext = (deployment: string, key: string): string => `deployment/${deployment}/value/${key}`;
export const configFileContext = (config: string, file: string): string => `config/${config}/file/${file}`;

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

function need(box: SecretBox | null, what: string): SecretBox {
  if (!box) throw new SecretsKeyMissingError(what);
  return box;
}

/** Opens a deployment's sealed secret values (e.g. of one revision). */
export function openDeploymentSecrets(box: SecretBox | null, deployment: string, sealed: Readonly<Record<string, string>>, where = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sealed)) {
    const what = `secret value ${k} of deployment ${deployment}${where}`;
    out[k] = need(box, what).open(v, deploymentSecretContext(deployment, k), what);
  }
  return out;
}

/**
 * Resolves a write's `secretValues` against the stored ones (see the rule
 * above). Returns the sealed values to store and the plaintext (for checks
 * run before anything is written). Throws ValidationError for a key also in
 * `values` or a mask with nothing stored; SecretsKeyMissingError without a
 * key; SecretUnreadableError when a stored secret cannot be opened.
 */
export function resolveDeploymentSecrets(
  box: SecretBox | null,
  deployment: string,
  input: Readonly<Record<string, string>>,
  values: Readonly<Record<string, string>>,
  stored: Readonly<Record<string, string>>,
): { sealed: Record<string, string>; plaintext: Record<string, string> } {
  const sealed: Record<string, string> = {};
  const plaintext: Record<string, string> = {};
  for (const [k, v] of Object.entries(input)) {
    if (Object.hasOwn(values, k)) throw new ValidationError(`secretValues.${k}: ${k} is also in values; a value is either plain or secret`, `secretValues.${k}`);
    const what = `secret value ${k} of deployment ${deployment}`;
    const context = deploymentSecretContext(deployment, k);
    const before = Object.hasOwn(stored, k) ? need(box, what).open(stored[k]!, context, what) : undefined;
    if (v === SECRET_MASK) {
      if (before === undefined) throw new ValidationError(`secretValues.${k}: "${SECRET_MASK}" keeps the stored secret, and deployment ${deployment} has no secret ${k}; send its value`, `secretValues.${k}`);
      sealed[k] = stored[k]!;
      plaintext[k] = before;
    } else {
      sealed[k] = before === v ? stored[k]! : need(box, what).seal(v, context);
      plaintext[k] = v;
    }
  }
  return { sealed, plaintext };
}

/** A config file as written: `secret` marks it secret. */
export interface ConfigFileInput {
  contentType: string;
  body: string;
  secret?: boolean;
}

/**
 * Resolves a config write's files against the stored ones: secret files are
 * sealed (kept when sent as the mask), with the sha256 of their content kept
 * beside them. Returns the files to store and the same files in plaintext
 * (for the config's hash). Throws as resolveDeploymentSecrets does.
 */
export function resolveConfigFiles(
  box: SecretBox | null,
  config: string,
  input: Readonly<Record<string, ConfigFileInput>>,
  stored: Readonly<Record<string, ConfigFile>>,
): { files: Record<string, ConfigFile>; plaintext: Record<string, ConfigFile> } {
  const files: Record<string, ConfigFile> = {};
  const plaintext: Record<string, ConfigFile> = {};
  for (const [name, f] of Object.entries(input)) {
    if (!f.secret) {
      if (f.body === SECRET_MASK && stored[name]?.secret) {
        throw new ValidationError(`files.${name}: "${SECRET_MASK}" keeps a stored secret file only with secret: true`, `files.${name}`);
      }
      files[name] = { contentType: f.contentType, body: f.body };
      plaintext[name] = files[name];
      continue;
    }
    const what = `secret file ${name} of config ${config}`;
    const context = configFileContext(config, name);
    const old = stored[name];
    const before = old?.secret ? need(box, what).open(old.body, context, what) : undefined;
    let body: string;
    let contentType = f.contentType;
    if (f.body === SECRET_MASK) {
      if (before === undefined) throw new ValidationError(`files.${name}: "${SECRET_MASK}" keeps the stored secret file, and config ${config} has no secret file ${name}; send its content`, `files.${name}`);
      // The mask keeps the stored file as it is, content type included.
      body = before;
      contentType = old!.contentType;
    } else body = f.body;
    const sealed = before === body ? old!.body : need(box, what).seal(body, context);
    files[name] = { contentType, body: sealed, secret: true, sha256: sha256(body) };
    plaintext[name] = { contentType, body };
  }
  return { files, plaintext };
}

/** A config's files with secret ones opened (for the agents they are offered to). */
export function openConfigFiles(box: SecretBox | null, config: string, files: Readonly<Record<string, ConfigFile>>): Record<string, ConfigFile> {
  const out: Record<string, ConfigFile> = {};
  for (const [name, f] of Object.entries(files)) {
    if (!f.secret) {
      out[name] = f;
      continue;
    }
    const what = `secret file ${name} of config ${config}`;
    out[name] = { contentType: f.contentType, body: need(box, what).open(f.body, configFileContext(config, name), what), secret: true };
  }
  return out;
}

/** Secret values as every answer shows them: keys, never values. */
export function maskSecretValues(sealed: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(sealed).map((k) => [k, SECRET_MASK]));
}

/** Config files as every answer shows them: a secret file's body is the mask, with the sha256 of its content. */
export function maskConfigFiles(files: Readonly<Record<string, ConfigFile>>): Record<string, ConfigFile> {
  const out: Record<string, ConfigFile> = {};
  for (const [name, f] of Object.entries(files)) {
    out[name] = f.secret ? { contentType: f.contentType, body: SECRET_MASK, secret: true, sha256: f.sha256 ?? '' } : { contentType: f.contentType, body: f.body };
  }
  return out;
}

/** `text` with every occurrence of each secret replaced by the mask (for messages that quote a value). */
export function scrubText(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join(SECRET_MASK);
  return out;
}
