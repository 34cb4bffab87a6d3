/**
 * DesignWorkerPool's life: a worker that cannot start, two workers side by side, closing, and
 * idle workers that must not keep the process alive. Each test has a pool of its own, so they
 * run concurrently.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { DesignPoolClosedError, DesignWorkerPool, type ValidationOutcome } from '../../src/design/index.js';
import { fn, newDocs, request, TYPED } from './helpers.js';

const typedBatch = () => request([fn(TYPED)], newDocs({ type: 'a' }, {}));

function unknownErrors(outcomes: ValidationOutcome[], reason: RegExp): void {
  for (const outcome of outcomes)
    expect(outcome).toMatchObject({
      ok: false,
      error: 'unknown_error',
      reason: expect.stringMatching(reason),
    });
}

describe.concurrent('DesignWorkerPool: life', () => {
  it('answers the waiting batches when a worker cannot start, instead of hanging', async () => {
    const broken = new DesignWorkerPool({
      createWorker: (_entry, options) =>
        new Worker('throw new Error("no engine")', { ...options, eval: true }),
    });
    try {
      unknownErrors(await broken.validate(typedBatch()), /the design worker stopped \(no engine\)$/);
    } finally {
      await broken.close();
    }
  });

  it('runs batches side by side on two workers, and refuses the running ones at close', async () => {
    const two = new DesignWorkerPool({ workers: 2, timeoutMs: 10_000 });
    let slowDone = false;
    const slow = two.validate(request([fn('function () { while (true) {} }')], newDocs({})));
    void slow.then(() => (slowDone = true));
    expect(await two.validate(typedBatch())).toMatchObject([{ ok: true }, { error: 'forbidden' }]);
    expect(slowDone).toBe(false);
    await two.close();
    unknownErrors(await slow, /closed/);
    await expect(two.validate(typedBatch())).rejects.toBeInstanceOf(DesignPoolClosedError);
  });

  it('does not keep the process alive once idle, without close()', async () => {
    const poolUrl = new URL('../../src/design/index.ts', import.meta.url).href;
    const script = `
      const { DesignWorkerPool } = await import(${JSON.stringify(poolUrl)});
      const pool = new DesignWorkerPool();
      const outcomes = await pool.validate({
        functions: [{ key: 'a@1', source: 'function (doc) { if (!doc.ok) throw({forbidden: "no"}) }' }],
        items: [{ newDoc: { ok: true }, oldDoc: null }, { newDoc: {}, oldDoc: null }],
        userCtx: { db: 'd', name: null, roles: [] }, secObj: {},
      });
      console.log(JSON.stringify(outcomes));`;
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      {
        cwd,
        timeout: 20_000,
      },
    );
    expect(JSON.parse(stdout)).toEqual([{ ok: true }, { ok: false, error: 'forbidden', reason: 'no' }]);
  });
});
