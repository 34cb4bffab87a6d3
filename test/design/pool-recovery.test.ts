/**
 * DesignWorkerPool recovering from its workers' faults: a worker stuck in a builtin where its
 * own time limit cannot reach, and a worker killed mid-batch or while idle. One pool, whose
 * threads the tests reach through `createWorker`.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { DesignWorkerPool, type ValidationOutcome } from '../../src/design/index.js';
import { fn, NATIVE_HOG, newDocs, request, TYPED } from './helpers.js';

const typedBatch = () => request([fn(TYPED)], newDocs({ type: 'a' }, {}));
const TYPED_OUTCOMES = [{ ok: true }, { ok: false, error: 'forbidden', reason: 'a document needs a type' }];

function unknownErrors(outcomes: ValidationOutcome[], reason: RegExp): void {
  for (const outcome of outcomes) {
    expect(outcome).toMatchObject({
      ok: false,
      error: 'unknown_error',
      reason: expect.stringMatching(reason),
    });
  }
}

/** A pool whose workers are kept in `spawned`; `killOnNextBatch` terminates one as it is handed a batch. */
function observedPool(options: ConstructorParameters<typeof DesignWorkerPool>[0]) {
  const spawned: Worker[] = [];
  const control = { killOnNextBatch: false };
  const pool = new DesignWorkerPool({
    ...options,
    createWorker: (entry, workerOptions) => {
      const worker = new Worker(entry, workerOptions);
      const post = worker.postMessage.bind(worker);
      worker.postMessage = (message: unknown) => {
        post(message);
        if (control.killOnNextBatch) {
          control.killOnNextBatch = false;
          void worker.terminate();
        }
      };
      spawned.push(worker);
      return worker;
    },
  });
  return { pool, spawned, control };
}

describe('DesignWorkerPool: recovery', () => {
  const { pool, spawned, control } = observedPool({ timeoutMs: 200, stallGraceMs: 300 });
  afterAll(() => pool.close());

  it('stops a worker stuck in a builtin past its time limit, with the event loop free meanwhile', async () => {
    let turns = 0;
    const timer = setInterval(() => turns++, 5);
    const outcomes = await pool.validate(request([fn(NATIVE_HOG)], newDocs({})));
    clearInterval(timer);
    unknownErrors(outcomes, /the design worker made no progress for 500 ms and was stopped$/);
    expect(turns).toBeGreaterThan(0);
    expect(await pool.validate(typedBatch())).toEqual(TYPED_OUTCOMES);
  });

  it('refuses the batch of a worker killed mid-batch, then runs the next on a new worker', async () => {
    const victim = spawned.at(-1);
    control.killOnNextBatch = true;
    const outcomes = await pool.validate(request([fn(NATIVE_HOG)], newDocs({}, {})));
    unknownErrors(outcomes, /^validate_doc_update could not run: the design worker stopped \(exit code 1\)$/);
    expect(await pool.validate(typedBatch())).toEqual(TYPED_OUTCOMES);
    expect(spawned.at(-1)).not.toBe(victim);
  });

  it('replaces a worker that died while idle', async () => {
    await spawned.at(-1)!.terminate();
    expect(await pool.validate(typedBatch())).toEqual(TYPED_OUTCOMES);
  });
});
