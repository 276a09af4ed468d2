/** The store's front door. */
export type * from './store.js';
export type * from './audit-records.js';
export { openStore, describeDatabase, type OpenStoreOptions } from './open-store.js';
export { backupSqliteStore, type SqliteBackupResult } from './sqlite-backup.js';
export { AGENT_LIST_STATUSES, AGENT_SORT_KEYS, SEARCH_SEPARATOR } from './store.js';
