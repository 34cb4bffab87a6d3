/**
 * What Settee's Node entry (`index.ts`) and browser entry (`browser.ts`) both export: one list
 * that both re-export, so the two cannot drift apart in names or signatures. Everything here runs
 * in Node and in browsers alike: no Node built-in may enter its import graph (the browser bundle
 * test, `test/browser/bundle.test.ts`, fails on any). Platform-only pieces — SQLite, the server,
 * undici, the QuickJS worker; IndexedDB — stay in their entries.
 */
export * from './core/api.js';
export { canonicalJson } from './core/canonical-json.js';
export { type AttachmentInput, type ParsedDoc, parseDocument, validateDocId } from './core/document.js';
export { ERROR_STATUS, type ErrorName, SetteeError } from './core/errors.js';
// From the modules themselves, not the barrel, whose `export *` would pull the Mango planner
// into the page's first chunk; `Database` loads the planner when it first queries.
export { loadRegexEngine } from './core/mango/regex.js';
export { type CompiledSelector, compileSelector, type Selector } from './core/mango/selector.js';
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
export {
  installPlatformStorage,
  type PlatformStorageOptions,
  type StorageOpener,
} from './storage/platform.js';
export type * from './storage/types.js';
export * from './replication/index.js';
export * from './remote/index.js';
export * as conflicts from './conflicts/index.js';
