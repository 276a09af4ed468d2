/** Runs client commands in process, with injected io: what tests and embedders call. */
import { Command } from 'commander';
import { EXIT, EXIT_CODES_HELP } from './exit-codes.js';
import { commanderErrorAsJson, wantsJson, writeError } from './error-output.js';
import { defaultCliIo, type CliIo } from './context.js';
import { addAgentShowSubcommand, registerClientCommands } from './register.js';

/**
 * Prints a failure as `error: <message> (<code>)` on io.stderr (as a JSON
 * line `{"error":{"code","message"}}` when `json`) and returns the exit code
 * for it. Commander's own errors (usage, --help, --version) are already
 * printed by commander, so only their exit code is returned.
 */
export function reportError(err: unknown, io: Pick<CliIo, 'stderr'>, json = false): number {
  return writeError(err, io.stderr, json);
}

/**
 * Parses `argv` (the arguments after `corral`, e.g. `['agents', '-o', 'json']`)
 * as the client commands plus `agent show`, runs the command and resolves to
 * its exit code (see EXIT); never calls process.exit and never rejects. The
 * server and the agent runner (`corral server`, `corral agent --server …`) are
 * not part of it.
 */
export async function runCli(argv: string[], io: CliIo = defaultCliIo()): Promise<number> {
  const json = wantsJson(argv);
  const program = new Command('corral')
    .description('Corral client commands')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      ...(json ? { outputError: (s: string, write: (s: string) => void) => write(commanderErrorAsJson(s)) } : {}),
    })
    .showHelpAfterError(!json && '(run with --help for usage)')
    .enablePositionalOptions()
    .addHelpText('after', EXIT_CODES_HELP);
  registerClientCommands(program, io);
  addAgentShowSubcommand(program.command('agent').description('Look at one agent (show) or delete a revoked one (delete)'), io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.OK;
  } catch (err) {
    return reportError(err, io, json);
  }
}
