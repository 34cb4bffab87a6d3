import { fileExists, SetteeError } from '../core/errors.js';
import { Database, type DatabaseOptions } from '../database/database.js';
import type { Storage } from '../storage/types.js';
import { ResolverSettings } from './resolvers.js';
import { adminOnlySecurity, type SecurityObject, securityOf } from './security.js';
import { fileNameOf } from './stores/sqlite-folder.js';
import type { DatabaseStore } from './stores/types.js';

export { fileNameOf, nameOfFile } from './stores/sqlite-folder.js';

const NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const SYSTEM_DATABASES = new Set(['_users', '_replicator']);
// File names are at most 255 bytes, and SQLite adds `-journal` or `-wal` to ours. The limit holds
// on every store, so that a database can move between SQLite and PostgreSQL by replication.
const MAX_FILE_NAME = 255 - '-journal'.length;

/** Validates a database name as CouchDB does, and that its file name fits the file system. */
export function validateDbName(name: string): string {
  if (NAME.test(name) || SYSTEM_DATABASES.has(name) || /^[a-z][a-z0-9_$()+/-]*\/_replicator$/.test(name)) {
    if (fileNameOf(name).length > MAX_FILE_NAME) {
      throw new SetteeError('illegal_database_name', `Name: '${name}'. The name is too long.`);
    }
    return name;
  }
  throw new SetteeError(
    'illegal_database_name',
    `Name: '${name}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.`,
  );
}

/**
 * The server's databases, kept by a `DatabaseStore` (SQLite files, or a PostgreSQL shared with
 * other servers), opened on first use and kept open, with their security objects. Also the
 * server's own persisted identity (its uuid).
 */
export class DatabaseRegistry {
  private readonly open = new Map<string, Promise<Database>>();
  /** The storage under each open database, for the store to tell whether it is still current. */
  private readonly storages = new WeakMap<Database, Storage>();
  private readonly securities = new Map<string, Promise<SecurityObject>>();
  private readonly securityListeners = new Set<(db: string) => void>();
  /** Aborted when the open database is deleted, here or through another server (see `deletion`). */
  private readonly deletions = new WeakMap<Database, AbortController>();
  /** Set by the server: what every database gets as it opens (its write rules). */
  prepare: ((db: Database) => void) | undefined;

  private constructor(
    readonly store: DatabaseStore,
    readonly uuid: string,
    /** Each database's automatic conflict resolution, restored as it opens. */
    readonly resolvers: ResolverSettings,
  ) {}

  /** The registry of the databases `store` keeps, with the server's uuid read (or made) there. */
  static async open(
    store: DatabaseStore,
    resolvers: ResolverSettings = new ResolverSettings(),
  ): Promise<DatabaseRegistry> {
    const registry = new DatabaseRegistry(store, await store.serverUuid(), resolvers);
    store.onNotice('security', (name) => registry.changedElsewhere(name));
    store.onNotice('settings', (name) => void registry.settingsChangedElsewhere(name));
    resolvers.announce = (db) => registry.settingsChanged(db);
    return registry;
  }

  /**
   * Another server changed a database's security object or deleted it (`name` undefined: maybe
   * any): what was cached of it is dropped, a database open here that is gone is closed (ending
   * its live feeds, see `deletion`), and live feeds and replications re-check access.
   */
  private changedElsewhere(name: string | undefined): void {
    const names = new Set(name === undefined ? [...this.securities.keys(), ...this.open.keys()] : [name]);
    for (const changed of names) {
      this.securities.delete(changed);
      const opened = this.open.get(changed);
      if (opened) void this.isCurrent(changed, opened).catch(() => undefined);
      this.emitSecurityChange(changed);
    }
  }

  /** Tells the other servers that `db`'s settings (resolver, revs_limit) changed through this one. */
  settingsChanged(db: Database): Promise<void> {
    return this.store.announce('settings', db.name);
  }

  /**
   * Another server changed the settings of database `name` (undefined: maybe of any): the
   * database, if open here, takes the stored ones — resolver and revs_limit — as on opening.
   */
  private async settingsChangedElsewhere(name: string | undefined): Promise<void> {
    const opened = name === undefined ? [...this.open.values()] : [this.open.get(name)];
    for (const db of opened) {
      if (!db) continue;
      await db
        .then(async (open) => {
          await open.reloadSettings();
          await this.resolvers.restore(open);
        })
        .catch(() => undefined);
    }
  }

  /**
   * A signal aborted when `db`, a database of this registry, is deleted, through this server or
   * another: its live feeds end then, with their last sequence, as CouchDB ends them.
   */
  deletion(db: Database): AbortSignal {
    return this.deletions.get(db)?.signal ?? new AbortController().signal;
  }

  /** How many databases are open here (or opening) now: CouchDB's `open_databases`. */
  get openCount(): number {
    return this.open.size;
  }

  /** Names of all databases, sorted. */
  list(): Promise<string[]> {
    return this.store.list();
  }

  async exists(name: string): Promise<boolean> {
    return (!this.store.shared && this.open.has(name)) || this.store.exists(name);
  }

  /** An existing database; 404 when there is none. */
  async get(name: string): Promise<Database> {
    validateDbName(name);
    const opened = this.open.get(name);
    if (opened && (!this.store.shared || (await this.isCurrent(name, opened)))) return opened;
    return this.openDb(name, this.store.open(name));
  }

  /**
   * Creates a database; 412 when it exists. It is for server admins only until its security
   * says otherwise, as CouchDB 3 makes new databases.
   */
  async create(
    name: string,
    security: SecurityObject = adminOnlySecurity(),
    options: Pick<DatabaseOptions, 'revisions'> = {},
  ): Promise<Database> {
    validateDbName(name);
    // On a shared store, a database open here may be one another server has deleted: the store's
    // own exclusive creation decides.
    if (!this.store.shared && this.open.has(name)) throw fileExists();
    const stale = this.open.get(name);
    const creating = this.store.create(name);
    try {
      const db = await this.openDb(name, creating, security, options);
      void stale?.then((old) => old.close()).catch(() => undefined);
      return db;
    } catch (error) {
      // A creation that failed (a full disk, an I/O error) leaves no database behind: one left
      // would be listed by `_all_dbs` and make the next `PUT` answer 412.
      await creating.then((storage) => storage.destroy()).catch(() => undefined);
      throw error;
    }
  }

  async delete(name: string): Promise<void> {
    const db = await this.get(name);
    this.forget(name);
    this.deletions.get(db)?.abort();
    await db.destroy();
    this.emitSecurityChange(name);
    await this.store.announce('security', name);
  }

  /** A database's security object (cached); 404 when the database does not exist. */
  security(name: string): Promise<SecurityObject> {
    let cached = this.securities.get(name);
    if (!cached) {
      cached = this.get(name).then(async (db) => securityOf(await db.getSecurity()));
      this.securities.set(name, cached);
      cached.catch(() => this.securities.delete(name));
    }
    return cached;
  }

  /** Replaces a database's security object; live feeds re-check who may still read. */
  async setSecurity(name: string, security: SecurityObject): Promise<void> {
    const db = await this.get(name);
    await db.setSecurity(security);
    this.securities.set(name, Promise.resolve(security));
    this.emitSecurityChange(name);
    await this.store.announce('security', name);
  }

  /** Calls `listener` with a database's name whenever its security changes (or it is deleted). */
  onSecurityChange(listener: (db: string) => void): () => void {
    this.securityListeners.add(listener);
    return () => this.securityListeners.delete(listener);
  }

  private emitSecurityChange(name: string): void {
    for (const listener of [...this.securityListeners]) listener(name);
  }

  /**
   * `/_active_tasks` entries of the open databases' background work: compactions (with the fields
   * of CouchDB's `couch_bt_engine_compactor`) and index builds (those of `couch_mrview_updater`:
   * `design_document`, `changes_done`, `total_changes`, `progress`). `couch_task_status` adds the
   * times, in seconds.
   */
  async databaseTasks(): Promise<Record<string, unknown>[]> {
    const opened = await Promise.allSettled(this.open.values());
    return opened.flatMap((result) =>
      result.status === 'fulfilled' ? [...compactionTasks(result.value), ...indexerTasks(result.value)] : [],
    );
  }

  /** Closes every open database, then the store. */
  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const db of all) await (await db).close();
    await this.store.close();
  }

  /**
   * Opens a database over the storage given; one without a security object gets `initial` before
   * anyone can use it (databases made before security was enforced were for server admins only:
   * they stay so).
   */
  private openDb(
    name: string,
    storage: Promise<Storage>,
    initial: SecurityObject = adminOnlySecurity(),
    options: Pick<DatabaseOptions, 'revisions'> = {},
  ): Promise<Database> {
    const opening = storage.then(async (opened) => {
      // Resolved conflicts keep their losing versions, for people to look back at.
      const db = await Database.fromStorage(opened, name, { ...options, history: true });
      this.storages.set(db, opened);
      this.deletions.set(db, new AbortController());
      try {
        this.prepare?.(db);
        if (!(await db.hasSecurity())) await db.setSecurity(initial);
        await this.resolvers.restore(db);
        return db;
      } catch (error) {
        // Not usable: it must not stay open, holding the file's lock.
        await db.close().catch(() => undefined);
        throw error;
      }
    });
    this.open.set(name, opening);
    opening.catch(() => {
      if (this.open.get(name) === opening) this.open.delete(name);
    });
    return opening;
  }

  /**
   * Whether the database open here under `name` is still the store's. One another server has
   * deleted is forgotten and closed, and the next `get` opens whatever the name holds now.
   */
  private async isCurrent(name: string, opened: Promise<Database>): Promise<boolean> {
    const db = await opened;
    const storage = this.storages.get(db);
    if (storage && (await this.store.isCurrent(storage))) return true;
    if (this.open.get(name) === opened) this.forget(name);
    this.deletions.get(db)?.abort();
    await db.close().catch(() => undefined);
    return false;
  }

  private forget(name: string): void {
    this.open.delete(name);
    this.securities.delete(name);
  }
}

function compactionTasks(db: Database): Record<string, unknown>[] {
  const status = db.compactionStatus();
  if (!status) return [];
  return [{ type: 'database_compaction', ...taskCommon(db, status), progress: status.progress }];
}

function indexerTasks(db: Database): Record<string, unknown>[] {
  return db.indexingStatus().map((status) => ({
    type: 'indexer',
    ...taskCommon(db, status),
    design_document: status.label,
    changes_done: status.changesDone,
    total_changes: status.totalChanges,
    // As couch_mrview_updater: 0 with nothing to read, else the share read, in whole percent.
    progress: status.totalChanges === 0 ? 0 : Math.floor((status.changesDone * 100) / status.totalChanges),
  }));
}

function taskCommon(db: Database, times: { startedOn: number; updatedOn: number }): Record<string, unknown> {
  return {
    node: 'nonode@nohost',
    database: db.name,
    started_on: Math.floor(times.startedOn / 1000),
    updated_on: Math.floor(times.updatedOn / 1000),
  };
}
