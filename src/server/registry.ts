import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileExists, notFound, SetteeError } from '../core/errors.js';
import { Database, randomHex } from '../database/database.js';
// The server keeps its databases in SQLite files: Database.open needs the backend installed.
import '../storage/sqlite/open.js';
import { ResolverSettings } from './resolvers.js';
import { adminOnlySecurity, type SecurityObject, securityOf } from './security.js';

const NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const SYSTEM_DATABASES = new Set(['_users', '_replicator']);
const EXTENSION = '.sqlite';
// File names are at most 255 bytes, and SQLite adds `-journal` or `-wal` to ours.
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
 * A reversible file name for a database name: letters, digits, `_` and `-` stay, every other
 * byte becomes `@xx` (hex). `@` never occurs in a valid name, so decoding is unambiguous.
 */
export function fileNameOf(name: string): string {
  let encoded = '';
  for (const byte of new TextEncoder().encode(name)) {
    const char = String.fromCharCode(byte);
    encoded += /[a-z0-9_-]/.test(char) ? char : `@${byte.toString(16).padStart(2, '0')}`;
  }
  return encoded + EXTENSION;
}

export function nameOfFile(file: string): string {
  const encoded = file.slice(0, -EXTENSION.length);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '@') {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/** Folders the server creates are its own (they hold credentials of replication jobs). */
const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/**
 * The server's databases: one SQLite file each under the data folder, opened on first use and
 * kept open, with their security objects. Also the server's own persisted identity (its uuid).
 */
export class DatabaseRegistry {
  private readonly open = new Map<string, Promise<Database>>();
  private readonly securities = new Map<string, Promise<SecurityObject>>();
  private readonly securityListeners = new Set<(db: string) => void>();
  /** Set by the server: what every database gets as it opens (its write rules). */
  prepare: ((db: Database) => void) | undefined;
  readonly uuid: string;

  constructor(
    readonly dataDir: string,
    /** Each database's automatic conflict resolution, restored as it opens. */
    readonly resolvers: ResolverSettings = new ResolverSettings(),
  ) {
    mkdirSync(join(dataDir, '_settee'), { recursive: true, mode: PRIVATE_DIR });
    this.uuid = loadServerUuid(join(dataDir, '_settee', 'server.json'));
  }

  /** Names of all databases, sorted. */
  list(): string[] {
    return readdirSync(this.dataDir)
      .filter((file) => file.endsWith(EXTENSION))
      .map(nameOfFile)
      .sort();
  }

  exists(name: string): boolean {
    return this.open.has(name) || existsSync(this.pathOf(name));
  }

  /** An existing database; 404 when there is none. */
  async get(name: string): Promise<Database> {
    validateDbName(name);
    const opened = this.open.get(name);
    if (opened) return opened;
    if (!existsSync(this.pathOf(name))) throw notFound('Database does not exist.');
    return this.openDb(name);
  }

  /**
   * Creates a database; 412 when it exists. It is for server admins only until its security
   * says otherwise, as CouchDB 3 makes new databases.
   */
  async create(name: string, security: SecurityObject = adminOnlySecurity()): Promise<Database> {
    validateDbName(name);
    if (this.open.has(name)) throw fileExists();
    const path = this.pathOf(name);
    // The file is created private before SQLite opens it; SQLite gives its journal the same mode.
    // Exclusively: of two creations at once, one gets 412 rather than both opening one file.
    try {
      closeSync(openSync(path, 'wx', PRIVATE_FILE));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw fileExists();
      throw error;
    }
    try {
      return await this.openDb(name, security);
    } catch (error) {
      // A creation that failed (a full disk, an I/O error) leaves no database behind: a file
      // left here would be listed by `_all_dbs` and make the next `PUT` answer 412.
      removeDatabaseFiles(path);
      throw error;
    }
  }

  async delete(name: string): Promise<void> {
    const db = await this.get(name);
    this.open.delete(name);
    this.securities.delete(name);
    await db.destroy();
    this.emitSecurityChange(name);
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

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const db of all) await (await db).close();
  }

  /**
   * Opens a database; one without a security object gets `initial` before anyone can use it
   * (databases made before security was enforced were for server admins only: they stay so).
   */
  private openDb(name: string, initial: SecurityObject = adminOnlySecurity()): Promise<Database> {
    // Resolved conflicts keep their losing versions, for people to look back at.
    const opening = Database.open(this.pathOf(name), { name, history: true }).then(async (db) => {
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
    opening.catch(() => this.open.delete(name));
    return opening;
  }

  private pathOf(name: string): string {
    return join(this.dataDir, fileNameOf(name));
  }
}

/**
 * Removes a database's file and the ones SQLite keeps beside it, as far as it can: the failure
 * that brought us here is what the caller must hear, and what is not a file is not ours.
 */
function removeDatabaseFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    try {
      unlinkSync(path + suffix);
    } catch {
      // Absent, or not a file (a folder of that name): nothing of this database to remove.
    }
  }
}

function loadServerUuid(path: string): string {
  if (existsSync(path)) {
    const state = JSON.parse(readFileSync(path, 'utf8')) as { uuid?: string };
    if (typeof state.uuid === 'string') return state.uuid;
  }
  const uuid = randomHex();
  writeFileSync(path, `${JSON.stringify({ uuid })}\n`);
  return uuid;
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
