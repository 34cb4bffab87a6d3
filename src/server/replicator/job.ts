/**
 * One replication the scheduler runs, a `_replicator` document's or a `_replicate` request's:
 * its scheduler state, its history of events, and CouchDB's counters of its current or last run.
 */
import type { UserContext } from '../../core/api.js';
import { describeError } from '../../core/describe-error.js';
import { type ProgressTracker, trackedReplication } from '../../replication/progress.js';
import type { Replication, ReplicationProgress, ReplicationResult } from '../../replication/replication.js';
import type { Prepared } from './peers.js';
import { SINGLE_NODE } from '../leases/leases.js';
import { ADMIN_ROLE } from '../security.js';
import { identityOf, REPLICATOR_DB, type ReplicationSpec } from './spec.js';

/** Scheduler states, as CouchDB names them. */
export type SchedulerState = 'initializing' | 'pending' | 'running' | 'crashing' | 'completed' | 'failed';

/** One entry of a job's `history`, newest first. */
export interface JobEvent {
  timestamp: string;
  type: 'added' | 'started' | 'crashed' | 'stopped' | 'completed' | 'failed';
  reason?: string;
}

const HISTORY_LIMIT = 20;

/** CouchDB's timestamps: RFC 3339, whole seconds. */
export function timestamp(date = new Date()): string {
  return date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** One replication the scheduler runs: a `_replicator` document's or a `_replicate` request's. */
export class Job {
  id: string | undefined;
  state: SchedulerState = 'initializing';
  errorCount = 0;
  error: string | undefined;
  readonly startTime = timestamp();
  lastUpdated = this.startTime;
  readonly history: JobEvent[] = [];
  replication: Replication | undefined;
  tracker: ProgressTracker | undefined;
  /** Statistics of a finished run (or, for a job restored from its document, as written there). */
  stats: Record<string, unknown> | undefined;
  /** Settles when the job has stopped running (its last checkpoint and write-back done). */
  done: Promise<void> = Promise.resolve();
  private readonly stopper = new AbortController();
  /** Whose rights the job runs with: its `_replicate` caller or its document's owner. */
  owner: UserContext = { name: null, roles: [ADMIN_ROLE] };
  /** The server that runs it (CouchDB's `node`): this one, or the one holding its lease. */
  node = SINGLE_NODE;
  /** Another server runs it (holds its lease): this one only lists its document, as pending. */
  elsewhere = false;

  constructor(
    /** The defining fields, as `definingKey` gives them. */
    readonly key: string,
    /** Undefined for a `_replicator` document that is not a valid replication. */
    readonly spec: ReplicationSpec | undefined,
    /** The `_replicator` document's id; null for a `_replicate` request. */
    readonly docId: string | null,
    /** The endpoints as listings show them. */
    readonly source: string | null,
    readonly target: string | null,
    readonly continuous: boolean,
  ) {}

  get database(): string | null {
    return this.docId === null ? null : REPLICATOR_DB;
  }

  get signal(): AbortSignal {
    return this.stopper.signal;
  }

  get stopped(): boolean {
    return this.stopper.signal.aborted;
  }

  get terminal(): boolean {
    return this.state === 'completed' || this.state === 'failed';
  }

  /** Starts a Replication of the job's spec, the job's state following the replication's events. */
  launch(prepared: Prepared, retry: boolean): Replication {
    const spec = this.spec!;
    const { replication, tracker } = trackedReplication(prepared.source, prepared.target, {
      live: spec.continuous,
      retry,
      create_target: spec.create_target,
      ...identityOf(spec),
      ...(prepared.since !== undefined ? { since: prepared.since } : {}),
    });
    this.replication = replication;
    this.tracker = tracker;
    this.setState('running');
    this.record('started');
    replication.on('active', () => this.setState('running'));
    replication.on('paused', ({ error }) => (error ? this.crash(error) : this.setState('running')));
    replication.on('change', () => this.touch());
    return replication;
  }

  stop(): void {
    if (this.stopped) return;
    this.stopper.abort();
    this.replication?.cancel();
    if (!this.terminal) this.record('stopped');
  }

  setState(state: SchedulerState): void {
    this.state = state;
    this.touch();
  }

  touch(): void {
    this.lastUpdated = timestamp();
  }

  record(type: JobEvent['type'], reason?: string): void {
    this.history.unshift({ timestamp: timestamp(), type, ...(reason === undefined ? {} : { reason }) });
    this.history.length = Math.min(this.history.length, HISTORY_LIMIT);
  }

  crash(error: unknown): void {
    this.errorCount++;
    this.error = describeError(error);
    this.setState('crashing');
    this.record('crashed', this.error);
  }

  /** Keeps the statistics of a run that completed, for the listings and the document. */
  completed(result: ReplicationResult): void {
    this.stats = {
      ...this.counters(result),
      changes_pending: result.pending ?? 0,
      checkpointed_source_seq: this.tracker?.checkpointedSeq ?? result.last_seq,
      start_time: timestamp(new Date(result.start_time)),
    };
  }

  /** CouchDB's counters of the current or last run. */
  info(): Record<string, unknown> {
    const progress = this.replication?.progress;
    const info: Record<string, unknown> =
      progress && !(this.terminal && this.stats)
        ? {
            ...this.counters(progress),
            changes_pending: progress.pending ?? null,
            checkpointed_source_seq: this.tracker?.checkpointedSeq ?? null,
            through_seq: progress.last_seq,
          }
        : { ...(this.stats ?? {}) };
    if (this.state === 'crashing' || this.state === 'failed') info.error = this.error ?? null;
    return info;
  }

  percent(): number | undefined {
    const progress = this.replication?.progress;
    return progress && this.tracker ? this.tracker.percent(progress) : undefined;
  }

  private counters(progress: ReplicationProgress) {
    return {
      revisions_checked: this.tracker?.revisionsChecked ?? 0,
      missing_revisions_found: this.tracker?.missingRevisionsFound ?? 0,
      docs_read: progress.docs_read,
      docs_written: progress.docs_written,
      doc_write_failures: progress.doc_write_failures,
    };
  }
}
