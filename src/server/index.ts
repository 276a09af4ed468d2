/** The server's front door: what `bin/` may use. */
export { compileServerOptions, type ServerOptions, type CompiledServerOptions } from './options.js';
export { startServer, type RunningServer, type ServerDeps } from './server.js';
export { rotateAdminToken } from './bootstrap.js';
export { backupSqliteStore, openStore } from './store/index.js';
export { CorralError } from './errors.js';
