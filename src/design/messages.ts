/**
 * What the pool and its worker threads say to each other (see pool.ts and worker.ts): one
 * message per batch each way, so a `_bulk_docs` of a thousand documents is one round trip.
 */
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

/** Pool → worker. */
export interface ValidateMessage {
  type: 'validate';
  id: number;
  request: ValidationRequest;
}

/** Worker → pool. */
export type WorkerMessage =
  /** The sandbox is up: the worker takes batches from now on. */
  | { type: 'ready' }
  /** A batch's outcomes, in the order of its items. */
  | { type: 'validated'; id: number; outcomes: ValidationOutcome[]; logs: DesignLog[]; retire: boolean }
  /** A batch the worker could not judge (a fault of ours, not of a design function). */
  | { type: 'failed'; id: number; message: string; logs: DesignLog[]; retire: boolean };
