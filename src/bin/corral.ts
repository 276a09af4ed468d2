#!/usr/bin/env node
/** The one `corral` executable: wires the server, the agent and the client commands. */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { serverCommand } from './server-command.js';
import { agentCommand } from './agent-command.js';
import { CliError, EXIT_CODES_HELP, addAgentShowSubcommand, registerClientCommands } from '../cli/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command('corral')
  .description('Corral: manage agents and services on fleets of hosts, over OpAMP')
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
  .addHelpText('after', EXIT_CODES_HELP);

program.addCommand(serverCommand());
const agent = agentCommand();
addAgentShowSubcommand(agent);
program.addCommand(agent);
registerClientCommands(program);

program.enablePositionalOptions();
agent.enablePositionalOptions();

program.parseAsync(process.argv).catch((err: unknown) => {
  const e = err as { message?: string; code?: string; exitCode?: number };
  process.stderr.write(`error: ${e.message ?? String(err)}${e.code ? ` (${e.code})` : ''}\n`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
});
