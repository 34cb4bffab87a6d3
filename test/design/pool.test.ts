/**
 * DesignWorkerPool with real worker threads and QuickJS: the verdicts through the worker, one
 * round trip per batch, limits that never reach the server's event loop, and the cache kept
 * across batches. One pool for the file.
 */
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import {
  type DesignLog,
  DesignPoolClosedError,
  DesignWorkerPool,
  type ValidationOutcome,
} from '../../src/design/index.js';
import { fn, NATIVE_HOG, newDocs, request, SEC_OBJ, TYPED, USER_CTX } from './helpers.js';

const MiB = 1024 * 1024;
const logs: DesignLog[] = [];
const pool = new DesignWorkerPool({ timeoutMs: 200, memoryBytes: 16 * MiB, onLog: (log) => logs.push(log) });
afterAll(() => pool.close());

/** Counts event-loop turns while `work` runs: a busy loop would leave the count at zero. */
async function whileCounting<T>(work: Promise<T>): Promise<{ result: T; turns: number }> {
  let turns = 0;
  const timer = setInterval(() => turns++, 5);
  try {
    return { result: await work, turns };
  } finally {
    clearInterval(timer);
  }
}

function reasons(outcomes: ValidationOutcome[]): (string | null)[] {
  return outcomes.map((o) => (o.ok ? null : o.reason));
}

describe('DesignWorkerPool: verdicts', () => {
  it('accepts, forbids, refuses as unauthorized and as unknown_error in one batch', async () => {
    const functions = [
      fn(TYPED),
      fn('function (doc) { if (doc.odd) throw new Error("odd") }', '_design/odd'),
    ];
    const outcomes = await pool.validate(
      request(functions, newDocs({ type: 'a' }, {}, { type: 'a', locked: 1 }, { type: 'a', odd: 1 })),
    );
    expect(outcomes).toEqual([
      { ok: true },
      { ok: false, error: 'forbidden', reason: 'a document needs a type' },
      { ok: false, error: 'unauthorized', reason: 'locked' },
      {
        ok: false,
        error: 'unknown_error',
        reason: expect.stringMatching(/^validate_doc_update in _design\/odd failed: Error: odd/),
      },
    ]);
  });

  it('refuses every document when a function does not compile; other design documents still run', async () => {
    const broken = fn('function (doc) { return doc. }', '_design/broken');
    const outcomes = await pool.validate(request([broken], newDocs({ type: 'a' }, { type: 'b' })));
    expect(reasons(outcomes)).toEqual(
      Array(2).fill(expect.stringContaining('_design/broken does not compile: SyntaxError')),
    );
    expect(await pool.validate(request([fn(TYPED)], newDocs({ type: 'a' })))).toEqual([{ ok: true }]);
  });

  it('passes userCtx, secObj and a null oldDoc as given', async () => {
    const echo = fn(
      'function (newDoc, oldDoc, userCtx, secObj) { throw({forbidden: JSON.stringify([oldDoc, userCtx, secObj])}) }',
    );
    const [outcome] = await pool.validate(request([echo], newDocs({ _id: 'new' })));
    expect(JSON.parse((outcome as { reason: string }).reason)).toEqual([null, USER_CTX, SEC_OBJ]);
  });

  it('keeps the order of a thousand documents in one batch', async () => {
    const items = newDocs(
      ...Array.from({ length: 1000 }, (_, i) => ({ _id: `d${i}`, ...(i % 7 ? { type: 't' } : {}) })),
    );
    const outcomes = await pool.validate(request([fn(TYPED)], items));
    expect(outcomes.map((o) => o.ok)).toEqual(items.map((_, i) => i % 7 !== 0));
  });

  it('answers batches sent together, each with its own outcomes', async () => {
    const typed = fn(TYPED);
    const batches = Array.from({ length: 5 }, (_, i) =>
      newDocs(...Array.from({ length: i + 1 }, () => ({ type: 't' }))),
    );
    const answers = await Promise.all(batches.map((items) => pool.validate(request([typed], items))));
    expect(answers.map((outcomes) => outcomes.length)).toEqual([1, 2, 3, 4, 5]);
  });

  it('refuses a batch that cannot cross to a worker thread, and goes on', async () => {
    const outcomes = await pool.validate(request([fn(TYPED)], newDocs({ type: 'a', notJson: () => 1 })));
    expect(reasons(outcomes)).toEqual([expect.stringContaining('the batch cannot be sent to a worker')]);
    expect(await pool.validate(request([fn(TYPED)], newDocs({ type: 'a' })))).toEqual([{ ok: true }]);
  });

  it('answers without a worker when there is nothing to run', async () => {
    expect(await pool.validate(request([], newDocs({}, {})))).toEqual([{ ok: true }, { ok: true }]);
    expect(await pool.validate(request([fn(TYPED)], []))).toEqual([]);
  });

  it('hands arbitrary JSON documents over unchanged', async () => {
    const echo = fn('function (newDoc) { throw({forbidden: JSON.stringify(newDoc)}) }');
    const docArb = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 });
    await fc.assert(
      fc.asyncProperty(fc.array(docArb, { minLength: 1, maxLength: 20 }), async (docs) => {
        const outcomes = await pool.validate(request([echo], newDocs(...docs)));
        expect(reasons(outcomes)).toEqual(docs.map((doc) => JSON.stringify(doc)));
      }),
      { numRuns: 30 },
    );
  });
});

describe('DesignWorkerPool: limits', () => {
  it('times out a function that loops while the event loop stays free', async () => {
    const loop = fn('function () { while (true) {} }', '_design/loop');
    const { result, turns } = await whileCounting(pool.validate(request([loop], newDocs({}))));
    expect(result).toEqual([
      {
        ok: false,
        error: 'unknown_error',
        reason: 'validate_doc_update in _design/loop timed out after 200 ms',
      },
    ]);
    expect(turns).toBeGreaterThan(0);
    expect(await pool.validate(request([fn(TYPED)], newDocs({ type: 'a' })))).toEqual([{ ok: true }]);
  });

  it('refuses on a memory bomb, and the next batch works', async () => {
    const bomb = fn(
      'function () { var a = []; while (true) a.push(new Array(1e5).fill(0)) }',
      '_design/bomb',
    );
    const outcomes = await pool.validate(request([bomb], newDocs({})));
    expect(reasons(outcomes)).toEqual([
      'validate_doc_update in _design/bomb ran out of memory (limit 16 MiB)',
    ]);
    expect(await pool.validate(request([fn(TYPED)], newDocs({ type: 'a' }, {})))).toMatchObject([
      { ok: true },
      { error: 'forbidden' },
    ]);
  });

  it('gives design code nothing of the host', async () => {
    const probe = fn(`function () {
      var names = Object.getOwnPropertyNames(globalThis);
      var required; try { require('fs') } catch (e) { required = e.message }
      throw [typeof process, typeof Function('return this')().process, names.indexOf('require') >= 0, required];
    }`);
    const [outcome] = await pool.validate(request([probe], newDocs({})));
    expect(JSON.parse((outcome as { reason: string }).reason.replace(/^.*? threw /, ''))).toEqual([
      'undefined',
      'undefined',
      true,
      expect.stringContaining('is not available here'),
    ]);
  });
});

describe('DesignWorkerPool: cache and logs', () => {
  it('compiles a function once across batches', async () => {
    // The source logs when it is evaluated, that is when it compiles.
    const counted = fn('(log("compiled"), function (doc) { log("ran " + doc.n) })');
    for (let n = 0; n < 3; n++) await pool.validate(request([counted], newDocs({ n })));
    const mine = logs.filter((log) => log.key === counted.key).map((log) => log.message);
    expect(mine).toEqual(['compiled', 'ran 0', 'ran 1', 'ran 2']);
  });

  it('keeps at most 1000 log messages per batch', async () => {
    const chatty = fn('function () { for (var i = 0; i < 1500; i++) log("line " + i) }');
    await pool.validate(request([chatty], newDocs({})));
    const mine = logs.filter((log) => log.key === chatty.key);
    expect(mine).toHaveLength(1000);
    expect(logs.at(-1)).toEqual({ key: '', message: '(500 more log messages dropped)' });
  });
});

describe('DesignWorkerPool: views and filters', () => {
  let counter = 0;
  const viewFn = (source: string) => ({ key: `_design/views@1-${++counter}/views/v`, source });

  it('maps a batch: per document, one outcome per function, failures on their document only', async () => {
    const byType = viewFn('function (doc) { if (doc.bad) throw "bad"; emit(doc.type, 1) }');
    const ids = viewFn('function (doc) { emit(doc._id) }');
    const docs = [
      { _id: 'a', type: 'sale' },
      { _id: 'b', bad: true },
      { _id: 'c', type: 'job' },
    ];
    expect(await pool.map({ functions: [byType, ids], docs })).toEqual([
      [
        { ok: true, rows: [['sale', 1]] },
        { ok: true, rows: [['a', null]] },
      ],
      [
        { ok: false, failure: 'thrown', message: 'threw bad' },
        { ok: true, rows: [['b', null]] },
      ],
      [
        { ok: true, rows: [['job', 1]] },
        { ok: true, rows: [['c', null]] },
      ],
    ]);
  });

  it('times out a looping map function on its document only, the event loop free', async () => {
    const loops = viewFn('function (doc) { while (doc.loop) {} emit(doc._id, 1) }');
    const docs = [{ _id: 'a', loop: true }, { _id: 'b' }];
    const { result, turns } = await whileCounting(pool.map({ functions: [loops], docs }));
    expect(result).toEqual([
      [{ ok: false, failure: 'timeout', message: 'timed out after 200 ms' }],
      [{ ok: true, rows: [['b', 1]] }],
    ]);
    expect(turns).toBeGreaterThan(0);
  });

  it('reduces many groups in one batch', async () => {
    const total = viewFn(
      'function (keys, values, rereduce) { return rereduce ? sum(values) : values.length }',
    );
    const outcomes = await pool.reduce({
      fn: total,
      calls: [
        {
          keys: [
            ['a', 'd1'],
            ['a', 'd2'],
          ],
          values: [5, 6],
          rereduce: false,
        },
        { keys: null, values: [2, 3], rereduce: true },
      ],
    });
    expect(outcomes).toEqual([
      { ok: true, value: 2 },
      { ok: true, value: 5 },
    ]);
  });

  it('filters with the request given, and logs why a document failed', async () => {
    const byQuery = viewFn(
      'function (doc, req) { if (doc.bad) throw new Error("bad"); return doc.type === req.query.type }',
    );
    const docs = [
      { _id: 'a', type: 'sale' },
      { _id: 'b', type: 'job' },
      { _id: 'c', bad: true },
    ];
    const passes = await pool.filter({
      fn: byQuery,
      docs,
      req: { query: { type: 'sale' }, userCtx: USER_CTX },
    });
    expect(passes).toEqual([true, false, false]);
    expect(logs.filter((log) => log.key === byQuery.key).map((log) => log.message)).toEqual([
      expect.stringMatching(/^filter failed on doc\._id c: Error: bad/),
    ]);
  });

  it('answers without a worker when there is nothing to run', async () => {
    const ids = viewFn('function (doc) { emit(doc._id) }');
    expect(await pool.map({ functions: [], docs: [{ _id: 'a' }, { _id: 'b' }] })).toEqual([[], []]);
    expect(await pool.map({ functions: [ids], docs: [] })).toEqual([]);
    expect(await pool.reduce({ fn: ids, calls: [] })).toEqual([]);
    expect(await pool.filter({ fn: ids, docs: [], req: {} })).toEqual([]);
  });

  it('rejects a batch that cannot cross to a worker thread, and goes on', async () => {
    const ids = viewFn('function (doc) { emit(doc._id) }');
    await expect(
      pool.map({ functions: [ids], docs: [{ _id: 'a', notJson: () => 1 }] }),
    ).rejects.toMatchObject({
      name: 'unknown_error',
      status: 500,
      message: expect.stringContaining('the map batch could not run: the batch cannot be sent to a worker'),
    });
    expect(await pool.map({ functions: [ids], docs: [{ _id: 'a' }] })).toEqual([
      [{ ok: true, rows: [['a', null]] }],
    ]);
  });
});

describe('DesignWorkerPool: view batches on a worker that fails', () => {
  it('sends one message per batch, rejects the batch of a stuck worker, and runs the next on a new one', async () => {
    const posted: unknown[] = [];
    const own = new DesignWorkerPool({
      timeoutMs: 200,
      stallGraceMs: 300,
      createWorker: (entry, options) => {
        const worker = new Worker(entry, options);
        const post = worker.postMessage.bind(worker);
        worker.postMessage = (message: unknown) => (posted.push(message), post(message));
        return worker;
      },
    });
    try {
      const ids = { key: '_design/own@1-a/views/ids', source: 'function (doc) { emit(doc._id) }' };
      const docs = Array.from({ length: 100 }, (_, i) => ({ _id: `d${i}` }));
      const outcomes = await own.map({ functions: [ids], docs });
      expect(outcomes.map(([outcome]) => outcome)).toEqual(
        docs.map((doc) => ({ ok: true, rows: [[doc._id, null]] })),
      );
      expect(posted).toHaveLength(1);

      const hog = { key: '_design/own@1-a/views/hog', source: NATIVE_HOG };
      await expect(own.map({ functions: [hog], docs: [{ _id: 'x' }] })).rejects.toMatchObject({
        name: 'unknown_error',
        message: expect.stringMatching(/^the map batch could not run: the design worker made no progress/),
      });
      expect(
        await own.filter({ fn: { key: 'f', source: 'function () { return true }' }, docs: [{}], req: {} }),
      ).toEqual([true]);
    } finally {
      await own.close();
    }
  });

  it('rejects view batches after close, and those queued when it closes', async () => {
    const own = new DesignWorkerPool({ timeoutMs: 200 });
    const ids = { key: '_design/own@1-b/views/ids', source: 'function (doc) { emit(doc._id) }' };
    // The expectation is attached before the pool closes, so the rejection is never unhandled.
    const queued = expect(own.map({ functions: [ids], docs: [{ _id: 'a' }] })).rejects.toMatchObject({
      name: 'unknown_error',
      message: 'the map batch could not run: the design worker pool was closed',
    });
    await own.close();
    await queued;
    await expect(
      own.reduce({ fn: ids, calls: [{ keys: null, values: [1], rereduce: true }] }),
    ).rejects.toBeInstanceOf(DesignPoolClosedError);
  });
});
