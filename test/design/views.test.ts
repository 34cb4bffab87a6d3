/**
 * runMaps, runReduce(s) and runFilters on a real sandbox (no worker): what CouchDB's JavaScript
 * query server answers, a failure on one document that skips only that document, the limits
 * per document and per batch, and documents that one call cannot change for another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DesignFailure,
  JsSandbox,
  MAX_LIMIT_FAILURES_PER_BATCH,
  type MapFunction,
  runFilters,
  runMaps,
  runReduce,
  runReduces,
} from '../../src/design/index.js';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 100;
let sandbox: JsSandbox;
const logged: { message: string; key: string }[] = [];

beforeAll(async () => {
  sandbox = await JsSandbox.create({
    timeoutMs: TIMEOUT_MS,
    memoryBytes: 16 * MiB,
    onLog: (message, key) => logged.push({ message, key }),
  });
});
afterAll(() => sandbox.dispose());

let counter = 0;
/** A design function under a fresh key, as the view engine names them. */
function view(source: string, name = `v${++counter}`): MapFunction {
  return { key: `_design/app@1-${++counter}/views/${name}`, source };
}

const rows = (...emitted: [unknown, unknown][]) => ({ ok: true, rows: emitted });
const failed = (failure: DesignFailure['failure'], message: string | RegExp = /./) => ({
  ok: false,
  failure,
  message: typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
});

describe('runMaps: rows', () => {
  it('answers, per document, the rows of each function in order', () => {
    const byType = view(
      'function (doc) { if (doc.type) { emit(doc.type, 1); emit([doc.type, doc._id], null) } }',
    );
    const ids = view('function (doc) { emit(doc._id) }');
    const outcomes = runMaps(sandbox, [byType, ids], [{ _id: 'a', type: 'sale' }, { _id: 'b' }]);
    expect(outcomes).toEqual([
      [rows(['sale', 1], [['sale', 'a'], null]), rows(['a', null])],
      [rows(), rows(['b', null])],
    ]);
  });

  it('emits every JSON type, and undefined as null', () => {
    // CouchDB's query server serializes the rows with JSON.stringify (share/server/views.js,
    // mapDoc: Couch.toJSON(map_results)): undefined and NaN in a row become null, an undefined
    // property is dropped.
    const all = view(`function (doc) {
      emit(null, true); emit(false, 0); emit(-1.5e300, 'text'); emit([1, [2]], { a: { b: [] } });
      emit(undefined); emit('k'); emit('u', undefined); emit(NaN, { gone: undefined, kept: 1 });
      emit(doc.missing, function () {});
    }`);
    const [outcome] = runMaps(sandbox, [all], [{ _id: 'a' }])[0]!;
    expect(outcome).toEqual(
      rows(
        [null, true],
        [false, 0],
        [-1.5e300, 'text'],
        [[1, [2]], { a: { b: [] } }],
        [null, null],
        ['k', null],
        ['u', null],
        [null, { kept: 1 }],
        [null, null],
      ),
    );
  });

  it('gives map functions log, sum, isArray and toJSON, and a require that refuses without modules', () => {
    const globals = view(`function (doc) {
      log('mapping ' + doc._id);
      var required; try { require('views/lib/x') } catch (e) { required = e.message }
      emit(sum([1, 2, 3]), [isArray(doc.list), isArray(doc), toJSON(doc.list), required]);
    }`);
    const [outcome] = runMaps(sandbox, [globals], [{ _id: 'g', list: [1] }])[0]!;
    expect(outcome).toEqual(
      rows([6, [true, false, '[1]', expect.stringContaining('is not available here')]]),
    );
    expect(logged).toContainEqual({ message: 'mapping g', key: globals.key });
  });

  it('answers nothing for an empty batch, and empty rows without functions', () => {
    expect(runMaps(sandbox, [view('function (doc) { emit(1) }')], [])).toEqual([]);
    expect(runMaps(sandbox, [], [{ _id: 'a' }])).toEqual([[]]);
  });
});

describe('runMaps: failures skip one document for one function', () => {
  it('skips the document a function throws on, losing what it emitted first', () => {
    // views.js mapDoc: a throw logs and answers [] for that function and document; the other
    // functions and the next documents run.
    const picky = view('function (doc) { emit(doc._id, 1); if (doc.bad) throw({reason: "bad"}); }');
    const typed = view('function (doc) { emit(doc._id, 2); if (doc.bad === 2) doc.missing.field }');
    const outcomes = runMaps(
      sandbox,
      [picky, typed],
      [{ _id: 'a', bad: 2 }, { _id: 'b', bad: 1 }, { _id: 'c' }],
    );
    expect(outcomes).toEqual([
      [
        failed('thrown', 'threw {"reason":"bad"}'),
        failed('error', "TypeError: cannot read property 'field'"),
      ],
      [failed('thrown', 'threw {"reason":"bad"}'), rows(['b', 2])],
      [rows(['c', 1]), rows(['c', 2])],
    ]);
  });

  it('times out a document that loops, and maps the next one', () => {
    const loops = view('function (doc) { while (doc.loop) {} emit(doc._id, null) }');
    const outcomes = runMaps(sandbox, [loops], [{ _id: 'a', loop: true }, { _id: 'b' }]);
    expect(outcomes).toEqual([[failed('timeout', `timed out after ${TIMEOUT_MS} ms`)], [rows(['b', null])]]);
  });

  it(`stops running a function after ${MAX_LIMIT_FAILURES_PER_BATCH} limit failures in a batch`, () => {
    const forever = view('function (doc) { log("ran on " + doc._id); while (true) {} }');
    const ids = view('function (doc) { emit(doc._id, null) }');
    const docs = Array.from({ length: MAX_LIMIT_FAILURES_PER_BATCH + 2 }, (_, i) => ({ _id: `d${i}` }));
    const ranOn = () => logged.filter(({ key }) => key === forever.key).map(({ message }) => message);
    const outcomes = runMaps(sandbox, [forever, ids], docs);
    expect(outcomes.map(([first]) => first!.ok || first!.failure)).toEqual([
      ...Array<string>(MAX_LIMIT_FAILURES_PER_BATCH).fill('timeout'),
      'not_run',
      'not_run',
    ]);
    expect(outcomes.map(([, second]) => second)).toEqual(docs.map((doc) => rows([doc._id, null])));
    // Not run, not merely answered so: it logs as it starts, and did for the first documents only.
    const limited = docs.slice(0, MAX_LIMIT_FAILURES_PER_BATCH);
    expect(ranOn()).toEqual(limited.map((doc) => `ran on ${doc._id}`));
    // The count is per batch: the next batch runs the function again.
    expect(runMaps(sandbox, [forever], [{ _id: 'again' }])).toEqual([[failed('timeout')]]);
    expect(ranOn()).toEqual([...limited, { _id: 'again' }].map((doc) => `ran on ${doc._id}`));
  });

  it('fails the document that exhausts memory, and maps the next one', () => {
    const hog = view(
      'function (doc) { var a = []; while (doc.hog) a.push(new Array(1e5).fill(0)); emit(doc._id, 1) }',
    );
    const outcomes = runMaps(sandbox, [hog], [{ _id: 'a', hog: true }, { _id: 'b' }]);
    expect(outcomes).toEqual([[failed('memory', 'ran out of memory (limit 16 MiB)')], [rows(['b', 1])]]);
  });

  it('fails every document for a function that does not compile, not for the others', () => {
    const broken = view('function (doc) { emit(doc._id }');
    const notAFunction = view('"just a string"');
    const ids = view('function (doc) { emit(doc._id, null) }');
    const outcomes = runMaps(sandbox, [broken, notAFunction, ids], [{ _id: 'a' }, { _id: 'b' }]);
    expect(outcomes).toEqual(
      ['a', 'b'].map((id) => [
        failed('compile', `${broken.key} does not compile: SyntaxError`),
        failed('compile', 'does not evaluate to a function'),
        rows([id, null]),
      ]),
    );
  });

  it('fails the document whose rows are not JSON', () => {
    const bigint = view('function (doc) { emit(doc._id, doc.big ? 1n : 1) }');
    const outcomes = runMaps(sandbox, [bigint], [{ _id: 'a', big: true }, { _id: 'b' }]);
    expect(outcomes).toEqual([[failed('error', 'not JSON')], [rows(['b', 1])]]);
  });

  it('refuses an answer that is not rows, from a source that escapes its wrapper', () => {
    const escaping = view("function (doc) {}); return function () { return 'not rows' }; (0");
    expect(runMaps(sandbox, [escaping], [{ _id: 'a' }])).toEqual([[failed('error', 'other than rows')]]);
  });
});

describe('runMaps: documents are isolated', () => {
  it('freezes each document: writes are lost, and no other call sees them', () => {
    // CouchDB's QuickJS query server freezes the document before mapping it
    // (share/server/dispatch-quickjs.js seal → Object.freeze, util.js recursivelySeal).
    const writer = view(`function (doc) {
      doc.name = 'changed'; delete doc.list; doc.nested.deep = 'changed';
      emit(doc.name, [doc.nested.deep, doc.list.length]);
      doc.list.push(4);
    }`);
    const strict = view('function (doc) { "use strict"; doc.name = "changed" }');
    const reader = view('function (doc) { emit(doc.name, [doc.nested.deep, doc.list.length]) }');
    const docs = [0, 1].map((n) => ({ _id: `d${n}`, name: `n${n}`, list: [1, 2, 3], nested: { deep: n } }));
    const outcomes = runMaps(sandbox, [writer, strict, reader], docs);
    expect(outcomes).toEqual(
      docs.map((doc) => [
        failed('error', 'TypeError'), // the push, after the sloppy writes were silently dropped
        failed('error', 'TypeError'),
        rows([doc.name, [doc.nested.deep, 3]]),
      ]),
    );
    expect(docs[0]).toEqual({ _id: 'd0', name: 'n0', list: [1, 2, 3], nested: { deep: 0 } });
  });

  it('hands each call a document of its own even when a function keeps the previous one', () => {
    const keeper = view(`function (doc) {
      var previous = globalThis.kept; globalThis.kept = doc;
      emit(doc._id, previous ? [previous._id, Object.isFrozen(previous), previous === doc] : null);
    }`);
    const outcomes = runMaps(sandbox, [keeper], [{ _id: 'a' }, { _id: 'b' }]);
    expect(outcomes).toEqual([[rows(['a', null])], [rows(['b', ['a', true, false]])]]);
  });
});

describe('runReduce', () => {
  const total = view('function (keys, values, rereduce) { return sum(values) }', 'total');

  it('reduces with keys, then rereduces with null keys', () => {
    const echo = view('function (keys, values, rereduce) { return [keys, values, rereduce] }');
    const keys: [unknown, string][] = [
      [['a', 1], 'doc1'],
      [null, 'doc2'],
    ];
    expect(runReduce(sandbox, echo, keys, [1, { v: 2 }], false)).toEqual({
      ok: true,
      value: [keys, [1, { v: 2 }], false],
    });
    expect(runReduce(sandbox, echo, null, [3, 4], true)).toEqual({ ok: true, value: [null, [3, 4], true] });
    expect(runReduce(sandbox, total, null, [3, 4], true)).toEqual({ ok: true, value: 7 });
  });

  it('answers many groups in one call, a failure in one group only', () => {
    const picky = view(
      'function (keys, values) { if (values.length > 2) throw "too many"; return sum(values) }',
    );
    const outcomes = runReduces(sandbox, picky, [
      { keys: [['k', 'a']], values: [1], rereduce: false },
      { keys: null, values: [1, 2, 3], rereduce: true },
      { keys: null, values: [5, 6], rereduce: true },
    ]);
    expect(outcomes).toEqual([
      { ok: true, value: 1 },
      failed('thrown', 'threw too many'),
      { ok: true, value: 11 },
    ]);
  });

  it('answers null for a reduce that returns nothing, as CouchDB serializes [undefined]', () => {
    // views.js runReduce: the reductions array goes through JSON.stringify, undefined → null.
    const nothing = view('function () {}');
    expect(runReduce(sandbox, nothing, null, [1], true)).toEqual({ ok: true, value: null });
  });

  it('fails every call of a reduce that does not compile, and times out a loop', () => {
    const broken = view('function (keys, values) { return values.length');
    const calls = [1, 2].map((n) => ({ keys: null, values: [n], rereduce: true }));
    expect(runReduces(sandbox, broken, calls)).toEqual([failed('compile'), failed('compile')]);
    const loop = view('function () { for (;;) {} }');
    expect(runReduces(sandbox, loop, calls)).toEqual([failed('timeout'), failed('timeout')]);
  });
});

describe('runFilters', () => {
  const filter = (source: string) => view(source, 'filter');

  it('passes the documents for which the function answers a truthy value', () => {
    const truthiness = filter('function (doc) { return doc.answer }');
    const answers = [true, 1, 'yes', {}, [], false, 0, '', null];
    const docs = answers.map((answer) => ({ answer }));
    expect(runFilters(sandbox, truthiness, [...docs, {}], {})).toEqual([
      ...answers.map(Boolean),
      false, // undefined
    ]);
    const fnValue = filter('function () { return function () {} }');
    expect(runFilters(sandbox, fnValue, [{}], {})).toEqual([true]);
  });

  it('hands the request over as given', () => {
    const byQuery = filter(
      'function (doc, req) { return doc.type === req.query.type && req.userCtx.roles.indexOf("clerk") >= 0 }',
    );
    const req = { query: { type: 'sale' }, userCtx: { db: 'shop', name: 'ann', roles: ['clerk'] }, info: {} };
    expect(runFilters(sandbox, byQuery, [{ type: 'sale' }, { type: 'job' }], req)).toEqual([true, false]);
    const noClerk = { ...req, userCtx: { ...req.userCtx, roles: [] } };
    expect(runFilters(sandbox, byQuery, [{ type: 'sale' }], noClerk)).toEqual([false]);
  });

  it('lets no document pass on which the function throws, and says why', () => {
    const thrower = filter('function (doc) { if (doc.bad) throw new Error("bad doc"); return true }');
    const failures: [DesignFailure, number][] = [];
    const passes = runFilters(sandbox, thrower, [{}, { bad: 1 }, {}], {}, (failure, index) =>
      failures.push([failure, index]),
    );
    expect(passes).toEqual([true, false, true]);
    expect(failures).toEqual([[failed('error', 'Error: bad doc'), 1]]);
  });

  it('lets nothing pass through a filter that does not compile', () => {
    const broken = filter('function (doc) { return doc. }');
    expect(runFilters(sandbox, broken, [{}, {}], {})).toEqual([false, false]);
  });
});
