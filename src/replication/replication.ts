import type {
  ChangeRow,
  ChangesResponse,
  Doc,
  NewDoc,
  Peer,
  Seq,
  WriteError,
  WriteResult,
} from '../core/api.js';
import { SetteeError } from '../core/errors.js';
import { type BackoffOptions, backoffDelay, sleep } from './backoff.js';
import { ChangesReader, handled } from './changes-reader.js';
import { Checkpointer, CheckpointLostError } from './checkpointer.js';
import { TypedEmitter } from './emitter.js';
import { type ReplicationIdentity, replicationId } from './replication-id.js';

export interface ReplicationOptions extends ReplicationIdentity {
  /** Keep going: after catching up, wait for new changes (continuous replication). */
  live?: boolean;
  /** Retry after failures with backoff instead of ending (always on when `live`). */
  retry?: boolean;
  /** Changes per batch (default 100). */
  batch_size?: number;
  /** Batches of changes read ahead of the one being written (default 10). */
  batches_limit?: number;
  /** Start here instead of at the checkpoint. */
  since?: Seq;
  /** Create the target database when it does not exist. */
  create_target?: boolean;
  /** Live replications write checkpoints at most this often (ms, default 5000) and when idle. */
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

export type ReplicationState =
  'starting' | 'active' | 'paused' | 'backing-off' | 'complete' | 'cancelled' | 'error';

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

const RETRY_FOREVER = Number.POSITIVE_INFINITY;

/**
 * One-way replication from a source Peer to a target Peer, as CouchDB and PouchDB do it:
 * changes → revs_diff → bulk_get → bulk_docs(new_edits=false) → checkpoint, batch after batch,
 * reading the next batch of changes while the current one is written. Checkpoints on both
 * peers make it resumable; transient failures are retried with backoff.
 *
 * @example
 * const replication = replicate(local, new RemoteDatabase('http://host:5984/db'), { live: true });
 * replication.on('change', (p) => console.log(p.docs_written));
 * await replication.idle();
 */
export class Replication extends TypedEmitter<ReplicationEvents> {
  state: ReplicationState = 'starting';
  readonly progress: ReplicationProgress;
  /** Resolves when a one-shot replication completes or any replication is cancelled. */
  readonly done: Promise<ReplicationResult>;
  private readonly stop = new AbortController();
  /** Aborts the current run's reads: on cancel, or when it must start over. */
  private runSignal = new AbortController();
  /** Why the current run was interrupted, to be thrown from its loop. */
  private interruption: Error | undefined;
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
        return await this.run();
      } catch (error) {
        if (this.checkpointsWritten !== checkpointsBefore) failures = 0;
        this.cancelDeferredCheckpoint();
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

  private finish(status: 'complete' | 'cancelled'): ReplicationResult {
    this.cancelDeferredCheckpoint();
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

  /** One run from the checkpoint to completion (one-shot) or cancellation (live). */
  private async run(): Promise<ReplicationResult> {
    const { source, target, options } = this;
    this.interruption = undefined;
    this.runSignal = new AbortController();
    this.stop.signal.addEventListener('abort', () => this.runSignal.abort(), { once: true });
    const instances = new InstanceWatch(source, target, options.checkpoint_interval ?? 5000);
    await instances.start(options.create_target === true);
    const id = await replicationId(source, target, options);
    const checkpointInterval = options.checkpoint_interval ?? 5000;
    const checkpointer = new Checkpointer(source, target, id, randomSession(), checkpointInterval);
    let since = this.startOverride ?? (await checkpointer.startSeq());
    const skipDeleted = options.skip_deleted_on_first_pull === true && since === 0;
    let caughtUp = false;
    let lastCheckpoint = Date.now();
    this.setState('active');
    this.emit('active', { ...this.progress });

    const batchSize = options.batch_size ?? 100;
    // A short page means the source had nothing more: a one-shot run is done without asking
    // again, a live one goes straight to waiting for the next change.
    const reader = new ChangesReader(
      (from, longpoll) => this.readChanges(from, longpoll),
      (page) => (page.results.length >= batchSize ? 'read' : options.live ? 'longpoll' : 'end'),
      options.batches_limit ?? 10,
    );
    /** Caught up: checkpoint (live: at most once per interval) and pause, or complete. */
    const caughtUpAt = async (seq: Seq): Promise<boolean> => {
      since = seq;
      this.progress.last_seq = since;
      this.progress.pending = 0;
      if (!options.live || !caughtUp || Date.now() - lastCheckpoint >= checkpointInterval) {
        this.cancelDeferredCheckpoint();
        await instances.check();
        await this.checkpoint(checkpointer, since);
        lastCheckpoint = Date.now();
      } else {
        // Live and caught up again soon after the last checkpoint: write it once idle for a
        // while, so a steady trickle of writes costs no checkpoint requests of its own.
        this.deferCheckpoint(lastCheckpoint + checkpointInterval - Date.now(), async () => {
          lastCheckpoint = Date.now();
          await instances.check(true);
          await this.checkpoint(checkpointer, seq);
        });
      }
      if (!options.live) return true;
      if (!caughtUp || this.state !== 'paused') {
        caughtUp = true;
        this.setState('paused');
        this.emit('paused', { progress: { ...this.progress } });
      }
      return false;
    };
    /** The documents of the next page, fetched while the current page was written. */
    let prefetched: Promise<{ page: ChangesResponse; docs: Promise<Doc[]> } | undefined> | undefined;
    reader.restart(since, false);
    for (;;) {
      // A remote peer rejects the read that cancel() aborted: the last checkpoint is still due.
      const page = await reader.next().catch((error: unknown) => {
        if (this.stop.signal.aborted) return undefined;
        throw this.interruption ?? error;
      });
      if (this.interruption) throw this.interruption;
      if (!page || this.stop.signal.aborted) break;
      if (page.results.length === 0) {
        if (await caughtUpAt(page.last_seq)) return this.finish('complete');
        reader.restart(since, true);
        continue;
      }
      if (this.state === 'paused') {
        this.setState('active');
        this.emit('active', { ...this.progress });
      }
      // The reader reads on while this batch is written; a seq is checkpointed only once written.
      const rowsOf = (p: ChangesResponse) =>
        skipDeleted && !caughtUp ? withoutDeleted(p.results) : p.results;
      const ahead = await prefetched;
      const docs = await (ahead?.page === page ? ahead.docs : this.fetchBatch(rowsOf(page)));
      // After a full page the next one is a plain read, likely in already: ask for its documents
      // before this batch is written, so the source gathers them meanwhile. (A short page's
      // successor is a longpoll: nothing to overlap.)
      const upcoming = page.results.length >= batchSize ? reader.peek() : undefined;
      prefetched = upcoming?.then(
        (next) => ({ page: next, docs: handled(this.fetchBatch(rowsOf(next))) }),
        () => undefined,
      );
      // One turn of the event loop lets those requests leave before a local write holds the
      // thread (and, between two local databases, lets timers and I/O run).
      await yieldToEventLoop();
      const writing = this.writeBatch(docs);
      await writing;
      since = page.last_seq;
      this.progress.last_seq = since;
      this.progress.pending = page.pending;
      if (!options.live || Date.now() - lastCheckpoint >= checkpointInterval) {
        this.cancelDeferredCheckpoint();
        await instances.check();
        await this.checkpoint(checkpointer, since);
        lastCheckpoint = Date.now();
      }
      this.emit('change', { ...this.progress, docs });
      // Live: a short page means caught up; the reader is already waiting for the next change.
      if (options.live && page.results.length < batchSize) await caughtUpAt(since);
    }
    this.cancelDeferredCheckpoint();
    await this.checkpoint(checkpointer, since);
    return this.finish('cancelled');
  }

  private deferredCheckpoint: ReturnType<typeof setTimeout> | undefined;

  /**
   * Writes a checkpoint after `delayMs` unless a newer one is deferred or written first. A
   * failure that means the run must start over (a peer lost its log) interrupts the wait for
   * changes; any other is harmless, as the next checkpoint covers the same ground.
   */
  private deferCheckpoint(delayMs: number, write: () => Promise<void>): void {
    this.cancelDeferredCheckpoint();
    this.deferredCheckpoint = setTimeout(
      () => {
        this.deferredCheckpoint = undefined;
        write().catch((error: unknown) => {
          if (!(error instanceof CheckpointLostError || error instanceof PeerRecreatedError)) return;
          this.interruption = error;
          this.runSignal.abort();
        });
      },
      Math.max(0, delayMs),
    );
  }

  private cancelDeferredCheckpoint(): void {
    clearTimeout(this.deferredCheckpoint);
    this.deferredCheckpoint = undefined;
  }

  private async checkpoint(checkpointer: Checkpointer, seq: Seq): Promise<void> {
    await checkpointer.write(seq);
    this.startOverride = undefined;
    this.checkpointsWritten++;
  }

  private readChanges(since: Seq, longpoll: boolean): Promise<ChangesResponse> {
    const { options } = this;
    const request = this.source.changes({
      since,
      limit: options.batch_size ?? 100,
      style: 'all_docs',
      ...(options.doc_ids ? { doc_ids: [...options.doc_ids] } : {}),
      ...(options.selector ? { selector: options.selector } : {}),
      ...(longpoll ? { longpoll: true, timeout: options.heartbeat_timeout ?? 25_000 } : {}),
      signal: this.runSignal.signal,
    });
    return request;
  }

  /** The revisions of these changes that the target lacks, fetched from the source. */
  private async fetchBatch(rows: ChangeRow[]): Promise<Doc[]> {
    const wanted: Record<string, string[]> = {};
    const known = this.options.knownOnTarget;
    for (const row of rows) {
      const revs = row.changes.map((change) => change.rev).filter((rev) => !known?.(row.id, rev));
      if (revs.length > 0) wanted[row.id] = revs;
    }
    if (Object.keys(wanted).length === 0) return [];
    const diff = await this.target.revsDiff(wanted);
    const entries = Object.entries(diff).flatMap(([id, { missing, possible_ancestors }]) =>
      missing.map((rev) => ({ id, rev, atts_since: possible_ancestors ?? [] })),
    );
    if (entries.length === 0) return [];
    // Attachments inline, but only those newer than what the target holds (atts_since), as
    // CouchDB's replicator asks: stubs alone cost a refused write and a second fetch for every
    // new attachment from servers that honour atts_since only together with attachments=true.
    const docs = await this.fetch(entries, true);
    this.progress.docs_read += docs.length;
    return docs;
  }

  /** Writes fetched revisions to the target, refetching with data those it lacked a stub for. */
  private async writeBatch(docs: Doc[]): Promise<void> {
    const stubless = await this.write(docs);
    if (stubless.length > 0) {
      // The target lacked an attachment the source sent as a stub: fetch those with data.
      const refetched = await this.fetch(
        stubless.map((doc) => ({ id: doc._id, rev: doc._rev })),
        true,
      );
      await this.write(refetched, false);
    }
  }

  private async fetch(
    entries: { id: string; rev: string; atts_since?: string[] }[],
    attachments: boolean,
  ): Promise<Doc[]> {
    const response = await this.source.bulkGet({ docs: entries }, { revs: true, latest: true, attachments });
    const seen = new Set<string>();
    const docs: Doc[] = [];
    for (const result of response.results) {
      for (const found of result.docs) {
        // A revision gone since the changes were read is replaced by its leaf (latest) or
        // will come with a later change: nothing to write for it here.
        if (!('ok' in found)) continue;
        const key = `${found.ok._id}\n${found.ok._rev}`;
        if (seen.has(key)) continue;
        seen.add(key);
        docs.push(found.ok);
      }
    }
    return docs;
  }

  /**
   * Writes replicated revisions; a batch too large for the target is split in halves. Returns
   * the documents refused for a missing attachment stub (when `retryStubs`), to send again.
   */
  private async write(docs: Doc[], retryStubs = true): Promise<Doc[]> {
    if (docs.length === 0) return [];
    let results: WriteResult[];
    try {
      results = await this.target.bulkDocs(docs as NewDoc[], { newEdits: false });
    } catch (error) {
      if (!(error instanceof SetteeError) || error.status !== 413) throw error;
      if (docs.length === 1) {
        this.progress.doc_write_failures++;
        return [];
      }
      const half = Math.ceil(docs.length / 2);
      return [
        ...(await this.write(docs.slice(0, half), retryStubs)),
        ...(await this.write(docs.slice(half), retryStubs)),
      ];
    }
    return this.account(docs, results, retryStubs);
  }

  private account(docs: Doc[], results: WriteResult[], retryStubs: boolean): Doc[] {
    const failed = new Map<string, WriteError>();
    for (const result of results)
      if ('error' in result) failed.set(`${result.id}\n${result.rev ?? ''}`, result);
    const retry: Doc[] = [];
    for (const doc of docs) {
      const failure = failed.get(`${doc._id}\n${doc._rev}`) ?? failed.get(`${doc._id}\n`);
      if (!failure) {
        this.progress.docs_written++;
        this.options.onWritten?.(doc._id, doc._rev);
      } else if (failure.error === 'missing_stub' && retryStubs) {
        retry.push(doc);
      } else {
        this.progress.doc_write_failures++;
        if (failure.error === 'forbidden' || failure.error === 'unauthorized') {
          this.emit('denied', { id: doc._id, rev: doc._rev, error: failure.error, reason: failure.reason });
        }
      }
    }
    return retry;
  }
}

/** Starts replicating `source` into `target`. */
export function replicate(source: Peer, target: Peer, options: ReplicationOptions = {}): Replication {
  return new Replication(source, target, options);
}

/** A peer was destroyed and re-created while the replication ran. */
class PeerRecreatedError extends Error {
  constructor() {
    super('a peer was re-created during the replication: starting over from its checkpoints');
    this.name = 'PeerRecreatedError';
  }
}

/**
 * Notices a peer that was destroyed and re-created under the same name while the replication
 * ran: its `instance_start_time` changes. The run then fails with a transient error and starts
 * over from the checkpoints, which the new database does not have: from zero.
 */
class InstanceWatch {
  private started: [string, string] | undefined;
  private lastCheck = 0;

  constructor(
    private readonly source: Peer,
    private readonly target: Peer,
    private readonly intervalMs: number,
  ) {}

  /** Reads both peers (the source first: a missing source fails before a target is created). */
  async start(createTarget: boolean): Promise<void> {
    const source = await this.source.info();
    if (createTarget) await this.target.ensureExists();
    const target = await this.target.info();
    this.started = [source.instance_start_time, target.instance_start_time];
    this.lastCheck = Date.now();
  }

  /**
   * Compares at most once per interval (it costs a request to each peer), or now when `due`: the
   * caller waited an interval itself, and a timer may fire a millisecond before Date.now() says
   * the interval is over — skipping then would leave a re-created peer unnoticed until the next
   * change.
   */
  async check(due = false): Promise<void> {
    if (!this.started || (!due && Date.now() - this.lastCheck < this.intervalMs)) return;
    const [source, target] = await Promise.all([this.source.info(), this.target.info()]);
    this.lastCheck = Date.now();
    if (source.instance_start_time !== this.started[0] || target.instance_start_time !== this.started[1]) {
      throw new PeerRecreatedError();
    }
  }
}

function withoutDeleted(rows: ChangeRow[]): ChangeRow[] {
  return rows.filter((row) => !row.deleted);
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

/** A macrotask boundary (setImmediate in Node; a zero timeout in browsers). */
function yieldToEventLoop(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate;
  return new Promise((resolve) => (immediate ? immediate(resolve) : setTimeout(resolve, 0)));
}

function randomSession(): string {
  return crypto.randomUUID();
}
