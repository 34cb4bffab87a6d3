import type { Storage } from '../../storage/types.js';

/**
 * A setting of a database that servers hold once read, and must read again when another server
 * changes it: `security`, its security object (or the database itself: deleted), cached by the
 * registry; `settings`, what the open database holds of its own settings — its automatic
 * conflict resolution and its `revs_limit`.
 */
export type DatabaseNotice = 'security' | 'settings';

/**
 * Where a server keeps its databases: a folder of SQLite files (`SqliteFolder`), or one
 * PostgreSQL that several servers share (`PostgresDatabases`). The registry opens each database
 * over the storage its store gives and never knows which kind it is.
 */
export interface DatabaseStore {
  /**
   * Whether other servers create and delete databases in this store at the same time: the
   * registry then re-checks that a database it keeps open was not deleted behind its back.
   */
  readonly shared: boolean;
  /** Names of all databases, sorted by code point. */
  list(): Promise<string[]>;
  exists(name: string): Promise<boolean>;
  /** A new database's storage; `file_exists` (412) when one of that name exists. */
  create(name: string): Promise<Storage>;
  /** An existing database's storage; `not_found` (404) when there is none. */
  open(name: string): Promise<Storage>;
  /**
   * Whether `storage`, opened by this store, still holds the database of its name: false once
   * another server deleted it (even if it made a new one of that name since).
   */
  isCurrent(storage: Storage): Promise<boolean>;
  /**
   * Tells the other servers sharing the store that a setting of database `name` changed, since
   * they hold what they read of it (see `DatabaseNotice`). Nothing to do on a store of one server.
   */
  announce(notice: DatabaseNotice, name: string): Promise<void>;
  /**
   * Calls `listener` with the name of a database whose `notice` setting another server changed,
   * or with undefined when any may have; returns the call that stops it.
   */
  onNotice(notice: DatabaseNotice, listener: (name: string | undefined) => void): () => void;
  /** The server's uuid (`GET /`), made once and kept in the store. */
  serverUuid(): Promise<string>;
  /** Releases what the store holds (connections); its databases are closed before. */
  close(): Promise<void>;
}
