/**
 * Settee in web pages (`settee/browser`): the same database, replicator, remote client, resolvers,
 * stamping and CRDT helpers as the Node entry — one list, `shared-exports.ts` — with IndexedDB as
 * `Database.open`'s storage, the page's `fetch` for HTTP, and what a web app needs around sync
 * (`syncInBrowser`: one syncing tab per origin, paused while offline). No Node built-in is in its
 * import graph (`test/browser/bundle.test.ts` bundles it for browsers and fails on any), and the
 * QuickJS sandbox of design functions is left out: views and filter functions need a runner
 * passed to the database.
 *
 * @example
 * import { Database, syncInBrowser } from 'settee/browser';
 * const db = await Database.open('shop');
 * syncInBrowser(db, 'https://sync.example.com/shop', { credentials: 'include' });
 */
export * from './shared-exports.js';
export * from './browser/index.js';
import { shareWritesAcrossTabs } from './browser/tab-writes.js';
import { installPlatformStorage } from './storage/platform.js';
import { openIndexedDb } from './storage/indexeddb/open.js';
export { openIndexedDb };
export { IndexedDbStorage } from './storage/indexeddb/indexeddb-storage.js';

// `Database.open(name)` opens the IndexedDB database `name`, and every tab's `Database` hears the
// writes of the origin's other tabs (their live feeds wake, their caches forget what changed).
installPlatformStorage(async (name, options) =>
  shareWritesAcrossTabs(await openIndexedDb(name, options), `settee:${name}`),
);
