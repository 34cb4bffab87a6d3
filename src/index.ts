/**
 * Settee's public API in Node: the embedded database and its storage backends, replication between
 * any two peers (local files or CouchDB-compatible URLs), the sync server, conflict resolvers, the
 * pure revision-tree core and the shapes of CouchDB's document API. What browsers share with it is
 * one list, `shared-exports.ts`; the browser entry is `browser.ts` (`settee/browser`).
 */
export * from './shared-exports.js';
export { SqliteStorage, type SqliteStorageOptions } from './storage/sqlite/sqlite-storage.js';
// The Node entry: `Database.open` opens SQLite files (importing the module installs them).
export { openSqliteFile } from './storage/sqlite/open.js';
// …runs views and filter functions in a worker thread's sandbox (importing installs it)…
import './design/install-node.js';
// …talks HTTP over undici's keep-alive pool (importing installs it)…
import './remote/undici-transport.js';
// …and has the `$regex` engine at hand, so `compileSelector` takes `$regex` without waiting.
import './core/mango/regex-preload.js';
export { SetteeServer, type ServerOptions } from './server/app.js';
export type { AdminCredentials } from './server/auth/admins.js';
