#!/usr/bin/env node
/** The one `corral` executable: wires the server, the agent and the client commands. */
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { serverCommand } from './server-command.js';
import { addServerInstallCommands } from './server-install-command.js';
import { agentCommand } from './agent-command.js';
import { CliError, EXIT_CODES_HELP, addAgentShowSubcommand, commanderErrorAsJson, registerClientCommands, reportError, wantsJson } from '../cli/index.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

// With -o json, errors are JSON too ({"error":{"code","message"}} on stderr), commander's own included.
const json = wantsJson(process.argv.slice(2));
const output = json ? { outputError: (s: string, write: (s: string) => void) => write(commanderErrorAsJson(s)) } : {};
const program = new Command('corral')
  .description('Corral: manage agents and services on fleets of hosts, over OpAMP')
  .version(pkg.version)
  .configureOutput(output)
  .showHelpAfterError(!json && '(run with --help for usage)')
  .addHelpText('after', EXIT_CODES_HELP);

const server = serverCommand();
addServerInstallCommands(server);
program.addCommand(server);
const agent = agentCommand().configureOutput(output);
addAgentShowSubcommand(agent);
program.addCommand(agent);
registerClientCommands(program);

program.enablePositionalOptions();
agent.enablePositionalOptions();

program.parseAsync(process.argv).catch((err: unknown) => {
  // Without exitOverride commander prints its parse errors and exits by itself:
  // one that arrives here was thrown by an action, and is printed like any other.
  process.exit(reportError(err instanceof CommanderError ? new CliError(err.message, err.exitCode, err.code) : err, process, json));
});
