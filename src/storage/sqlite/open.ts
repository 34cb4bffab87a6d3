/**
 * SQLite files as the storage of `Database.open` in Node. Importing this module installs them
 * (the Node entry, `src/index.ts`, does; so do the CLI and the test setup): the database layer
 * itself imports no backend and nothing of Node, so the same `Database` runs in browsers over
 * IndexedDB. Why installing rather than a Node-only subclass of `Database`: every module that
 * imports `Database` — routes, the replicator, tests — keeps one class and one `open`.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { installPlatformStorage } from '../platform.js';
import { SqliteStorage, type SqliteStorageOptions } from './sqlite-storage.js';

declare module '../platform.js' {
  // SQLite's options become `Database.open`'s wherever this backend is part of the program.
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a merge, not a new type
  interface PlatformStorageOptions extends SqliteStorageOptions {}
}

/** Opens (creating it and its folder when needed) the SQLite file at `path`. */
export async function openSqliteFile(
  path: string,
  options: SqliteStorageOptions = {},
): Promise<SqliteStorage> {
  mkdirSync(dirname(path), { recursive: true });
  return new SqliteStorage(path, options);
}

installPlatformStorage(openSqliteFile);
