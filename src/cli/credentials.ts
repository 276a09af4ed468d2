/**
 * Where the CLI finds its server and token: flags, then CORRAL_SERVER /
 * CORRAL_TOKEN, then the file `corral login` writes
 * (`<configDir>/credentials.json`, mode 0600, `{ version: 1, server, token }`).
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { CliError } from './exit-codes.js';

export const DEFAULT_SERVER = 'http://127.0.0.1:4320';

export interface Credentials {
  /** An http(s) URL without a trailing slash. */
  server: string;
  token: string | null;
}

/** `$XDG_CONFIG_HOME/corral`, else `~/.config/corral`. */
export function defaultConfigDir(env: NodeJS.ProcessEnv): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'corral');
}

export function credentialsFile(configDir: string): string {
  return join(configDir, 'credentials.json');
}

/** The saved login; {} when there is none. A file that exists but is invalid is an error naming it. */
function readSaved(configDir: string): Partial<Credentials> {
  const file = credentialsFile(configDir);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(`cannot read ${file}: ${(e as Error).message}`, 1, 'INVALID_CREDENTIALS');
  }
  try {
    const saved = JSON.parse(text) as { version?: unknown; server?: unknown; token?: unknown };
    if (saved.version !== 1) throw new Error(`unknown version ${JSON.stringify(saved.version)}`);
    if (typeof saved.server !== 'string' || typeof saved.token !== 'string') throw new Error('server and token must be strings');
    return { server: normalizeServer(saved.server), token: saved.token };
  } catch (e) {
    throw new CliError(`${file} is not a valid credentials file (${(e as Error).message}); run corral login again`, 1, 'INVALID_CREDENTIALS');
  }
}

/** Checks the URL is http(s) and drops trailing slashes; anything else is a usage error. */
export function normalizeServer(server: string): string {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new CliError(`server "${server}" is not a URL; expected e.g. http://127.0.0.1:4320`, 1, 'INVALID_ARGUMENT');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliError(`server "${server}" must be an http:// or https:// URL`, 1, 'INVALID_ARGUMENT');
  return server.replace(/\/+$/, '');
}

/**
 * Flags win over the environment, which wins over the saved login. The saved
 * token is used only with the saved server, so pointing a command at another
 * server never sends it the token.
 */
export function resolveCredentials(flags: { server?: string; token?: string }, env: NodeJS.ProcessEnv, configDir: string): Credentials {
  const explicitServer = flags.server || env.CORRAL_SERVER;
  const explicitToken = flags.token || env.CORRAL_TOKEN;
  const saved = explicitServer && explicitToken ? {} : readSaved(configDir);
  const server = normalizeServer(explicitServer || saved.server || DEFAULT_SERVER);
  const token = explicitToken || (saved.server === server ? saved.token : undefined) || null;
  return { server, token };
}

/** Writes the login atomically with mode 0600 (also when replacing an older, laxer file). Returns the path. */
export function saveCredentials(creds: Credentials, configDir: string): string {
  const file = credentialsFile(configDir);
  mkdirSync(configDir, { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ version: 1, server: creds.server, token: creds.token }, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
  return file;
}

/** Removes the saved login; true when there was one. */
export function removeCredentials(configDir: string): boolean {
  const file = credentialsFile(configDir);
  try {
    rmSync(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new CliError(`cannot remove ${file}: ${(e as Error).message}`, 1, 'INVALID_CREDENTIALS');
  }
}
