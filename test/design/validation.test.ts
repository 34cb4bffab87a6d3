/**
 * runValidations on a real sandbox (no worker): CouchDB's verdicts, the order of functions and
 * documents, the arguments as given, the compile cache across batches, and documents arriving
 * in the sandbox unchanged.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JsSandbox,
  runValidations,
  type ValidationFunction,
  type ValidationItem,
} from '../../src/design/index.js';
import { fn, newDocs, SEC_OBJ, TYPED, USER_CTX } from './helpers.js';

let sandbox: JsSandbox;
const logged: string[] = [];

function validate(functions: ValidationFunction[], items: ValidationItem[]) {
  return runValidations(sandbox, functions, items, USER_CTX, SEC_OBJ);
}

beforeAll(async () => {
  sandbox = await JsSandbox.create({ timeoutMs: 200, onLog: (message) => logged.push(message) });
});
afterAll(() => sandbox.dispose());

describe('runValidations: verdicts', () => {
  it('accepts what no function refuses, and maps forbidden and unauthorized', () => {
    const outcomes = validate([fn(TYPED)], newDocs({ type: 'a' }, {}, { type: 'a', locked: true }));
    expect(outcomes).toEqual([
      { ok: true },
      { ok: false, error: 'forbidden', reason: 'a document needs a type' },
      { ok: false, error: 'unauthorized', reason: 'locked' },
    ]);
  });

  it('gives a non-string forbidden message as JSON', () => {
    const outcomes = validate([fn('function () { throw({forbidden: {field: "type"}}) }')], newDocs({}));
    expect(outcomes).toEqual([{ ok: false, error: 'forbidden', reason: '{"field":"type"}' }]);
  });

  it.each([
    ['another object', 'throw({oops: 1})', 'threw {"oops":1}'],
    ['a string', 'throw "no way"', 'threw no way'],
    ['an Error', 'throw new Error("broken")', 'failed: Error: broken (line 1, column'],
    ['a TypeError', 'return newDoc.a.b', "failed: TypeError: cannot read property 'b' of undefined"],
  ])('refuses with unknown_error naming the design document when it throws %s', (_name, body, reason) => {
    const outcomes = validate([fn(`function (newDoc) { ${body} }`, '_design/shop')], newDocs({}));
    expect(outcomes).toEqual([
      {
        ok: false,
        error: 'unknown_error',
        reason: expect.stringContaining(`validate_doc_update in _design/shop ${reason}`),
      },
    ]);
  });

  it('names the design document given, else the one in the key', () => {
    const named = { key: 'anything', source: 'function () { throw 1 }', ddocId: '_design/named' };
    const keyed = { key: '_design/with@sign@3-abc', source: 'function () { throw 1 }' };
    expect(validate([named], newDocs({}))[0]).toMatchObject({
      reason: 'validate_doc_update in _design/named threw 1',
    });
    expect(validate([keyed], newDocs({}))[0]).toMatchObject({
      reason: 'validate_doc_update in _design/with@sign threw 1',
    });
  });
});

describe('runValidations: order', () => {
  it('runs every function in order; the first refusal wins and later ones do not run', () => {
    const first = fn('function (doc) { log("first " + doc._id); if (doc.a) throw({forbidden: "by first"}) }');
    const second = fn('function (doc) { log("second " + doc._id); throw({forbidden: "by second"}) }');
    logged.length = 0;
    const outcomes = validate([first, second], newDocs({ _id: 'x', a: 1 }, { _id: 'y' }));
    expect(outcomes.map((o) => !o.ok && o.reason)).toEqual(['by first', 'by second']);
    expect(logged).toEqual(['first x', 'first y', 'second y']);
  });

  it('keeps the order of many documents', () => {
    const items = newDocs(
      ...Array.from({ length: 500 }, (_, i) => ({ _id: `d${i}`, ...(i % 3 ? { type: 't' } : {}) })),
    );
    const outcomes = validate([fn(TYPED)], items);
    expect(outcomes.map((o) => o.ok)).toEqual(items.map((_, i) => i % 3 !== 0));
  });

  it('accepts everything when there is no function', () => {
    expect(validate([], newDocs({}, {}))).toEqual([{ ok: true }, { ok: true }]);
  });
});

describe('runValidations: failures', () => {
  it('refuses every document when a function does not compile, after the ones before it', () => {
    const broken = fn('function (doc) { if (doc.x { }', '_design/broken');
    const before = sandbox.stats.compilations;
    const outcomes = validate([fn(TYPED), broken], newDocs({}, { type: 'a' }, { type: 'b' }));
    expect(outcomes[0]).toMatchObject({ error: 'forbidden' });
    for (const outcome of outcomes.slice(1)) {
      expect(outcome).toMatchObject({
        ok: false,
        error: 'unknown_error',
        reason: expect.stringMatching(
          /^validate_doc_update in _design\/broken does not compile: SyntaxError/,
        ),
      });
    }
    expect(sandbox.stats.compilations - before).toBe(2); // once each per batch, not per document
    expect(validate([fn(TYPED)], newDocs({ type: 'a' }))).toEqual([{ ok: true }]);
  });

  it('refuses on a timeout, and runs a looping function once per batch', () => {
    const loop = fn('function () { while (true) {} }', '_design/loop');
    const calls = sandbox.stats.calls;
    const outcomes = validate([loop], newDocs({}, {}, {}));
    expect(outcomes[0]).toEqual({
      ok: false,
      error: 'unknown_error',
      reason: 'validate_doc_update in _design/loop timed out after 200 ms',
    });
    expect(outcomes[2]).toMatchObject({
      reason: expect.stringContaining('timed out after 200 ms (on an earlier'),
    });
    expect(sandbox.stats.calls - calls).toBe(1);
  });

  it('refuses on running out of memory, once per batch', async () => {
    const small = await JsSandbox.create({ memoryBytes: 8 * 1024 * 1024 });
    try {
      const bomb = fn(
        'function () { var a = []; while (true) a.push(new Array(1e5).fill(0)) }',
        '_design/bomb',
      );
      const outcomes = runValidations(small, [bomb], newDocs({}, {}), USER_CTX, SEC_OBJ);
      expect(outcomes.map((o) => !o.ok && o.reason)).toEqual([
        'validate_doc_update in _design/bomb ran out of memory (limit 8 MiB)',
        'validate_doc_update in _design/bomb ran out of memory (limit 8 MiB) (on an earlier document of this batch)',
      ]);
      expect(small.stats).toMatchObject({ calls: 1, resets: 1 });
      expect(runValidations(small, [fn(TYPED)], newDocs({ type: 'a' }), USER_CTX, SEC_OBJ)).toEqual([
        { ok: true },
      ]);
    } finally {
      small.dispose();
    }
  });

  it('refuses a document too deeply nested to hand over, and judges the others', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const outcomes = validate([fn(TYPED)], newDocs({ type: 'a', deep }, { type: 'b' }));
    expect(outcomes).toEqual([
      {
        ok: false,
        error: 'unknown_error',
        reason: expect.stringContaining('cannot be passed to validate_doc_update'),
      },
      { ok: true },
    ]);
  });
});

describe('runValidations: arguments and cache', () => {
  it('passes newDoc, oldDoc (null for a new document), userCtx and secObj as given', () => {
    const echo = fn(
      'function (newDoc, oldDoc, userCtx, secObj) { throw({forbidden: JSON.stringify([newDoc, oldDoc, userCtx, secObj])}) }',
    );
    const items: ValidationItem[] = [
      { newDoc: { _id: 'a', v: 1 }, oldDoc: null },
      { newDoc: { _id: 'b', _rev: '2-x', v: 2 }, oldDoc: { _id: 'b', _rev: '1-y', v: 1 } },
    ];
    const reasons = validate([echo], items).map((o) => (o.ok ? null : JSON.parse(o.reason)));
    expect(reasons).toEqual(items.map((item) => [item.newDoc, item.oldDoc, USER_CTX, SEC_OBJ]));
  });

  it('compiles a function once across batches', () => {
    const typed = fn(TYPED);
    const before = sandbox.stats.compilations;
    for (let batch = 0; batch < 3; batch++) validate([typed], newDocs({ type: 'a' }, {}));
    expect(sandbox.stats.compilations - before).toBe(1);
  });

  it('hands arbitrary JSON documents over unchanged', () => {
    const echo = fn('function (newDoc) { throw({forbidden: JSON.stringify(newDoc)}) }');
    const docArb = fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 4 }), { maxKeys: 8 });
    fc.assert(
      fc.property(fc.array(docArb, { minLength: 1, maxLength: 5 }), (docs) => {
        const outcomes = validate([echo], newDocs(...docs));
        expect(outcomes.map((o) => (o.ok ? null : o.reason))).toEqual(docs.map((doc) => JSON.stringify(doc)));
      }),
      { numRuns: 200 },
    );
  });
});
