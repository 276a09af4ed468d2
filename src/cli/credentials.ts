/**
 * Where the CLI finds its server and token: flags, then CORRAL_SERVER /
 * CORRAL_TOKEN, then the file `corral login` writes
 * ($XDG_CONFIG_HOME/corral/credentials.json, mode 0600).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { CliError } from './exit-codes.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:4320';

export interface Credentials {
  server: string;
  token: string | null;
}

export function credentialsFile(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'corral', 'credentials.json');
}

function readSaved(env: NodeJS.ProcessEnv): Partial<Credentials> {
  const file = credentialsFile(env);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  try {
    const saved = JSON.parse(text) as { version?: number; server?: string; token?: string };
    if (saved.version !== 1) throw new Error('unknown version');
    return { server: saved.server, token: saved.token ?? null };
  } catch (e) {
    throw new CliError(`${file} is not a valid credentials file (${(e as Error).message}); run corral login again`);
  }
}

export function resolveCredentials(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv): Credentials {
  const saved = flags.server && flags.token ? {} : readSaved(env);
  return {
    server: (flags.server || env.CORRAL_SERVER || saved.server || DEFAULT_SERVER).replace(/\/+$/, ''),
    token: flags.token || env.CORRAL_TOKEN || saved.token || null,
  };
}

export function saveCredentials(creds: Credentials, env: NodeJS.ProcessEnv): string {
  const file = credentialsFile(env);
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, JSON.stringify({ version: 1, ...creds }, null, 2), { mode: 0o600 });
  return file;
}

export function removeCredentials(env: NodeJS.ProcessEnv): void {
  rmSync(credentialsFile(env), { force: true });
}
