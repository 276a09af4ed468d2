/**
 * `corral deploy` resource flags: --cpu, --memory-max, --memory-high,
 * --pids, or --resources-file (a YAML or JSON file holding the
 * `resources` block); the flags win over the file field by field. Checked
 * here with the manifest's own rules, so a bad value is a usage error
 * naming the flag before anything is sent.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { compileResources, ResourcesError, type Resources } from '../protocol/index.js';
import { CliError } from './exit-codes.js';

export interface ResourceFlags {
  cpu?: string;
  memoryMax?: string;
  memoryHigh?: string;
  pids?: string;
  resourcesFile?: string;
}

const MAX_FILE_BYTES = 64 * 1024;

/** The override to send, or undefined when no flag was given. Throws CliError (exit 1) naming the flag or file. */
export function resourcesFrom(flags: ResourceFlags): Resources | undefined {
  let base: Record<string, unknown> = {};
  if (flags.resourcesFile) {
    let text: string;
    try {
      text = readFileSync(flags.resourcesFile, 'utf8');
    } catch (e) {
      throw new CliError(`--resources-file ${flags.resourcesFile}: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT');
    }
    if (text.length > MAX_FILE_BYTES) throw new CliError(`--resources-file ${flags.resourcesFile}: over ${MAX_FILE_BYTES} bytes`, 1, 'INVALID_ARGUMENT');
    let parsed: unknown;
    try {
      parsed = parseYaml(text, { maxAliasCount: 10 });
    } catch (e) {
      throw new CliError(`--resources-file ${flags.resourcesFile}: not valid YAML or JSON: ${(e as Error).message}`, 1, 'INVALID_ARGUMENT');
    }
    // Either the block itself or a document with a `resources:` key (a manifest excerpt).
    const doc = parsed !== null && typeof parsed === 'object' && 'resources' in parsed ? (parsed as { resources: unknown }).resources : parsed;
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new CliError(`--resources-file ${flags.resourcesFile}: expected a mapping like {cpu: 0.5, memoryMax: 256Mi}`, 1, 'INVALID_ARGUMENT');
    base = doc as Record<string, unknown>;
  }
  const given: Record<string, unknown> = {};
  if (flags.cpu !== undefined) given.cpu = /^[0-9.]+$/.test(flags.cpu) ? Number(flags.cpu) : flags.cpu;
  if (flags.memoryMax !== undefined) given.memoryMax = flags.memoryMax;
  if (flags.memoryHigh !== undefined) given.memoryHigh = flags.memoryHigh;
  if (flags.pids !== undefined) given.pids = /^[0-9]+$/.test(flags.pids) ? Number(flags.pids) : flags.pids;
  if (!flags.resourcesFile && Object.keys(given).length === 0) return undefined;
  const resources = { ...base, ...given };
  const source = flags.resourcesFile ? `--resources-file ${flags.resourcesFile} and flags: resources` : 'resources';
  try {
    compileResources(resources, source);
  } catch (e) {
    if (e instanceof ResourcesError) {
      // Name the flag people typed: resources.memoryMax → --memory-max.
      const message = e.message.replace(/resources\.(cpu|memoryMax|memoryHigh|pids)/g, (_m, f: string) => (f in given ? `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : `resources.${f}`));
      throw new CliError(message, 1, 'INVALID_ARGUMENT');
    }
    throw e;
  }
  return resources as Resources;
}
