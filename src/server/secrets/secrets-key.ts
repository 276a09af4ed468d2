/**
 * Which secrets key a server runs with, checked against the store once at
 * start: the store remembers the id of the key its secrets are sealed with
 * (meta `secrets.key-id`, written with the first secret), so a replica or a
 * restart with another key, or none, refuses to start with a message naming
 * both keys, instead of failing later on every offer.
 */
import type { Store } from '../store/index.js';
import { SecretBox, SecretsKeyMissingError, SecretUnreadableError } from './secret-box.js';
import { configFileContext, deploymentSecretContext } from './secret-fields.js';

export const KEY_ID_META = 'secrets.key-id';

/** From the compiled options: the key file, and whether a missing one is created (SQLite's default). */
export interface SecretsKeyOption {
  file: string;
  create: boolean;
}

/**
 * Loads the key (or none) and checks it against the store. Throws
 * SecretsKeyFileError for a bad file, SecretsKeyMissingError when the store
 * holds secrets and no key is configured, SecretUnreadableError when the key
 * is not the one the store's secrets are sealed with.
 */
export async function openSecretsKey(option: SecretsKeyOption | null, store: Store): Promise<SecretBox | null> {
  const box = option ? SecretBox.load(option.file, { create: option.create }) : null;
  const registered = await store.getMeta(KEY_ID_META);
  if (registered !== null && !box) throw new SecretsKeyMissingError(`this store's secrets (sealed with key ${registered})`);
  if (registered !== null && box && registered !== box.keyId) {
    throw new SecretUnreadableError(`this store's secrets`, `they are sealed with key ${registered}, and ${box.source} holds key ${box.keyId}: start with the file holding key ${registered} (every replica needs the same one)`);
  }
  return box;
}

/** Before the first secret is written: records this key as the store's (or refuses when the store has another). */
export async function registerSecretsKey(store: Store, box: SecretBox): Promise<void> {
  const registered = await store.setMetaIfAbsent(KEY_ID_META, box.keyId);
  if (registered !== box.keyId) {
    throw new SecretUnreadableError(`this store's secrets`, `they are sealed with key ${registered}, and ${box.source} holds key ${box.keyId} (replicas started with different --secrets-key-file?)`);
  }
}

/**
 * Re-seals every secret in the store from `from` to `to` in one transaction
 * and records `to` as the store's key (`corral server rotate-secrets-key`).
 * Throws SecretUnreadableError when `from` is not the store's key or a secret
 * does not open with it; then nothing has changed. Servers still running
 * with the old key cannot open the secrets afterwards: restart them all with
 * the new key file.
 */
export async function rotateSecretsKey(store: Store, from: SecretBox, to: SecretBox): Promise<{ values: number; files: number }> {
  const registered = await store.getMeta(KEY_ID_META);
  if (registered !== null && registered !== from.keyId) {
    throw new SecretUnreadableError(`this store's secrets`, `they are sealed with key ${registered}, and the old key file ${from.source} holds key ${from.keyId}`);
  }
  const again = (sealed: string, context: string, what: string) => to.seal(from.open(sealed, context, what), context);
  return store.resealSecrets(
    {
      deploymentValue: (deployment, key, sealed) => again(sealed, deploymentSecretContext(deployment, key), `secret value ${key} of deployment ${deployment}`),
      configFile: (config, file, sealed) => again(sealed, configFileContext(config, file), `secret file ${file} of config ${config}`),
    },
    { key: KEY_ID_META, value: to.keyId },
  );
}
