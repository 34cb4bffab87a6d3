import { randomBytes } from 'node:crypto';
import os from 'node:os';
import pg from 'pg';
import {
  type AdvisoryKey,
  advisoryKeyOf,
  advisoryLockHolder,
  LEASE_CHANNEL,
  releaseAdvisoryLock,
  tryAdvisoryLock,
} from '../../storage/postgres/advisory-locks.js';
import type { LeaseSpace, Leases } from './leases.js';

/**
 * Leases among the servers of one PostgreSQL: each lease is a session-level advisory lock
 * (`advisory-locks.ts`) taken on one connection of this server's own, held for as long as the
 * work runs. The connection carries the server's node name (`application_name`), so the others
 * can tell who holds a lease, and listens for releases, so they take it over at once.
 *
 * If the connection breaks, PostgreSQL has let every lock go: the server is told (`onLost`) and
 * stops the work, since another server may take it now; the next `acquire` connects again.
 */
export class PostgresLeases implements Leases {
  readonly node = `settee-${randomBytes(4).toString('hex')}@${os.hostname()}`;
  /** Leases held by this server, by key: a session lock is re-entrant, so the server keeps count itself. */
  private readonly held = new Set<string>();
  /** Who waits for each key's release. */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly lostListeners = new Set<() => void>();
  private connecting: Promise<pg.Client> | undefined;
  private closed = false;

  /** `config`: a `postgres://…` URL or the settings of the server's pool (the lock connection is not the pool's). */
  constructor(private readonly config: string | pg.ClientConfig) {}

  async acquire(space: LeaseSpace, name: string): Promise<boolean> {
    const key = advisoryKeyOf(space, name);
    if (this.closed || this.held.has(key.value)) return false;
    try {
      const client = await this.connection();
      if (!(await tryAdvisoryLock(client, key))) return false;
    } catch {
      // PostgreSQL out of reach: the work cannot be done from here anyway; tried again later.
      return false;
    }
    this.held.add(key.value);
    return true;
  }

  async release(space: LeaseSpace, name: string): Promise<void> {
    const key = advisoryKeyOf(space, name);
    if (!this.held.delete(key.value)) return;
    const client = await this.connecting?.catch(() => undefined);
    // A connection that broke has let the lock go already.
    await (client && releaseAdvisoryLock(client, key).catch(() => undefined));
  }

  async holder(space: LeaseSpace, name: string): Promise<string | undefined> {
    try {
      return await advisoryLockHolder(await this.connection(), advisoryKeyOf(space, name));
    } catch {
      return undefined;
    }
  }

  released(space: LeaseSpace, name: string, ms: number, signal: AbortSignal): Promise<void> {
    const { value } = advisoryKeyOf(space, name);
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      let forKey = this.waiters.get(value);
      if (!forKey) this.waiters.set(value, (forKey = new Set()));
      const waiting = forKey;
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(value) === waiting) this.waiters.delete(value);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      waiting.add(done);
    });
  }

  onLost(listener: () => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.held.clear();
    const client = await this.connecting?.catch(() => undefined);
    this.connecting = undefined;
    // Ending the session releases its locks; the others find them free at their next try.
    await client?.end().catch(() => undefined);
  }

  /** The lock connection, opened on first use and again after it broke. */
  private connection(): Promise<pg.Client> {
    this.connecting ??= this.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const settings = typeof this.config === 'string' ? { connectionString: this.config } : this.config;
    const client = new pg.Client({ ...settings, application_name: this.node });
    // A lost connection is reported here (not thrown): its locks are gone, and so is the work.
    client.on('error', () => this.lost(client));
    client.on('end', () => this.lost(client));
    client.on('notification', (message) => {
      if (message.channel === LEASE_CHANNEL && message.payload) this.wake(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${LEASE_CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  private wake(key: AdvisoryKey['value']): void {
    for (const done of [...(this.waiters.get(key) ?? [])]) done();
  }

  private lost(client: pg.Client): void {
    void this.connecting?.then(
      (current) => {
        if (current !== client || this.closed) return;
        this.connecting = undefined;
        this.held.clear();
        for (const listener of [...this.lostListeners]) listener();
      },
      () => undefined,
    );
  }
}
