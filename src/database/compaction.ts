import { yieldToEventLoop } from '../core/yield.js';
import type { Storage } from '../storage/types.js';
import type { SerialQueue } from './notifier.js';

/** How `Database.compact` runs. */
export interface CompactOptions {
  /**
   * Stops the compaction under way between two of its steps (what was done stays done);
   * `compact()` then rejects with the signal's reason.
   */
  signal?: AbortSignal;
  /** Called after each step with the progress, from 0 to 100. */
  onProgress?: (progress: number) => void;
}

/** A compaction under way, as `Database.compactionStatus()` reports it. */
export interface CompactionStatus {
  /** From 0 to 100. */
  progress: number;
  /** When it started, in milliseconds since the epoch. */
  startedOn: number;
  /** When a step last finished, in milliseconds since the epoch. */
  updatedOn: number;
}

/** One run: its status, who follows its progress, and why it should stop (if it should). */
interface Run {
  status: CompactionStatus;
  listeners: Set<(progress: number) => void>;
  stop?: { quietly: true } | { quietly: false; reason: unknown };
  done: Promise<void>;
}

/**
 * Runs a database's compaction, one storage step per turn of the write queue, yielding to the
 * event loop between steps: reads, writes and live feeds go on while it runs, and a write never
 * meets a half-done step. One compaction at a time: asking while one runs joins it.
 */
export class Compactor {
  private run: Run | undefined;

  constructor(
    private readonly storage: Storage,
    private readonly writes: SerialQueue,
    /** Runs in the write-queue turn of each step: what the step changed must not be cached. */
    private readonly afterStep: () => void,
  ) {}

  /** The compaction under way, if any. */
  get status(): CompactionStatus | undefined {
    return this.run && { ...this.run.status };
  }

  /** Compacts, or joins the compaction under way; resolves once it is complete. */
  compact(options: CompactOptions = {}): Promise<void> {
    const run = this.run ?? this.start();
    const { onProgress, signal } = options;
    if (onProgress) run.listeners.add(onProgress);
    if (signal) {
      const abort = () => (run.stop ??= { quietly: false, reason: signal.reason });
      if (signal.aborted) abort();
      else signal.addEventListener('abort', abort, { once: true });
    }
    return run.done;
  }

  /** Ends the compaction under way after its current step, quietly (the database is closing). */
  async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.stop ??= { quietly: true };
    await run.done.catch(() => undefined);
  }

  private start(): Run {
    const now = Date.now();
    const run: Run = {
      status: { progress: 0, startedOn: now, updatedOn: now },
      listeners: new Set(),
      done: Promise.resolve(),
    };
    this.run = run;
    run.done = this.steps(run).finally(() => {
      this.run = undefined;
    });
    return run;
  }

  private async steps(run: Run): Promise<void> {
    const steps = this.storage.compaction();
    for (;;) {
      if (run.stop?.quietly) return;
      if (run.stop) throw run.stop.reason;
      const more = await this.writes.run(async () => {
        const result = await steps.step();
        this.afterStep();
        return result;
      });
      run.status.progress = Math.floor(steps.progress * 100);
      run.status.updatedOn = Date.now();
      for (const listener of run.listeners) listener(run.status.progress);
      if (!more) return;
      await yieldToEventLoop();
    }
  }
}
