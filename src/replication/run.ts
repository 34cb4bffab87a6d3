import { yieldToEventLoop } from '../core/yield.js';
import type { ChangesResponse, Peer, Seq } from '../core/api.js';
import { type Batch, BatchPipeline, fetchesLatest } from './batch-pipeline.js';
import { BatchWriter } from './batch-writer.js';
import { CheckpointSchedule } from './checkpoint-schedule.js';
import { Checkpointer } from './checkpointer.js';
import { InstanceWatch } from './instance-watch.js';
import { replicationId } from './replication-id.js';
import type {
  ReplicationEvents,
  ReplicationOptions,
  ReplicationProgress,
  ReplicationState,
} from './types.js';

/** What a run needs of the Replication it serves. */
export interface RunHost {
  readonly progress: ReplicationProgress;
  state(): ReplicationState;
  /** Aborted by `cancel()`. */
  readonly stopSignal: AbortSignal;
  enter(state: ReplicationState): void;
  emit<E extends keyof ReplicationEvents>(event: E, payload: ReplicationEvents[E]): void;
  /** A checkpoint was written. */
  checkpointed(): void;
}

/** How a run ends when nothing fails. */
export type RunOutcome = 'complete' | 'cancelled';

/** What a run does next: a state, and what that state works on. */
type Step =
  | { state: 'reading' }
  | { state: 'writing'; batch: Batch }
  /** After the checkpoint: report the batch written. */
  | { state: 'checkpointing'; seq: Seq; then: 'report'; batch: Batch }
  /** After the checkpoint: pause (live, caught up), complete, or end cancelled. */
  | { state: 'checkpointing'; seq: Seq; then: 'pause' | RunOutcome }
  /**
   * Live and caught up: waiting for the source's next change, after a checkpoint when one is
   * due (still paused: it is upkeep while idle, as a deferred checkpoint is).
   */
  | { state: 'paused'; checkpoint?: Seq }
  | { state: 'complete' }
  | { state: 'cancelled' };

const DEFAULT_CHECKPOINT_INTERVAL = 5000;

/**
 * One run of a replication, from its checkpoint to completion (one-shot) or cancellation (live),
 * as a small state machine: each state's handler does one step and names the next. A failure
 * is thrown; the Replication decides whether to retry.
 */
export class ReplicationRun {
  /** Aborts this run's reads: on cancel, when the run ends, or when it must start over. */
  private readonly controller = new AbortController();
  /** Why the run was interrupted from outside its loop, to be thrown from it. */
  private interruption: Error | undefined;
  private since: Seq = 0;
  private caughtUpOnce = false;
  private readonly pipeline: BatchPipeline;
  private readonly writer: BatchWriter;
  private schedule: CheckpointSchedule | undefined;

  constructor(
    private readonly source: Peer,
    private readonly target: Peer,
    private readonly options: ReplicationOptions,
    private readonly host: RunHost,
  ) {
    const signal = AbortSignal.any([host.stopSignal, this.controller.signal]);
    this.pipeline = new BatchPipeline(source, target, options, host.progress, signal);
    const hooks = {
      written: (id: string, rev: string) => options.onWritten?.(id, rev),
      denied: (event: ReplicationEvents['denied']) => host.emit('denied', event),
    };
    this.writer = new BatchWriter(source, target, host.progress, hooks, fetchesLatest(options));
  }

  /** Runs from `since` (when set) or the checkpoint until the run completes or is cancelled. */
  async run(since: Seq | undefined): Promise<RunOutcome> {
    try {
      let step = await this.start(since);
      while (step.state !== 'complete' && step.state !== 'cancelled') {
        if (this.host.state() !== step.state) this.host.enter(step.state);
        step = await this.next(step);
      }
      return step.state;
    } finally {
      this.schedule?.cancelDeferred();
      this.controller.abort();
    }
  }

  private next(step: Exclude<Step, { state: RunOutcome }>): Promise<Step> {
    switch (step.state) {
      case 'reading':
        return this.read();
      case 'paused':
        return this.wait(step.checkpoint);
      case 'writing':
        return this.write(step.batch);
      case 'checkpointing':
        return this.checkpoint(step);
    }
  }

  /** Checks both peers, finds where to start, and starts reading. */
  private async start(since: Seq | undefined): Promise<Step> {
    const { source, target, options, host } = this;
    host.enter('starting');
    const interval = options.checkpoint_interval ?? DEFAULT_CHECKPOINT_INTERVAL;
    const instances = new InstanceWatch(source, target, interval);
    await instances.start(options.create_target === true);
    const id = await replicationId(source, target, options);
    const checkpointer = new Checkpointer(source, target, id, crypto.randomUUID(), interval);
    this.schedule = new CheckpointSchedule(checkpointer, instances, options.live === true, interval, {
      written: () => host.checkpointed(),
      interrupted: (error) => this.interrupt(error),
    });
    this.since = since ?? (await checkpointer.startSeq());
    host.enter('reading');
    host.emit('active', { ...host.progress });
    this.pipeline.start(this.since);
    return { state: 'reading' };
  }

  /** The next page and the documents of it that the target lacks. */
  private async read(): Promise<Step> {
    const page = await this.nextPage();
    if (!page) return { state: 'checkpointing', seq: this.since, then: 'cancelled' };
    if (page.results.length === 0) return this.caughtUp(page.last_seq);
    if (this.host.state() === 'paused') {
      this.host.enter('reading');
      this.host.emit('active', { ...this.host.progress });
    }
    return { state: 'writing', batch: { page, docs: await this.pipeline.docsOf(page) } };
  }

  /** The next page, or undefined once cancelled (a remote peer rejects the read cancel aborted). */
  private async nextPage(): Promise<ChangesResponse | undefined> {
    const stopped = () => this.host.stopSignal.aborted;
    const page = await this.pipeline.nextPage().catch((error: unknown) => {
      if (stopped()) return undefined;
      throw this.interruption ?? error;
    });
    if (this.interruption) throw this.interruption;
    return stopped() ? undefined : page;
  }

  /** Writes a batch; a seq is checkpointed only once its batch is written. */
  private async write(batch: Batch): Promise<Step> {
    // One turn of the event loop lets the requests read ahead leave before a local write holds
    // the thread (and, between two local databases, lets timers and I/O run).
    await yieldToEventLoop();
    await this.writer.write(batch.docs);
    this.advance(batch.page.last_seq, batch.page.pending);
    if (this.schedule!.dueAfterBatch()) {
      return { state: 'checkpointing', seq: this.since, then: 'report', batch };
    }
    return this.report(batch);
  }

  private async checkpoint(step: Extract<Step, { state: 'checkpointing' }>): Promise<Step> {
    if (step.then === 'cancelled') {
      await this.schedule!.final(step.seq);
      return { state: 'cancelled' };
    }
    await this.schedule!.writeNow(step.seq, step.then === 'complete');
    if (step.then === 'report') return this.report(step.batch);
    if (step.then === 'pause') return this.pause();
    return { state: 'complete' };
  }

  private report(batch: Batch): Step {
    this.host.emit('change', { ...this.host.progress, docs: batch.docs });
    // Live, a short page means caught up; the reader is already waiting for the next change.
    if (this.options.live && !this.pipeline.isFull(batch.page)) return this.caughtUp(this.since);
    return { state: 'reading' };
  }

  /** Nothing more to read: checkpoint (live: at most once per interval), then pause or complete. */
  private caughtUp(seq: Seq): Step {
    this.advance(seq, 0);
    if (!this.options.live) return { state: 'checkpointing', seq, then: 'complete' };
    if (!this.schedule!.dueWhenCaughtUp(!this.caughtUpOnce)) {
      this.schedule!.defer(seq);
      return this.pause();
    }
    if (this.host.state() === 'paused') return { state: 'paused', checkpoint: seq };
    return { state: 'checkpointing', seq, then: 'pause' };
  }

  /** Paused: waits for the source's next change (a longpoll), after a checkpoint when due. */
  private async wait(checkpoint: Seq | undefined): Promise<Step> {
    if (checkpoint !== undefined) await this.schedule!.writeNow(checkpoint);
    this.pipeline.listen(this.since);
    return this.read();
  }

  private pause(): Step {
    this.caughtUpOnce = true;
    this.pipeline.skipDeleted = false;
    if (this.host.state() !== 'paused') {
      this.host.enter('paused');
      this.host.emit('paused', { progress: { ...this.host.progress } });
    }
    return { state: 'paused' };
  }

  private advance(seq: Seq, pending: number | undefined): void {
    this.since = seq;
    this.host.progress.last_seq = seq;
    this.host.progress.pending = pending;
  }

  /** Stops the wait for changes: the run throws `error` from its loop and starts over. */
  private interrupt(error: Error): void {
    this.interruption = error;
    this.controller.abort();
  }
}
