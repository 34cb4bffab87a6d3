/**
 * A design worker thread: one sandbox, batches in, outcomes out (see DesignWorkerPool). It
 * asks to be retired when its engine broke, and the pool starts another.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { JsSandbox } from './engine.js';
import type { DesignJobs, DesignLog, JobKind, JobMessage, WorkerMessage, WorkerSetup } from './messages.js';
import type { FilterRequest } from './runner.js';
import { runValidations, type ValidationSandbox } from './validation.js';
import { runFilters, runMaps, runReduces } from './views.js';

/** The logs of one batch, at most `max` of them: a function logging in a loop cannot flood. */
class LogCollector {
  private entries: DesignLog[] = [];
  private dropped = 0;

  constructor(private readonly max: number) {}

  add(key: string, message: string): void {
    if (this.entries.length < this.max) this.entries.push({ key, message });
    else this.dropped++;
  }

  take(): DesignLog[] {
    const taken = this.entries;
    if (this.dropped > 0) taken.push({ key: '', message: `(${this.dropped} more log messages dropped)` });
    this.entries = [];
    this.dropped = 0;
    return taken;
  }
}

const port = parentPort;
if (!port) throw new Error('worker.ts runs as a worker thread of DesignWorkerPool');
const setup = workerData as WorkerSetup;
const progress = new Int32Array(setup.progress);
const logs = new LogCollector(setup.maxLogs);
const sandbox = await JsSandbox.create({ ...setup.limits, onLog: (message, key) => logs.add(key, message) });

// Every compile and call moves the counter, so the pool's watchdog sees the batch progress.
const ticking: ValidationSandbox = {
  compile: (key, source, modules) => afterwardsTick(() => sandbox.compile(key, source, modules)),
  callJson: (key, argsJson) => afterwardsTick(() => sandbox.callJson(key, argsJson)),
};

/** How each kind of batch runs on the sandbox. */
const handlers: { [K in JobKind]: (request: DesignJobs[K]['request']) => DesignJobs[K]['result'] } = {
  validate: ({ functions, items, userCtx, secObj }) =>
    runValidations(ticking, functions, items, userCtx, secObj),
  map: ({ functions, docs }) => runMaps(ticking, functions, docs),
  reduce: ({ fn, calls }) => runReduces(ticking, fn, calls),
  filter: runFilterBatch,
};

port.on('message', (message: JobMessage) => port.postMessage(answer(message)));
port.postMessage({ type: 'ready' } satisfies WorkerMessage);

function answer<K extends JobKind>({ type, id, request }: JobMessage<K>): WorkerMessage {
  try {
    const result = (handlers[type] as (request: DesignJobs[K]['request']) => DesignJobs[K]['result'])(
      request,
    );
    return { type: 'answered', id, result, logs: logs.take(), retire: sandbox.broken };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { type: 'failed', id, message, logs: logs.take(), retire: true };
  }
}

// A document a filter fails on does not pass; the log says why, as CouchDB logs a map's throw.
function runFilterBatch({ fn, docs, req }: FilterRequest): boolean[] {
  return runFilters(ticking, fn, docs, req, (failure, index) =>
    logs.add(fn.key, `filter failed on doc._id ${String(docs[index]?._id)}: ${failure.message}`),
  );
}

function afterwardsTick<T>(work: () => T): T {
  try {
    return work();
  } finally {
    Atomics.add(progress, 0, 1);
  }
}
