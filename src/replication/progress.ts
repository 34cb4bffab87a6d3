import type { ChangesResponse, Peer, PeerChangesOptions, Seq } from '../core/api.js';
import {
  type Replication,
  type ReplicationOptions,
  type ReplicationProgress,
  replicate,
} from './replication.js';

/**
 * Progress of a replication as people want to see it: change rows done, a percentage that
 * reaches 100, the write rate, and CouchDB's extra counters (revisions checked, missing
 * revisions found, the checkpointed sequence). It watches the replication's peers through thin
 * wrappers: every page of changes read is counted, and credited once its batch is written (the
 * replication's `change` event names the page by its `last_seq`), so pipelined reads are not
 * counted before their documents land. However far the replication reads ahead, every page read
 * is credited: the percentage rises batch by batch and reaches 100 when the last one is written.
 *
 * @example
 * const { replication, tracker } = trackedReplication(source, target, { live: true });
 * replication.on('change', () => console.log(tracker.percent(replication.progress)));
 */
export class ProgressTracker {
  /** Change rows whose documents are written. */
  changesDone = 0;
  /** Revisions offered to the target's `_revs_diff`. */
  revisionsChecked = 0;
  /** Of those, the ones the target lacked. */
  missingRevisionsFound = 0;
  /** The last sequence written into the target's checkpoint document. */
  checkpointedSeq: Seq | undefined;
  /** The session named in that checkpoint (this run's, once it wrote one). */
  checkpointSession: string | undefined;
  /**
   * Resolves with the sequence the replication's first read starts from: its checkpoint (or
   * `since`), 0 when it starts from the beginning.
   */
  readonly started: Promise<Seq>;
  private markStarted: ((seq: Seq) => void) | undefined;
  /** Rows of pages read but not yet written, by the page's `last_seq`, in the order read. */
  private readonly pages = new Map<string, number>();
  /** `[time, docs_written]` samples, for the rate. */
  private samples: [number, number][] = [];
  private complete = false;

  constructor(private readonly rateWindowMs = 5000) {
    this.started = new Promise((resolve) => (this.markStarted = resolve));
  }

  /** The source as the replication should see it: the same Peer, every page of changes counted. */
  wrapSource(source: Peer): Peer {
    return {
      ...delegate(source),
      changes: async (options: PeerChangesOptions): Promise<ChangesResponse> => {
        this.markStarted?.(options.since ?? 0);
        this.markStarted = undefined;
        const response = await source.changes(options);
        if (response.results.length > 0) this.pages.set(seqKey(response.last_seq), response.results.length);
        return response;
      },
    };
  }

  /** The target as the replication should see it: revisions checked and checkpoints noted. */
  wrapTarget(target: Peer): Peer {
    return {
      ...delegate(target),
      revsDiff: async (request) => {
        const diff = await target.revsDiff(request);
        for (const revs of Object.values(request)) this.revisionsChecked += revs.length;
        for (const entry of Object.values(diff)) this.missingRevisionsFound += entry.missing.length;
        return diff;
      },
      putLocal: async (doc) => {
        const written = await target.putLocal(doc);
        const { last_seq: seq, session_id: session } = doc as { last_seq?: unknown; session_id?: unknown };
        if (typeof seq === 'number' || typeof seq === 'string') this.checkpointedSeq = seq;
        if (typeof session === 'string') this.checkpointSession = session;
        return written;
      },
    };
  }

  /** Follows a replication whose peers came from `wrapSource` (and `wrapTarget`). */
  attach(replication: Replication): this {
    this.samples = [[Date.now(), replication.progress.docs_written]];
    replication.on('change', (progress) => {
      this.credit(seqKey(progress.last_seq));
      this.sample(progress.docs_written);
    });
    replication.on('complete', (result) => {
      this.complete = result.status === 'complete';
      this.sample(result.docs_written);
    });
    return this;
  }

  /** 0–100, or undefined while the source has not said how much is left. */
  percent(progress: ReplicationProgress): number | undefined {
    if (this.complete) return 100;
    if (progress.pending === undefined) return undefined;
    const total = this.changesDone + progress.pending;
    return total === 0 ? 100 : Math.floor((100 * this.changesDone) / total);
  }

  /** Documents written per second over the last few seconds. */
  docsPerSecond(now = Date.now()): number {
    const last = this.samples[this.samples.length - 1];
    if (!last) return 0;
    const windowStart = now - this.rateWindowMs;
    const base = this.samples.findLast(([time]) => time <= windowStart) ?? this.samples[0]!;
    const elapsed = now - base[0];
    return elapsed <= 0 ? 0 : ((last[1] - base[1]) * 1000) / elapsed;
  }

  /**
   * Credits the rows of the page ending at `key`. Pages read before it and still here were read
   * by a run that failed before writing them (the next run reads them again): forgotten, so
   * their rows are neither counted nor kept.
   */
  private credit(key: string): void {
    const rows = this.pages.get(key);
    if (rows === undefined) return;
    for (const earlier of this.pages.keys()) {
      this.pages.delete(earlier);
      if (earlier === key) break;
    }
    this.changesDone += rows;
  }

  private sample(docsWritten: number, now = Date.now()): void {
    this.samples.push([now, docsWritten]);
    // Keep one sample from before the window, so the rate spans the whole window.
    const firstInWindow = this.samples.findIndex(([time]) => now - time < this.rateWindowMs);
    if (firstInWindow > 1) this.samples = this.samples.slice(firstInWindow - 1);
  }
}

/**
 * Starts a replication from `source` to `target` with a ProgressTracker following it: both
 * peers wrapped, the tracker attached before the first change.
 */
export function trackedReplication(
  source: Peer,
  target: Peer,
  options: ReplicationOptions = {},
): { replication: Replication; tracker: ProgressTracker } {
  const tracker = new ProgressTracker();
  const replication = replicate(tracker.wrapSource(source), tracker.wrapTarget(target), options);
  tracker.attach(replication);
  return { replication, tracker };
}

/** A Peer that forwards every call to `peer` (methods keep their `this`). */
function delegate(peer: Peer): Peer {
  return {
    peerId: () => peer.peerId(),
    info: () => peer.info(),
    ensureExists: () => peer.ensureExists(),
    changes: (options) => peer.changes(options),
    revsDiff: (request) => peer.revsDiff(request),
    bulkGet: (request, options) => peer.bulkGet(request, options),
    bulkDocs: (docs, options) => peer.bulkDocs(docs, options),
    getLocal: (id) => peer.getLocal(id),
    putLocal: (doc) => peer.putLocal(doc),
  };
}

function seqKey(seq: Seq): string {
  return typeof seq === 'string' ? `s:${seq}` : `n:${seq}`;
}
