import type { Peer, Seq } from '../core/api.js';
import { SetteeError } from '../core/errors.js';
import { backoffDelay, sleep } from './backoff.js';
import { TypedEmitter } from './emitter.js';
import { type Endpoint, type EndpointOptions, peerOf } from './endpoints.js';
import { CheckpointLostError, PeerRecreatedError } from './start-over.js';
import type { ReplicationRun, RunHost, RunOutcome } from './run.js';
import type {
  ReplicationEvents,
  ReplicationOptions,
  ReplicationProgress,
  ReplicationResult,
  ReplicationState,
} from './types.js';

// Where cli/, server/ and progress.ts have always found them.
export type * from './types.js';

const RETRY_FOREVER = Number.POSITIVE_INFINITY;

/**
 * One-way replication from a source Peer to a target Peer, as CouchDB and PouchDB do it:
 * changes → revs_diff → bulk_get → bulk_docs(new_edits=false) → checkpoint, batch after batch,
 * reading the next batch of changes while the current one is written. Checkpoints on both
 * peers make it resumable; transient failures are retried with backoff. `state` says where it
 * is (ReplicationState); each run from the checkpoints is a ReplicationRun.
 *
 * @example
 * const replication = replicate(local, 'http://host:5984/db', { live: true, auth });
 * replication.on('change', (p) => console.log(p.docs_written));
 * await replication.idle();
 */
export class Replication extends TypedEmitter<ReplicationEvents> {
  state: ReplicationState = 'starting';
  readonly progress: ReplicationProgress;
  /** Resolves when a one-shot replication completes or any replication is cancelled. */
  readonly done: Promise<ReplicationResult>;
  private readonly stop = new AbortController();
  private idleWaiters: (() => void)[] = [];
  /** `since`, until a checkpoint is written: a run restarted after a failure resumes from that. */
  private startOverride: Seq | undefined;
  /** Checkpoints this replication wrote: progress, which resets the backoff after failures. */
  private checkpointsWritten = 0;

  constructor(
    readonly source: Peer,
    readonly target: Peer,
    private readonly options: ReplicationOptions = {},
  ) {
    super();
    this.progress = {
      docs_read: 0,
      docs_written: 0,
      doc_write_failures: 0,
      pending: undefined,
      last_seq: 0,
      start_time: new Date().toISOString(),
    };
    this.startOverride = options.since;
    this.done = this.runWithRetries();
    // The promise is also reported through 'error'; a caller that only listens must not crash.
    this.done.catch(() => undefined);
  }

  /** Stops the replication; it writes a last checkpoint of what it finished and resolves `done`. */
  cancel(): void {
    this.stop.abort();
  }

  /** Resolves the next time the replication is caught up (paused) or finished. */
  idle(): Promise<void> {
    if (this.state === 'paused' || this.isFinished()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isFinished(): boolean {
    return this.state === 'complete' || this.state === 'cancelled' || this.state === 'error';
  }

  private setState(state: ReplicationState): void {
    this.state = state;
    if (state === 'paused' || this.isFinished()) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private async runWithRetries(): Promise<ReplicationResult> {
    const retries = this.options.live || this.options.retry ? RETRY_FOREVER : 0;
    // Failures in a row: a run that checkpointed since the last one starts the count (and the
    // backoff) over, so a live replication's hundredth network blip in a month waits as little
    // as its first.
    let failures = 0;
    for (;;) {
      const checkpointsBefore = this.checkpointsWritten;
      try {
        const run = await this.newRun();
        return this.finish(await run.run(this.startOverride));
      } catch (error) {
        if (this.checkpointsWritten !== checkpointsBefore) failures = 0;
        const failure = error instanceof Error ? error : new Error(String(error));
        if (this.stop.signal.aborted) return this.finish('cancelled');
        // Not a failure: the checkpoints no longer apply, so run again from zero. Not from the
        // checkpoints: this run may have written some into the new database before it noticed.
        if (failure instanceof PeerRecreatedError || failure instanceof CheckpointLostError) {
          this.startOverride = 0;
          continue;
        }
        if (isPermanent(failure) || failures >= retries) {
          this.setState('error');
          this.emit('error', failure);
          throw failure;
        }
        this.setState('backing-off');
        this.emit('paused', { progress: { ...this.progress }, error: failure });
        await sleep(backoffDelay(failures++, this.options.backoff), this.stop.signal);
        if (this.stop.signal.aborted) return this.finish('cancelled');
      }
    }
  }

  private async newRun(): Promise<ReplicationRun> {
    // Imported when a replication first runs: in a page, the batches and checkpoints are a chunk
    // of their own, fetched after the page has shown its local data rather than before.
    const { ReplicationRun } = await import('./run.js');
    const host: RunHost = {
      progress: this.progress,
      stopSignal: this.stop.signal,
      state: () => this.state,
      enter: (state) => this.setState(state),
      emit: (event, payload) => this.emit(event, payload),
      checkpointed: () => {
        this.startOverride = undefined;
        this.checkpointsWritten++;
      },
    };
    return new ReplicationRun(this.source, this.target, this.options, host);
  }

  private finish(status: RunOutcome): ReplicationResult {
    const result: ReplicationResult = {
      ...this.progress,
      ok: true,
      status,
      end_time: new Date().toISOString(),
    };
    this.setState(status);
    this.emit('complete', result);
    return result;
  }
}

/**
 * Starts replicating `source` into `target`. Either may be a database URL, as PouchDB takes
 * them: it becomes a RemoteDatabase with the options' `auth`, `session`, `fetch`… (both URLs
 * get the same ones; credentials may also stand in each URL's userinfo).
 *
 * @example
 * const db = await Database.open('shop.sqlite');
 * await replicate('http://127.0.0.1:5984/shop', db, { auth: { username: 'ann', password: 's3cret' } }).done;
 */
export function replicate(source: Peer, target: Peer, options?: ReplicationOptions): Replication;
export function replicate(
  source: Endpoint,
  target: Endpoint,
  options?: ReplicationOptions & EndpointOptions,
): Replication;
export function replicate(
  source: Endpoint,
  target: Endpoint,
  options: ReplicationOptions & EndpointOptions = {},
): Replication {
  return new Replication(peerOf(source, options), peerOf(target, options), options);
}

/** Failures that retrying cannot fix: bad credentials, refusals, a missing database. */
function isPermanent(error: Error): boolean {
  return (
    error instanceof SetteeError &&
    error.status >= 400 &&
    error.status < 500 &&
    ![408, 429].includes(error.status)
  );
}
