import pg from 'pg';
import { notFound } from '../../core/errors.js';
import { randomHex } from '../../database/database.js';
import { randomBytes } from 'node:crypto';
import { announceNotice, writeListenerOf } from '../../storage/postgres/notifications.js';
import { PostgresStorage } from '../../storage/postgres/postgres-storage.js';
import { endPool } from '../../storage/postgres/sql.js';
import { sharedServerUuid } from '../../storage/postgres/server-identity.js';
import type { Storage } from '../../storage/types.js';
import type { DatabaseNotice, DatabaseStore } from './types.js';

/**
 * How long the pool keeps a connection nobody uses (ms). pg's default, 10 s, closed connections
 * between bursts of requests and opened them again at the next one: each new connection is a new
 * PostgreSQL process that loads its catalog caches and prepares every statement again, and the
 * more servers share a load, the more often each one's connections fall idle (docs/scale-out.md).
 */
export const POOL_IDLE_MS = 10 * 60_000;

/**
 * Every database in one PostgreSQL that several servers share (see docs/scale-out.md): names,
 * documents and the server uuid are the database's, so any server answers as another would. The
 * store listens for the other servers' writes on one connection (`notifications.ts`).
 */
export class PostgresDatabases implements DatabaseStore {
  readonly shared = true;
  /** Marks this server's announcements, which it need not hear back. */
  private readonly origin = randomBytes(8).toString('hex');

  private constructor(
    /** The server's pool: what else of the server talks to PostgreSQL (authentication) uses it too. */
    readonly pool: pg.Pool,
    /** A pool made here from a URL is ended here; a pool given by the caller stays the caller's. */
    private readonly ownsPool: boolean,
  ) {}

  /**
   * Connects to `postgres` (a `postgres://…` URL, or a pool the caller keeps and ends), brings
   * its tables up to date and listens for other servers' writes before any database opens.
   */
  static async open(postgres: string | pg.Pool): Promise<PostgresDatabases> {
    const ownsPool = typeof postgres === 'string';
    const pool = ownsPool
      ? new pg.Pool({ connectionString: postgres, idleTimeoutMillis: POOL_IDLE_MS })
      : postgres;
    // An idle connection that breaks is dropped by the pool; the next query opens another.
    if (ownsPool) pool.on('error', () => undefined);
    const store = new PostgresDatabases(pool, ownsPool);
    try {
      await writeListenerOf(pool).listen();
    } catch (error) {
      await store.close();
      throw error;
    }
    return store;
  }

  list(): Promise<string[]> {
    return PostgresStorage.names(this.pool);
  }

  async exists(name: string): Promise<boolean> {
    return (await PostgresStorage.existing(this.pool, name)) !== undefined;
  }

  create(name: string): Promise<Storage> {
    return PostgresStorage.create(this.pool, name);
  }

  async open(name: string): Promise<Storage> {
    const storage = await PostgresStorage.existing(this.pool, name);
    if (!storage) throw notFound('Database does not exist.');
    return storage;
  }

  async isCurrent(storage: Storage): Promise<boolean> {
    return storage instanceof PostgresStorage && (await storage.exists());
  }

  announce(notice: DatabaseNotice, name: string): Promise<void> {
    return announceNotice(this.pool, this.origin, notice, name);
  }

  onNotice(notice: DatabaseNotice, listener: (name: string | undefined) => void): () => void {
    return writeListenerOf(this.pool).onNotice(notice, this.origin, listener);
  }

  serverUuid(): Promise<string> {
    return sharedServerUuid(this.pool, randomHex());
  }

  async close(): Promise<void> {
    await writeListenerOf(this.pool).close();
    if (this.ownsPool) await endPool(this.pool);
  }
}
