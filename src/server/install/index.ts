/** Running the server as a system service: `corral server install` / `uninstall` (systemd). */
export {
  DEFAULT_SERVER_DATA_DIR,
  DEFAULT_SERVER_UNIT_DIR,
  DEFAULT_SERVER_UNIT_NAME,
  DEFAULT_SERVER_USER,
  ServerInstallError,
  compileServerInstallOptions,
  installServerService,
  uninstallServerService,
  type CompiledServerInstallOptions,
  type ServerInstallDeps,
  type ServerInstallOptions,
  type ServerUninstallOptions,
} from './install.js';
export { SECRET_FLAGS, envAssignment, parseEnvAssignments, renderServerEnvFile, renderServerUnit, stateDirectoryOf, type ServerUnitSpec } from './server-unit.js';
