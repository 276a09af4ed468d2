/**
 * Agents echo what they run back as their effective config, and a Corral
 * agent's deployment file carries the values it rendered with — secret ones
 * included. Before a report is stored, the server masks what it knows to be
 * secret, so no store row and no answer holds a secret an agent echoed:
 * - a file with the name of a secret config file: its body becomes the mask
 *   and the sha256 of what the agent reported;
 * - a deployment file (`deployment.<name>.json`): the values whose keys are
 *   secret in that deployment become the mask.
 * An agent that copies a secret elsewhere (another file name, a rendered
 * collector config) is not scrubbed: docs/security.md says so.
 */
import { createHash } from 'node:crypto';
import { DEPLOYMENT_FILE_PREFIX } from '../../protocol/index.js';
import type { EffectiveConfigRecord } from '../store/index.js';
import { SECRET_MASK } from './secret-fields.js';

export interface SecretNames {
  files: ReadonlySet<string>;
  /** deployment name → keys of its secret values. */
  values: ReadonlyMap<string, ReadonlySet<string>>;
}

function scrubSpec(body: string, keys: ReadonlySet<string>): string {
  let spec: unknown;
  try {
    spec = JSON.parse(body);
  } catch {
    return body;
  }
  if (typeof spec !== 'object' || spec === null) return body;
  const values = (spec as { values?: unknown }).values;
  if (typeof values !== 'object' || values === null) return body;
  let changed = false;
  for (const k of keys) {
    if (Object.hasOwn(values, k)) {
      (values as Record<string, unknown>)[k] = SECRET_MASK;
      changed = true;
    }
  }
  return changed ? JSON.stringify(spec) : body;
}

export function scrubEffectiveConfig(config: EffectiveConfigRecord, secrets: SecretNames): EffectiveConfigRecord {
  if (secrets.files.size === 0 && secrets.values.size === 0) return config;
  const files: EffectiveConfigRecord['files'] = {};
  for (const [name, f] of Object.entries(config.files)) {
    const deployment = name.startsWith(DEPLOYMENT_FILE_PREFIX) && name.endsWith('.json') ? name.slice(DEPLOYMENT_FILE_PREFIX.length, -'.json'.length) : null;
    const keys = deployment === null ? undefined : secrets.values.get(deployment);
    if (secrets.files.has(name)) {
      files[name] = { contentType: f.contentType, body: `${SECRET_MASK} sha256:${createHash('sha256').update(f.body, 'utf8').digest('hex')}` };
    } else if (keys) {
      files[name] = { contentType: f.contentType, body: scrubSpec(f.body, keys) };
    } else files[name] = f;
  }
  return { files };
}
