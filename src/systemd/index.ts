/** systemd unit files and the host side of installing one (shared by `corral agent install` and `corral server install`). */
export { SystemdUnitError, parseExecStart, plainValue, quoteSystemdArg, renderExecStart, unitDataDir, unitSetting, unitSettings } from './unit-syntax.js';
export { SYSTEMD_RUN_DIR, spawnCommand, systemdBooted, writeFileAtomicMode, type CommandRunner } from './host.js';
