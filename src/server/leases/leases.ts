import { sleep } from '../../replication/backoff.js';

/** What a lease is taken for: the same name in two spaces is two leases. */
export type LeaseSpace = 'replication' | 'compaction';

/**
 * Work that one server at a time must do — a `_replicator` job, a database's automatic
 * compaction — is done under a lease: the server that takes it does the work, the others leave it
 * to that server and try again now and then, and take it over once the holder lets it go or dies.
 *
 * - `LocalLeases`: one server alone (SQLite files); every lease is its own at once.
 * - `PostgresLeases`: servers sharing one PostgreSQL; a lease is an advisory lock held by the
 *   server's lock connection, released by PostgreSQL when that connection ends.
 */
export interface Leases {
  /** This server's name in listings (CouchDB's `node`). */
  readonly node: string;
  /** Takes the lease unless another server holds it (or it cannot tell); true when this server holds it now. */
  acquire(space: LeaseSpace, name: string): Promise<boolean>;
  /** Lets the lease go (the work is done or stopped); other servers waiting for it are told. */
  release(space: LeaseSpace, name: string): Promise<void>;
  /** The node of the server that holds the lease, when it is another one and can be told. */
  holder(space: LeaseSpace, name: string): Promise<string | undefined>;
  /** Resolves once the lease may be free (its holder let it go), after `ms` at most, or on `signal`. */
  released(space: LeaseSpace, name: string, ms: number, signal: AbortSignal): Promise<void>;
  /** Calls `listener` when every lease this server held is lost (its lock connection broke). */
  onLost(listener: () => void): () => void;
  /** Lets every lease go. */
  close(): Promise<void>;
}

/** CouchDB's name for the node of a server that is not part of a cluster. */
export const SINGLE_NODE = 'nonode@nohost';

/** One server alone: nobody to share with, so every lease is taken at once and never lost. */
export class LocalLeases implements Leases {
  readonly node = SINGLE_NODE;

  async acquire(): Promise<boolean> {
    return true;
  }

  async release(): Promise<void> {}

  async holder(): Promise<string | undefined> {
    return undefined;
  }

  released(_space: LeaseSpace, _name: string, ms: number, signal: AbortSignal): Promise<void> {
    return sleep(ms, signal);
  }

  onLost(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {}
}
