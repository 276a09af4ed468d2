/**
 * The remote config an agent should have: every named config whose selector
 * matches the agent, merged into one OpAMP config map.
 *
 * Files are keyed by their file name. When two matching configs carry the
 * same file name, the config whose name sorts last wins, so the result never
 * depends on store order. The hash covers names, content types and bodies,
 * so it changes exactly when the content changes.
 */
import { createHash } from 'node:crypto';
import type { ConfigFile, ConfigRecord } from '../store/index.js';
import { matchesSelector, parseSelector, type Selector } from './selector.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { openConfigFiles } from '../secrets/secret-fields.js';

export interface DesiredConfig {
  /** Names of the configs that contributed, sorted. */
  configNames: string[];
  files: Record<string, ConfigFile>;
  /** sha256 hex of the merged files. */
  hash: string;
}

/** sha256 over parts, each length-prefixed, so that no two different sequences of parts hash the same. */
export function lengthPrefixedSha256(parts: string[]): Buffer {
  const h = createHash('sha256');
  for (const part of parts) {
    const bytes = Buffer.from(part, 'utf8');
    h.update(`${bytes.length}:`);
    h.update(bytes);
  }
  return h.digest();
}

export function hashConfigFiles(files: Record<string, ConfigFile>): string {
  const parts = Object.keys(files)
    .sort()
    .flatMap((name) => [name, files[name]!.contentType, files[name]!.body]);
  return lengthPrefixedSha256(parts).toString('hex');
}

export interface CompiledConfig {
  record: ConfigRecord;
  selector: Selector;
}

/**
 * Sorts configs by name and parses their selectors; secret files are opened
 * with `secrets` (throws SecretsKeyMissingError / SecretUnreadableError
 * naming the file), so what is merged is what agents get.
 */
export function compileConfigs(configs: ConfigRecord[], secrets: SecretBox | null = null): CompiledConfig[] {
  return [...configs]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((record) => ({
      record: Object.values(record.files).some((f) => f.secret) ? { ...record, files: openConfigFiles(secrets, record.name, record.files) } : record,
      selector: parseSelector(record.selector),
    }));
}

/** Merges the configs matching `attributes`; null when none match. */
export function desiredConfigFor(configs: CompiledConfig[], attributes: Record<string, string>): DesiredConfig | null {
  const matched = configs.filter((c) => matchesSelector(c.selector, attributes));
  return matched.length === 0 ? null : mergeConfigs(matched);
}

/** Merges configs already known to match, in name order (later names win a file clash). */
export function mergeConfigs(matched: CompiledConfig[]): DesiredConfig {
  const files: Record<string, ConfigFile> = {};
  for (const c of matched) Object.assign(files, c.record.files);
  return { configNames: matched.map((c) => c.record.name), files, hash: hashConfigFiles(files) };
}
