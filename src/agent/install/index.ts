/** Running the agent as a system service: `corral agent install` / `uninstall` (systemd). */
export {
  AgentInstallError,
  DEFAULT_DATA_DIR,
  DEFAULT_UNIT_DIR,
  DEFAULT_UNIT_NAME,
  SYSTEMD_RUN_DIR,
  compileAgentInstallOptions,
  installAgentService,
  spawnRunner,
  uninstallAgentService,
  type AgentInstallOptions,
  type AgentUninstallOptions,
  type CommandRunner,
  type CompiledAgentInstallOptions,
  type InstallDeps,
} from './install.js';
export { SystemdUnitError, TOKEN_ENV, parseExecStart, quoteSystemdArg, renderAgentUnit, renderEnvFile, unitSetting, unitSettings } from './systemd-unit.js';
