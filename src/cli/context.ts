/** What every client command shares: output, connection flags, the API client. */
import { Option, type Command } from 'commander';
import { ApiClient } from './api-client.js';
import { defaultConfigDir, resolveCredentials } from './credentials.js';
import { CliError, EXIT } from './exit-codes.js';
import { readCliCaFile } from './ca-fetch.js';

/** Everything a client command touches outside itself; tests pass their own. */
export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  /** Read for CORRAL_SERVER and CORRAL_TOKEN. */
  env: NodeJS.ProcessEnv;
  /** Directory holding credentials.json (what `corral login` writes). */
  configDir: string;
}

/** The real process: its streams and env, and $XDG_CONFIG_HOME/corral (or ~/.config/corral). */
export function defaultCliIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, configDir: defaultConfigDir(process.env) };
}

export interface ConnectionFlags {
  server?: string;
  token?: string;
  caFile?: string;
  output?: 'table' | 'json' | 'wide';
}

/** Adds --server, --token and -o to a command. */
export function withConnection(cmd: Command, outputs: string[] = ['table', 'json']): Command {
  return cmd
    .option('--server <url>', 'Corral server URL (default: $CORRAL_SERVER, saved login, http://127.0.0.1:4320)')
    .option('--token <token>', 'API token (default: $CORRAL_TOKEN, saved login)')
    .option('--ca-file <file>', 'PEM file of the CAs that sign an https server\'s certificate (default: $CORRAL_CA_FILE, else the bundled CAs)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(outputs).default('table'));
}

export function apiFor(flags: ConnectionFlags, io: CliIo): ApiClient {
  const caFile = flags.caFile || io.env.CORRAL_CA_FILE;
  return new ApiClient(resolveCredentials(flags, io.env, io.configDir), caFile ? readCliCaFile(caFile) : null);
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Parses an integer flag in [min, max]; anything else is a usage error naming the flag. */
export function intFlag(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new CliError(`${name} must be a whole number from ${min} to ${max}, got "${value}"`, EXIT.ERROR, 'INVALID_ARGUMENT');
  }
  return n;
}
