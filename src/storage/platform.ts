import { SetteeError } from '../core/errors.js';
import type { Storage } from './types.js';

/**
 * The options of the storage `Database.open` opens on this platform. Empty here: the entry that
 * installs a backend merges its options in (the Node entry SQLite's `durability`), so they
 * type-check only in a program that includes that backend, and the database layer names none.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by declaration merging
export interface PlatformStorageOptions {}

/** Opens (creating when needed) the storage of the database called `name`: a file, an IndexedDB… */
export type StorageOpener = (name: string, options: PlatformStorageOptions) => Promise<Storage>;

let installed: StorageOpener | undefined;

/**
 * Makes `opener` what `Database.open` uses in this process. Each platform's entry installs its
 * backend as it loads (Node: `storage/sqlite/open.ts`; later, the browser: IndexedDB), so the
 * database layer imports no backend and runs unchanged in Node and in browsers. The last
 * installed wins, which lets a test or an embedding application choose another.
 */
export function installPlatformStorage(opener: StorageOpener): void {
  installed = opener;
}

/** Opens a database's storage with the installed backend. */
export function openPlatformStorage(name: string, options: PlatformStorageOptions): Promise<Storage> {
  if (!installed) {
    throw new SetteeError(
      'not_implemented',
      'No storage backend is installed for Database.open here: import Settee through its Node entry ' +
        '(SQLite files), or open the database with Database.fromStorage',
    );
  }
  return installed(name, options);
}
