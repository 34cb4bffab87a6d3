/**
 * Design functions off the event loop: a few worker threads, each with one sandbox, take
 * batches (validations, maps, reduces, filters) in turn. A function that loops holds a
 * worker, never the server.
 */
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { SetteeError } from '../core/errors.js';
import { DesignPoolClosedError } from './errors.js';
import type { DesignJobs, DesignLog, JobKind, JobMessage, WorkerMessage, WorkerSetup } from './messages.js';
import type {
  DesignRunner,
  FilterRequest,
  MapOutcome,
  MapRequest,
  ReduceOutcome,
  ReduceRequest,
} from './runner.js';
import { DEFAULT_LIMITS, type SandboxLimits } from './sandbox-types.js';
import type { ValidationOutcome, ValidationRequest } from './validation.js';

/** Options of {@link DesignWorkerPool}. */
export interface DesignPoolOptions extends Partial<SandboxLimits> {
  /** Worker threads, each with its own sandbox. Default 1. */
  workers?: number;
  /**
   * How long past `timeoutMs` a worker may go without finishing a compile or call before it
   * is deemed stuck, terminated and replaced. Default 2000 ms.
   */
  stallGraceMs?: number;
  /** Receives the design functions' `log(message)` calls, batch by batch. */
  onLog?: (log: DesignLog) => void;
  /** Log messages kept per batch. Default 1000. */
  maxLogsPerBatch?: number;
  /** Starts a worker thread; tests use it to reach the threads, others to add resource limits. */
  createWorker?: (entry: URL | string, options: WorkerOptions) => Worker;
}

/** The stack budget of a worker's sandbox: deep enough for 2,500 nested calls. */
const WORKER_STACK_BYTES = 512 * 1024;
/** A worker thread's native stack per byte of QuickJS stack (overflow was measured at 8–16). */
const NATIVE_STACK_RATIO = 32;
/** How long a worker may take to load its engine (tsx under tests included). */
const STARTUP_MS = 30_000;

/** A batch of any kind, on its way to a worker or in one. */
interface Job {
  readonly message: JobMessage;
  readonly resolve: (result: DesignJobs[JobKind]['result']) => void;
  /**
   * Answers a batch that could not run: validations are refused, other kinds reject; with
   * `bad_request` when its input was at fault, else `unknown_error`.
   */
  readonly fail: (reason: string, error?: FailureName) => void;
}

/** How a batch that could not run fails: its input's fault, or ours. */
type FailureName = 'bad_request' | 'unknown_error';

/** One worker thread and what it is doing. */
interface Slot {
  readonly worker: Worker;
  readonly progress: Int32Array;
  ready: boolean;
  job?: Job;
  /** The startup timer, then the progress check of the batch in it. */
  watchdog?: NodeJS.Timeout;
  /** Why it was taken out of the pool, once it was. */
  ended?: string;
}

/**
 * Runs `validate_doc_update`, map, reduce and filter batches in worker threads.
 *
 * Each batch is one message each way. Batches queue while every worker is busy. A worker that
 * makes no progress for `timeoutMs + stallGraceMs` (its engine stuck where its own time limit
 * cannot reach) or that dies is terminated and replaced; the items of a validation batch in it
 * are refused with `unknown_error`, a batch of another kind rejects with a `SetteeError`
 * `unknown_error` (an index or a feed must not record a batch that did not run); later batches
 * run on the new worker. Idle workers do not keep the process alive. Workers start as batches
 * need them, up to `workers`.
 *
 * @example
 * const pool = new DesignWorkerPool({ timeoutMs: 1000 });
 * const outcomes = await pool.validate({ functions, items, userCtx, secObj });
 * const rows = await pool.map({ functions: [{ key, source: 'function (doc) { emit(doc.type) }' }], docs });
 * await pool.close();
 */
export class DesignWorkerPool implements DesignRunner {
  private readonly limits: Partial<SandboxLimits>;
  private readonly stallMs: number;
  private readonly slots: (Slot | undefined)[];
  private readonly queue: Job[] = [];
  private readonly options: DesignPoolOptions;
  private nextId = 1;
  private closed = false;

  constructor(options: DesignPoolOptions = {}) {
    const workers = options.workers ?? 1;
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError('workers must be a positive integer');
    this.options = options;
    this.limits = {
      timeoutMs: options.timeoutMs,
      memoryBytes: options.memoryBytes,
      stackBytes: options.stackBytes ?? WORKER_STACK_BYTES,
      maxFunctions: options.maxFunctions,
    };
    this.stallMs = (options.timeoutMs ?? DEFAULT_LIMITS.timeoutMs) + (options.stallGraceMs ?? 2000);
    this.slots = new Array<Slot | undefined>(workers).fill(undefined);
  }

  /**
   * Validates a batch: one outcome per item, in order. Never rejects for what a design
   * function does; rejects with {@link DesignPoolClosedError} after {@link close}.
   */
  validate(request: ValidationRequest): Promise<ValidationOutcome[]> {
    const { items, functions } = request;
    const nothingToRun = items.length === 0 || functions.length === 0 ? items.map(() => ACCEPTED) : undefined;
    return this.enqueue('validate', request, nothingToRun, (reason, error) => refusals(items, reason, error));
  }

  /**
   * Maps every document with every function (see `runMaps`): per document, one outcome per
   * function. Rejects after {@link close}, or when the batch could not run.
   */
  map(request: MapRequest): Promise<MapOutcome[][]> {
    const { docs, functions } = request;
    return this.enqueue(
      'map',
      request,
      docs.length === 0 || functions.length === 0 ? docs.map(() => []) : undefined,
    );
  }

  /** Runs a reduce function once per call (see `runReduces`). Rejects as {@link map} does. */
  reduce(request: ReduceRequest): Promise<ReduceOutcome[]> {
    return this.enqueue('reduce', request, request.calls.length === 0 ? [] : undefined);
  }

  /**
   * Whether each document passes the filter (see `runFilters`); why a function failed on a
   * document goes to `onLog`. Rejects as {@link map} does.
   */
  filter(request: FilterRequest): Promise<boolean[]> {
    return this.enqueue('filter', request, request.docs.length === 0 ? [] : undefined);
  }

  /**
   * Stops every worker. Validation batches not yet answered are refused with `unknown_error`;
   * batches of other kinds reject.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) job.fail('the design worker pool was closed');
    const running = this.slots.flatMap((slot) => (slot ? [slot] : []));
    for (const slot of running) this.discard(slot, 'was closed with the pool');
    await Promise.all(running.map((slot) => slot.worker.terminate()));
  }

  /**
   * Queues a batch, unless the pool is closed or there is `nothingToRun` (the answer then).
   * `refuse` answers a batch that cannot run; without it, the promise rejects.
   */
  private enqueue<K extends JobKind>(
    type: K,
    request: DesignJobs[K]['request'],
    nothingToRun?: DesignJobs[K]['result'],
    refuse?: (reason: string, error: FailureName) => DesignJobs[K]['result'],
  ): Promise<DesignJobs[K]['result']> {
    if (this.closed) return Promise.reject(new DesignPoolClosedError());
    if (nothingToRun) return Promise.resolve(nothingToRun);
    return new Promise((resolve, reject) => {
      const fail = (reason: string, error: FailureName = 'unknown_error'): void =>
        refuse
          ? resolve(refuse(reason, error))
          : reject(new SetteeError(error, `the ${type} batch could not run: ${reason}`));
      const message = { type, id: this.nextId++, request } as JobMessage;
      this.queue.push({ message, resolve: resolve as Job['resolve'], fail });
      this.pump();
    });
  }

  /** Hands queued batches to idle workers, and starts workers for the batches left waiting. */
  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) break;
      if (slot?.ready && !slot.job) this.dispatch(slot, this.queue.shift()!);
    }
    let unserved = this.queue.length - this.slots.filter((slot) => slot && !slot.ready).length;
    for (let index = 0; index < this.slots.length && unserved > 0; index++) {
      if (this.slots[index]) continue;
      this.slots[index] = this.spawn();
      unserved--;
    }
    this.updateRefs();
  }

  private spawn(): Slot {
    const progress = new Int32Array(new SharedArrayBuffer(4));
    const setup: WorkerSetup = {
      limits: this.limits,
      progress: progress.buffer as SharedArrayBuffer,
      maxLogs: this.options.maxLogsPerBatch ?? 1000,
    };
    const { entry, eval: isScript } = workerEntry();
    const stackBytes = this.limits.stackBytes ?? WORKER_STACK_BYTES;
    const options: WorkerOptions = {
      workerData: setup,
      eval: isScript,
      resourceLimits: { stackSizeMb: Math.max(4, Math.ceil((stackBytes * NATIVE_STACK_RATIO) / 2 ** 20)) },
    };
    const worker = (this.options.createWorker ?? ((file, opts) => new Worker(file, opts)))(entry, options);
    const slot: Slot = { worker, progress, ready: false };
    let lastError = '';
    worker.on('message', (message: WorkerMessage) => this.onMessage(slot, message));
    worker.on('error', (error) => (lastError = error.message));
    worker.on('exit', (code) => {
      if (!slot.ended) this.discard(slot, `stopped (${lastError || `exit code ${code}`})`);
    });
    const startup = () => this.discard(slot, `did not start within ${STARTUP_MS} ms`);
    slot.watchdog = setTimeout(startup, STARTUP_MS).unref();
    return slot;
  }

  private dispatch(slot: Slot, job: Job): void {
    try {
      slot.worker.postMessage(job.message);
    } catch (error) {
      // Nested deeper than cloning can walk: the request's documents are (JSON.parse takes any
      // depth), as every other walk of them would find: a 400, as there.
      if (error instanceof RangeError) return job.fail('The JSON is nested too deeply', 'bad_request');
      // Not JSON-like (a function, a symbol): the batch cannot cross to the thread.
      return job.fail(`the batch cannot be sent to a worker: ${(error as Error).message}`);
    }
    slot.job = job;
    this.watch(slot);
  }

  /**
   * Watches the worker's progress counter. It moves after each compile and call, each bounded
   * by `timeoutMs` inside the worker; a counter still for `stallMs` means the engine is stuck
   * where its interrupt cannot reach (a long builtin such as a huge BigInt's toString).
   */
  private watch(slot: Slot): void {
    let seen = Atomics.load(slot.progress, 0);
    let since = performance.now();
    const period = Math.max(25, Math.floor(this.stallMs / 4));
    const check = (): void => {
      const now = Atomics.load(slot.progress, 0);
      if (now !== seen) [seen, since] = [now, performance.now()];
      else if (performance.now() - since >= this.stallMs) {
        return this.discard(slot, `made no progress for ${this.stallMs} ms and was stopped`);
      }
      slot.watchdog = setTimeout(check, period).unref();
    };
    slot.watchdog = setTimeout(check, period).unref();
  }

  private onMessage(slot: Slot, message: WorkerMessage): void {
    if (slot.ended) return;
    if (message.type === 'ready') {
      slot.ready = true;
      this.settle(slot);
      return this.pump();
    }
    const job = slot.job;
    if (!job || job.message.id !== message.id) return;
    this.settle(slot);
    for (const log of message.logs) this.emitLog(log);
    if (message.type === 'answered') job.resolve(message.result);
    else job.fail(`the design worker failed: ${message.message}`);
    if (message.retire) this.discard(slot, 'retired');
    else this.pump();
  }

  /**
   * Takes a worker out of the pool and terminates it: its batch fails with `reason`, and
   * if it never came up (and no other worker is up) the waiting batches too: a worker that
   * cannot start would fail again, so they are answered rather than left to loop; the next
   * `validate` tries anew. Later batches go to a new worker.
   */
  private discard(slot: Slot, reason: string): void {
    if (slot.ended) return;
    slot.ended = reason;
    const index = this.slots.indexOf(slot);
    if (index >= 0) this.slots[index] = undefined;
    const job = slot.job;
    this.settle(slot);
    job?.fail(`the design worker ${reason}`);
    if (!slot.ready && !this.slots.some((other) => other?.ready)) {
      for (const waiting of this.queue.splice(0)) waiting.fail(`the design worker ${reason}`);
    }
    void slot.worker.terminate();
    if (!this.closed) this.pump();
  }

  /** Clears the slot's batch and watchdog. */
  private settle(slot: Slot): void {
    clearTimeout(slot.watchdog);
    slot.watchdog = undefined;
    slot.job = undefined;
  }

  /** A worker keeps the process alive only while a batch is in it or waits for it. */
  private updateRefs(): void {
    for (const slot of this.slots) {
      if (!slot) continue;
      if (slot.job || (!slot.ready && this.queue.length > 0)) slot.worker.ref();
      else slot.worker.unref();
    }
  }

  private emitLog(log: DesignLog): void {
    try {
      this.options.onLog?.(log);
    } catch {
      // A failing logger must not lose the batch's outcomes.
    }
  }
}

const ACCEPTED: ValidationOutcome = Object.freeze({ ok: true });

function refusals(items: readonly unknown[], reason: string, error: FailureName): ValidationOutcome[] {
  const refusal: ValidationOutcome =
    error === 'bad_request'
      ? { ok: false, error, reason }
      : { ok: false, error, reason: `validate_doc_update could not run: ${reason}` };
  return items.map(() => ({ ...refusal }));
}

/**
 * The worker's entry: `worker.js` beside this file in the build. Under TypeScript sources
 * (tests, tsx) a small script registers tsx in the new thread, then imports `worker.ts`:
 * `--import tsx` in a worker's `execArgv` comes too late for its entry module in Node 20.
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (!import.meta.url.endsWith('.ts')) {
    return { entry: new URL('./worker.js', import.meta.url), eval: false };
  }
  const tsx = JSON.stringify(resolveFromHere('tsx/esm/api'));
  const worker = JSON.stringify(new URL('./worker.ts', import.meta.url).href);
  return {
    entry: `import(${tsx}).then((tsx) => { tsx.register(); return import(${worker}); });`,
    eval: true,
  };
}

// Resolved here rather than in the thread, whose evaluated script resolves from the working directory.
function resolveFromHere(specifier: string): string {
  try {
    return import.meta.resolve(specifier);
  } catch {
    return specifier;
  }
}
