/**
 * Settee's public API: the embedded database and its storage backends, replication between any
 * two peers (local files or CouchDB-compatible URLs), the sync server, conflict resolvers, the
 * pure revision-tree core and the shapes of CouchDB's document API.
 */
export * from './core/api.js';
export { canonicalJson } from './core/canonical-json.js';
export { type AttachmentInput, type ParsedDoc, parseDocument, validateDocId } from './core/document.js';
export { ERROR_STATUS, type ErrorName, SetteeError } from './core/errors.js';
export { type CompiledSelector, compileSelector, type Selector } from './core/mango/index.js';
export { newRevisionId, type RevisionContent } from './core/rev-hash.js';
export * from './core/rev-tree/index.js';
export { formatRev, isRev, type ParsedRev, parseRev } from './core/revision.js';
export type { ChangesFeed, ChangesFeedOptions } from './database/changes.js';
export type {
  ConflictEvent,
  ConflictRow,
  ConflictsOptions,
  ConflictsResponse,
  ResolveOptions,
  ResolveResult,
  ResolveWithOptions,
  ResolveWithResult,
} from './database/conflicts/index.js';
export { Database, type DatabaseOptions } from './database/database.js';
export type {
  DesignDocInfo,
  ViewOptions,
  ViewResponse,
  ViewResultRow,
  ViewStream,
} from './database/queries/views.js';
export { SqliteStorage, type SqliteStorageOptions } from './storage/sqlite/sqlite-storage.js';
// The Node entry: `Database.open` opens SQLite files (importing the module installs them).
export { openSqliteFile } from './storage/sqlite/open.js';
// …and runs views and filter functions in a worker thread's sandbox (importing installs it).
import './design/install-node.js';
export {
  installPlatformStorage,
  type PlatformStorageOptions,
  type StorageOpener,
} from './storage/platform.js';
export type * from './storage/types.js';
export * from './replication/index.js';
export * from './remote/index.js';
export * as conflicts from './conflicts/index.js';
export { SetteeServer, type ServerOptions } from './server/app.js';
