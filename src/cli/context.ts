/** What every client command shares: output, connection flags, the API client. */
import { Option, type Command } from 'commander';
import { ApiClient } from './api-client.js';
import { resolveCredentials } from './credentials.js';

export interface CliIo {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  env: NodeJS.ProcessEnv;
}

export const processIo: CliIo = { stdout: process.stdout, stderr: process.stderr, env: process.env };

export interface ConnectionFlags {
  server?: string;
  token?: string;
  output?: 'table' | 'json' | 'wide';
}

/** Adds --server, --token and -o to a command. */
export function withConnection(cmd: Command, outputs: string[] = ['table', 'json']): Command {
  return cmd
    .option('--server <url>', 'Corral server URL (default: $CORRAL_SERVER, saved login, http://127.0.0.1:4320)')
    .option('--token <token>', 'admin token (default: $CORRAL_TOKEN, saved login)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(outputs).default('table'));
}

export function apiFor(flags: ConnectionFlags, io: CliIo): ApiClient {
  return new ApiClient(resolveCredentials(flags, io.env));
}

export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
