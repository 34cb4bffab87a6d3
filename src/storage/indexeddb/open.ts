/**
 * IndexedDB as the storage of `Database.open` in a browser: importing this module installs it
 * (the browser entry does), so that `Database.open('shop')` opens or creates the IndexedDB
 * database `shop`. The Node entry installs SQLite files instead (`storage/sqlite/open.ts`).
 */
import { installPlatformStorage } from '../platform.js';
import { IndexedDbStorage, type IndexedDbStorageOptions } from './indexeddb-storage.js';

declare module '../platform.js' {
  // IndexedDB's options become `Database.open`'s wherever this backend is part of the program.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a merge, not a new type
  interface PlatformStorageOptions extends IndexedDbStorageOptions {}
}

/** Opens (creating it when new) the IndexedDB database `name`. */
export function openIndexedDb(
  name: string,
  options: IndexedDbStorageOptions = {},
): Promise<IndexedDbStorage> {
  return IndexedDbStorage.open(name, options);
}

installPlatformStorage(openIndexedDb);
