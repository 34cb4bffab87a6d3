/**
 * What the pool and its worker threads say to each other (see pool.ts and worker.ts): one
 * message per batch each way, so a `_bulk_docs` of a thousand documents is one round trip.
 */
import type { FilterRequest, MapOutcome, MapRequest, ReduceOutcome, ReduceRequest } from './runner.js';
import type { SandboxLimits } from './sandbox-types.js';
import type { ValidationOutcome, ValidationRequest } from './validation.js';

/** A design function's `log(message)`, with the key of the function that logged it. */
export interface DesignLog {
  key: string;
  message: string;
}

/** The worker's `workerData`. */
export interface WorkerSetup {
  limits: Partial<SandboxLimits>;
  /**
   * One Int32 the worker increments after each compile and call: the pool's watchdog reads it
   * to tell a long batch that progresses from a worker stuck in one call.
   */
  progress: SharedArrayBuffer;
  /** Log messages kept per batch; the rest are counted in one last message. */
  maxLogs: number;
}

/** Each kind of batch a worker runs: what goes in, what comes back. */
export interface DesignJobs {
  validate: { request: ValidationRequest; result: ValidationOutcome[] };
  map: { request: MapRequest; result: MapOutcome[][] };
  reduce: { request: ReduceRequest; result: ReduceOutcome[] };
  filter: { request: FilterRequest; result: boolean[] };
}

export type JobKind = keyof DesignJobs;

/** Pool → worker: one batch of one kind. */
export type JobMessage<K extends JobKind = JobKind> = {
  [Kind in K]: { type: Kind; id: number; request: DesignJobs[Kind]['request'] };
}[K];

/** Worker → pool. */
export type WorkerMessage =
  /** The sandbox is up: the worker takes batches from now on. */
  | { type: 'ready' }
  /** A batch's result, in the order of its inputs. */
  | {
      type: 'answered';
      id: number;
      result: DesignJobs[JobKind]['result'];
      logs: DesignLog[];
      retire: boolean;
    }
  /** A batch the worker could not run (a fault of ours, not of a design function). */
  | { type: 'failed'; id: number; message: string; logs: DesignLog[]; retire: boolean };
