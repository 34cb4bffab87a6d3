import type { Peer } from '../core/api.js';
import { TypedEmitter } from './emitter.js';
import { type Endpoint, type EndpointOptions, peerOf } from './endpoints.js';
import { Replication } from './replication.js';
import type { ReplicationEvents, ReplicationOptions, ReplicationResult } from './types.js';

export type Direction = 'push' | 'pull';

/** A sync's events: each replication's, tagged with its direction. */
export interface SyncEvents extends Record<string, unknown> {
  change: { direction: Direction; change: ReplicationEvents['change'] };
  active: { direction: Direction };
  paused: { direction: Direction; error?: Error };
  denied: { direction: Direction; denied: ReplicationEvents['denied'] };
  error: { direction: Direction; error: Error };
  complete: { push: ReplicationResult; pull: ReplicationResult };
}

/**
 * Two-way sync: `a` pushes to `b` and pulls from it, under one handle. Each direction is a
 * Replication with its own checkpoints, so either resumes on its own.
 */
export class Sync extends TypedEmitter<SyncEvents> {
  readonly push: Replication;
  readonly pull: Replication;
  readonly done: Promise<{ push: ReplicationResult; pull: ReplicationResult }>;

  constructor(a: Peer, b: Peer, options: ReplicationOptions = {}) {
    super();
    // What one direction writes, the other need not offer back: no echo requests.
    const pulled = new RecentRevisions();
    const pushed = new RecentRevisions();
    this.push = new Replication(a, b, {
      ...options,
      knownOnTarget: (id, rev) => pulled.has(id, rev),
      onWritten: (id, rev) => pushed.add(id, rev),
    });
    this.pull = new Replication(b, a, {
      ...options,
      knownOnTarget: (id, rev) => pushed.has(id, rev),
      onWritten: (id, rev) => pulled.add(id, rev),
    });
    for (const [direction, replication] of [
      ['push', this.push],
      ['pull', this.pull],
    ] as const) {
      replication.on('change', (change) => this.emit('change', { direction, change }));
      replication.on('active', () => this.emit('active', { direction }));
      replication.on('paused', ({ error }) =>
        this.emit('paused', { direction, ...(error ? { error } : {}) }),
      );
      replication.on('denied', (denied) => this.emit('denied', { direction, denied }));
      replication.on('error', (error) => {
        this.emit('error', { direction, error });
        this.cancel();
      });
    }
    this.done = Promise.all([this.push.done, this.pull.done]).then(([push, pull]) => {
      this.emit('complete', { push, pull });
      return { push, pull };
    });
    this.done.catch(() => undefined);
  }

  cancel(): void {
    this.push.cancel();
    this.pull.cancel();
  }

  /** Resolves when both directions are caught up or finished. */
  async idle(): Promise<void> {
    await Promise.all([this.push.idle(), this.pull.idle()]);
  }
}

/**
 * Starts syncing `a` and `b` both ways. Either may be a database URL, as PouchDB takes them:
 * it becomes one RemoteDatabase, with the options' `auth`, `session`, `fetch`…, that both
 * directions share.
 *
 * @example
 * const handle = sync(db, 'http://127.0.0.1:5984/shop', { live: true, auth: { username, password } });
 * handle.on('change', ({ direction, change }) => console.log(direction, change.docs_written));
 */
export function sync(a: Peer, b: Peer, options?: ReplicationOptions): Sync;
export function sync(a: Endpoint, b: Endpoint, options?: ReplicationOptions & EndpointOptions): Sync;
export function sync(a: Endpoint, b: Endpoint, options: ReplicationOptions & EndpointOptions = {}): Sync {
  return new Sync(peerOf(a, options), peerOf(b, options), options);
}

/** The most recent revisions written by one direction of a sync, bounded in memory. */
class RecentRevisions {
  private readonly keys = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  add(id: string, rev: string): void {
    this.keys.add(`${id}\n${rev}`);
    if (this.keys.size > this.capacity) this.keys.delete(this.keys.values().next().value as string);
  }

  has(id: string, rev: string): boolean {
    return this.keys.has(`${id}\n${rev}`);
  }
}
