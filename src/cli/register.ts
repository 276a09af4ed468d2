/** Adds the client commands (the ones that talk to a server over HTTP) to a commander program. */
import type { Command } from 'commander';
import { addAgentCommands, addAgentRotateCredentialsSubcommand as addRotate, addAgentShowSubcommand as addShow } from './commands/agents.js';
import { addConfigCommands } from './commands/configs.js';
import { addAgentDeleteSubcommand } from './commands/agent-delete.js';
import { addEventCommands } from './commands/events.js';
import { addLoginCommands } from './commands/login.js';
import { addTokenCommands } from './commands/tokens.js';
import { addUserCommands } from './commands/users.js';
import { addMeCommands } from './commands/me.js';
import { addPackageCommands } from './commands/packages.js';
import { addDeploymentCommands } from './commands/deployments.js';
import { addImperativeCommands } from './commands/imperative.js';
import { addExecCommand } from './commands/exec.js';
import { addJobCommands } from './commands/jobs.js';
import { addRolloutCommands } from './commands/rollouts.js';
import { addAuditCommands } from './commands/audit.js';
import { defaultCliIo, type CliIo } from './context.js';

/**
 * Adds login, logout, whoami, me, user, agents, label, revoke, token, config, events, package,
 * deploy…, rollout…, services, restart, logs, exec, jobs/job… and audit to `program`. Call it after any
 * `exitOverride()` / `configureOutput()` on `program`, so the commands inherit
 * them. Commands reject with a `CliError` (carrying the exit code) on failure.
 */
export function registerClientCommands(program: Command, io: CliIo = defaultCliIo()): void {
  addLoginCommands(program, io);
  addAgentCommands(program, io);
  addTokenCommands(program, io);
  addUserCommands(program, io);
  addMeCommands(program, io);
  addConfigCommands(program, io);
  addEventCommands(program, io);
  addPackageCommands(program, io);
  addDeploymentCommands(program, io);
  addImperativeCommands(program, io);
  addExecCommand(program, io);
  addJobCommands(program, io);
  addRolloutCommands(program, io);
  addAuditCommands(program, io);
}

/**
 * Adds `show <agent>` under the command that runs the agent, so `corral agent
 * show ID` shows an agent while `corral agent --server …` runs one. The `agent`
 * command should `enablePositionalOptions()` (and so its parent too) so that
 * `--server`/`--token` after `show` belong to `show`.
 */
export function addAgentShowSubcommand(agentCmd: Command, io: CliIo = defaultCliIo()): void {
  addShow(agentCmd, io);
  addAgentDeleteSubcommand(agentCmd, io);
  // Also `corral agent rotate-credentials -s SELECTOR`.
  addRotate(agentCmd, io);
}
