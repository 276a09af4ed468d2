/** The store's front door. */
export type * from './store.js';
export type * from './audit-records.js';
export { openStore, describeDatabase, type OpenStoreOptions } from './open-store.js';
export { backupSqliteStore, type SqliteBackupResult } from './sqlite-backup.js';
export { AGENT_LIST_STATUSES, AGENT_SORT_KEYS, SEARCH_SEPARATOR } from './store.js';
export { MAX_TOKEN_DELETE_BATCH, TOKEN_STATES } from './token-records.js';
