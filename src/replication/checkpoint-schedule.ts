import type { Seq } from '../core/api.js';
import type { Checkpointer } from './checkpointer.js';
import type { InstanceWatch } from './instance-watch.js';
import { CheckpointLostError, PeerRecreatedError } from './start-over.js';

/** What the schedule tells the replication about. */
export interface ScheduleHooks {
  /** A checkpoint was written: a run restarted after a failure resumes from it. */
  written(): void;
  /** A deferred checkpoint found that the run must start over (a peer lost its log). */
  interrupted(error: Error): void;
}

/**
 * When a replication writes its checkpoints: after a batch once the interval since the last one
 * is over, as CouchDB's replicator checkpoints on a timer (`checkpoint_interval`, 30 s there:
 * couch_replicator_scheduler_job.erl, DEFAULT_CHECKPOINT_INTERVAL), so that a run stopped anywhere
 * re-reads at most an interval's batches, and a batch costs no checkpoint writes of its own (two
 * requests, one to each peer). One-shot: also when it completes. Live: at once the first time it
 * catches up, and otherwise on a timer once idle for the rest of the interval. An interval of 0
 * checkpoints after every batch. Before a checkpoint it checks that neither peer was re-created,
 * which would make the checkpoint a lie.
 */
export class CheckpointSchedule {
  private lastWrite = Date.now();
  private deferred: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly checkpointer: Checkpointer,
    private readonly instances: InstanceWatch,
    private readonly live: boolean,
    private readonly intervalMs: number,
    private readonly hooks: ScheduleHooks,
  ) {}

  /** Whether a checkpoint is due once a batch is written. */
  dueAfterBatch(): boolean {
    return this.intervalOver();
  }

  /** Whether a checkpoint is due now that the run caught up (`firstTime`: it had not before). */
  dueWhenCaughtUp(firstTime: boolean): boolean {
    return !this.live || firstTime || this.intervalOver();
  }

  /**
   * Writes a checkpoint at `seq` now, replacing any deferred one. The peers are checked when the
   * interval is over, or always when it is a completing run's `last` checkpoint: a run shorter
   * than the interval would otherwise never notice a target re-created under it, and would call
   * complete a target that lacks what went into the old one.
   */
  async writeNow(seq: Seq, last = false): Promise<void> {
    this.cancelDeferred();
    await this.instances.check(last);
    await this.write(seq);
    this.lastWrite = Date.now();
  }

  /**
   * Writes a checkpoint at `seq` when the interval since the last one is over, unless another
   * is written or deferred first. A failure that means the run must start over interrupts it
   * (through the hooks); any other is harmless, as the next checkpoint covers the same ground.
   */
  defer(seq: Seq): void {
    this.cancelDeferred();
    const write = async () => {
      this.lastWrite = Date.now();
      await this.instances.check(true);
      await this.write(seq);
    };
    this.deferred = setTimeout(
      () => {
        this.deferred = undefined;
        write().catch((error: unknown) => {
          if (error instanceof CheckpointLostError || error instanceof PeerRecreatedError)
            this.hooks.interrupted(error);
        });
      },
      Math.max(0, this.lastWrite + this.intervalMs - Date.now()),
    );
  }

  /** The last checkpoint of a cancelled run: what it finished (the peers are not checked again). */
  async final(seq: Seq): Promise<void> {
    this.cancelDeferred();
    await this.write(seq);
  }

  cancelDeferred(): void {
    clearTimeout(this.deferred);
    this.deferred = undefined;
  }

  private intervalOver(): boolean {
    return Date.now() - this.lastWrite >= this.intervalMs;
  }

  private async write(seq: Seq): Promise<void> {
    await this.checkpointer.write(seq);
    this.hooks.written();
  }
}
