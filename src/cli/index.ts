/** The CLI's front door: client commands that talk to the server over HTTP only. */
import type { Command } from 'commander';
import { addAgentCommands, addAgentShowSubcommand as addShow } from './commands/agents.js';
import { addConfigCommands } from './commands/configs.js';
import { addEventCommands } from './commands/events.js';
import { addLoginCommands } from './commands/login.js';
import { addTokenCommands } from './commands/tokens.js';
import { addPackageCommands } from './commands/packages.js';
import { addDeploymentCommands } from './commands/deployments.js';
import { addImperativeCommands } from './commands/imperative.js';
import { addExecCommand } from './commands/exec.js';
import { processIo, type CliIo } from './context.js';

export { EXIT, EXIT_CODES_HELP, CliError } from './exit-codes.js';
export type { CliIo } from './context.js';

export function registerClientCommands(program: Command, io: CliIo = processIo): void {
  addLoginCommands(program, io);
  addAgentCommands(program, io);
  addTokenCommands(program, io);
  addConfigCommands(program, io);
  addEventCommands(program, io);
  addPackageCommands(program, io);
  addDeploymentCommands(program, io);
  addImperativeCommands(program, io);
  addExecCommand(program, io);
}

export function addAgentShowSubcommand(agentCmd: Command, io: CliIo = processIo): void {
  addShow(agentCmd, io);
}
