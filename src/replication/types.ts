import type { Doc, Seq } from '../core/api.js';
import type { BackoffOptions } from './backoff.js';
import type { ReplicationIdentity } from './replication-id.js';

export interface ReplicationOptions extends ReplicationIdentity {
  /** Keep going: after catching up, wait for new changes (continuous replication). */
  live?: boolean;
  /** Retry after failures with backoff instead of ending (always on when `live`). */
  retry?: boolean;
  /** Changes per batch; by default 100, doubling while the source has more, up to 500. */
  batch_size?: number;
  /** Batches of changes read ahead of the one being written (default 10). */
  batches_limit?: number;
  /** Start here instead of at the checkpoint. */
  since?: Seq;
  /** Create the target database when it does not exist. */
  create_target?: boolean;
  /**
   * Checkpoints are written at most this often while batches are written (ms, default 5000; 0:
   * after every batch), and when a one-shot run completes or a live one is idle.
   */
  checkpoint_interval?: number;
  /** How long a live read waits for changes before asking again (ms, default 25000). */
  heartbeat_timeout?: number;
  backoff?: BackoffOptions;
  /**
   * Revisions known to be on the target already, offered to no `_revs_diff`: a sync passes the
   * ones its other direction just brought from there, so they do not echo back.
   */
  knownOnTarget?: (id: string, rev: string) => boolean;
  /** Told of every revision written to the target. */
  onWritten?: (id: string, rev: string) => void;
}

/** Counters of a replication, CouchDB's names. */
export interface ReplicationProgress {
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  /** Changes the source reported still to come, when it reports them. */
  pending: number | undefined;
  last_seq: Seq;
  start_time: string;
}

export interface ReplicationResult extends ReplicationProgress {
  ok: boolean;
  status: 'complete' | 'cancelled';
  end_time: string;
}

/**
 * Where a replication is. A run goes `starting` → `reading` (a page of changes and the
 * revisions the target lacks) → `writing` (them, to the target) → `checkpointing` (not after
 * every batch when live) → `reading` …; one-shot it ends `complete` once caught up, live it is
 * `paused` (waiting for the next change) until the source changes again. A failure makes it
 * `backing-off` before a new run (`starting` again), or `error` when it cannot be retried;
 * `cancel()` ends it `cancelled`. Reading, writing and checkpointing together are what
 * PouchDB and CouchDB call active.
 */
export type ReplicationState =
  | 'starting'
  | 'reading'
  | 'writing'
  | 'checkpointing'
  | 'paused'
  | 'backing-off'
  | 'complete'
  | 'cancelled'
  | 'error';

/** The events a replication emits, with their payloads. */
export interface ReplicationEvents extends Record<string, unknown> {
  active: ReplicationProgress;
  /** Caught up (live) or waiting to retry; `error` says why it waits, if it failed. */
  paused: { progress: ReplicationProgress; error?: Error };
  change: ReplicationProgress & { docs: Doc[] };
  /** A document the target refused (forbidden, unauthorized). */
  denied: { id: string; rev?: string; error: string; reason: string };
  error: Error;
  complete: ReplicationResult;
}
