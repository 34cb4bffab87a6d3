/**
 * CommonJS modules of design documents on a real sandbox (no worker), as CouchDB's query server
 * loads them (share/server/util.js, resolveModule and the require of Couch.compileFunction):
 * paths through the design document, relative ids, the cache per function, cycles, CouchDB's
 * errors, and modules held to the limits of the function that requires them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type DesignModules,
  JsSandbox,
  mapModules,
  runFilters,
  runMaps,
  runReduce,
  runValidations,
  type ValidationOutcome,
} from '../../src/design/index.js';
import { newDocs, SEC_OBJ, USER_CTX } from './helpers.js';

const MiB = 1024 * 1024;
const TIMEOUT_MS = 200;
let sandbox: JsSandbox;

beforeAll(async () => {
  sandbox = await JsSandbox.create({ timeoutMs: TIMEOUT_MS, memoryBytes: 16 * MiB });
});
afterAll(() => sandbox.dispose());

let keys = 0;

/** Compiles `source` with `modules` under a fresh key and calls it. */
function run(source: string, modules: DesignModules, args: unknown[] = []) {
  const key = `_design/m@1-${++keys}`;
  sandbox.compile(key, source, modules);
  return sandbox.call(key, args);
}

/** The message of a call that failed with an Error. */
function failure(source: string, modules: DesignModules): string {
  const outcome = run(source, modules);
  expect(outcome).toMatchObject({ ok: false, failure: 'error' });
  return (outcome as { message: string }).message;
}

/** A design document with modules at several depths. */
const APP = {
  _id: '_design/app',
  lib: {
    rules: `exports.check = function (doc) {
      if (!require('./types').known(doc.type)) throw({ forbidden: 'unknown type ' + doc.type });
    };`,
    types: `var list = require('../settings').types;
      exports.known = function (type) { return list.indexOf(type) >= 0 };`,
    ids: {
      deep: 'exports.ids = [module.id, require("./sibling").id, require("../../top").id];',
      sibling: 'exports.id = module.id;',
    },
    up: 'exports.top = require("..").x;',
  },
  settings: 'exports.types = ["sale", "refund"];',
  top: 'exports.id = module.id;',
  number: 5,
};

describe('require in validate_doc_update', () => {
  const rules = {
    key: '_design/app@1-rules',
    source: "function (newDoc) { require('lib/rules').check(newDoc); }",
    ddocId: '_design/app',
    modules: APP,
  };

  it('loads a module from the design document, whose exports can refuse a write', () => {
    const outcomes = runValidations(
      sandbox,
      [rules],
      newDocs({ type: 'sale' }, { type: 'gift' }),
      USER_CTX,
      SEC_OBJ,
    );
    expect(outcomes).toEqual<ValidationOutcome[]>([
      { ok: true },
      { ok: false, error: 'forbidden', reason: 'unknown type gift' },
    ]);
  });

  it('says which design document and which path when a module is missing', () => {
    const missing = { ...rules, key: '_design/app@1-missing', source: "function () { require('lib/nope') }" };
    const [outcome] = runValidations(sandbox, [missing], newDocs({}), USER_CTX, SEC_OBJ);
    expect(outcome).toEqual({
      ok: false,
      error: 'unknown_error',
      reason: expect.stringContaining(
        'validate_doc_update in _design/app failed: invalid_require_path: require("lib/nope"): ' +
          'Object has no property "nope" (lib/nope)',
      ),
    });
  });
});

describe('require: paths', () => {
  it('resolves ./ and ../ against the requiring module, .. up to the design document', () => {
    expect(run("function () { return require('lib/ids/deep').ids }", APP)).toEqual({
      ok: true,
      value: ['lib/ids/deep', 'lib/ids/sibling', 'top'],
    });
  });

  it('caches a module by its path from the root, whichever way it was reached', () => {
    const same = "function () { return require('lib/types') === require('lib/./ids/../types') }";
    expect(run(same, APP)).toEqual({ ok: true, value: true });
  });

  it.each([
    [
      'a missing member',
      "require('lib/nope')",
      'require("lib/nope"): Object has no property "nope" (lib/nope)',
    ],
    ['a member of a string', "require('top/x')", 'require("top/x"): Object has no property "x" (top/x)'],
    [
      'an inherited member',
      "require('constructor')",
      'require("constructor"): Object has no property "constructor"',
    ],
    ['an object', "require('lib')", 'require("lib"): Must require a JavaScript string, not: object'],
    ['a number', "require('number')", 'require("number"): Must require a JavaScript string, not: number'],
    ['the design document itself', "require('lib/up')", 'require("..") in lib/up: Must require a JavaScript'],
    [
      'a relative path outside a module',
      "require('./top')",
      'require("./top"): Object has no parent (relative paths work inside modules only)',
    ],
  ])('refuses %s with invalid_require_path, naming the path', (_what, call, message) => {
    expect(failure(`function () { return ${call} }`, APP)).toContain(`invalid_require_path: ${message}`);
  });

  it('refuses to climb above the design document', () => {
    const modules = { lib: { a: 'exports.x = require("../../x")' } };
    expect(failure("function () { return require('lib/a') }", modules)).toContain(
      'invalid_require_path: require("../../x") in lib/a: Object has no parent',
    );
  });
});

describe('require: evaluation', () => {
  it('evaluates a module once per function, across calls, with module, exports and require', () => {
    const modules = {
      counter: `globalThis.loads = (globalThis.loads || 0) + 1;
        exports.loads = globalThis.loads; module.exports.id = module.id;`,
    };
    const key = `_design/m@1-${++keys}`;
    sandbox.compile(
      key,
      "function () { var a = require('counter'); return [a.loads, a.id, a === require('counter')] }",
      modules,
    );
    expect(sandbox.call(key, [])).toEqual({ ok: true, value: [1, 'counter', true] });
    expect(sandbox.call(key, [])).toEqual({ ok: true, value: [1, 'counter', true] });
  });

  it('answers module.exports when a module replaces it', () => {
    const modules = { lib: { fn: 'module.exports = function (x) { return x * 2 };' } };
    expect(run("function () { return require('lib/fn')(21) }", modules)).toEqual({ ok: true, value: 42 });
  });

  it('gives a cycle the exports filled so far, as CommonJS does', () => {
    const modules = {
      a: 'exports.early = "a"; var b = require("./b"); exports.late = "a"; exports.bSaw = b.saw;',
      b: 'var a = require("./a"); exports.saw = Object.keys(a); exports.a = a;',
    };
    const source = "function () { var a = require('a'); return [a.bSaw, require('b').a === a, a.late] }";
    expect(run(source, modules)).toEqual({ ok: true, value: [['early'], true, 'a'] });
  });

  it('fails the require of a module that throws, with compilation_error and its place', () => {
    const modules = { lib: { broken: 'exports.a = 1;\nnull.x;', syntax: 'exports.a = (' } };
    expect(failure("function () {\n  return require('lib/broken') }", modules)).toMatch(
      /^compilation_error: Module require\("lib\/broken"\) raised error TypeError: .* \(line 2, column \d+ of lib\/broken\)$/,
    );
    expect(failure("function () { return require('lib/syntax') }", modules)).toContain(
      'compilation_error: Module require("lib/syntax") raised error SyntaxError',
    );
  });

  it('does not keep a module that threw: the next require evaluates it again', () => {
    const modules = {
      flaky: 'globalThis.tries = (globalThis.tries || 0) + 1; if (tries === 1) throw "first";',
    };
    const key = `_design/m@1-${++keys}`;
    sandbox.compile(key, "function () { require('flaky'); return tries }", modules);
    expect(sandbox.call(key, [])).toMatchObject({
      ok: false,
      message: expect.stringContaining('Module require("flaky") raised error "first"'),
    });
    expect(sandbox.call(key, [])).toEqual({ ok: true, value: 2 });
  });

  it('names the innermost module at fault, once', () => {
    const modules = { lib: { outer: 'require("./inner")', inner: 'require("./gone")' } };
    const message = failure("function () { return require('lib/outer') }", modules);
    expect(message).toContain(
      'invalid_require_path: require("./gone") in lib/inner: Object has no property "gone" (lib/gone)',
    );
    expect(message).not.toContain('compilation_error');
  });

  it('refuses to compile with modules that are not JSON', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => sandbox.compile(`_design/m@1-${++keys}`, 'function () {}', cyclic)).toThrow(
      expect.objectContaining({
        name: 'SandboxCompileError',
        detail: expect.stringContaining('its modules cannot be passed'),
      }),
    );
  });

  it('recompiles a key given other modules', () => {
    const key = `_design/m@1-${++keys}`;
    sandbox.compile(key, "function () { return require('v').v }", { v: 'exports.v = 1' });
    expect(sandbox.call(key, [])).toEqual({ ok: true, value: 1 });
    sandbox.compile(key, "function () { return require('v').v }", { v: 'exports.v = 2' });
    expect(sandbox.call(key, [])).toEqual({ ok: true, value: 2 });
  });
});

describe('require: limits and isolation', () => {
  it('times a module that loops out with the call, and evaluates it anew next time', () => {
    // The time limit cuts the module short where no catch runs: a cache that kept it would
    // hand the next call a half-made module (exports without `ok`).
    const modules = { lib: { slow: 'if (globalThis.hang) while (true) {}\nexports.ok = true;' } };
    const guarded = {
      key: `_design/slow@1-${++keys}`,
      source: `function (newDoc) {
        globalThis.hang = newDoc.hang;
        if (!require('lib/slow').ok) throw({ forbidden: 'half-made module' });
      }`,
      ddocId: '_design/slow',
      modules,
    };
    const validate = (doc: Record<string, unknown>) =>
      runValidations(sandbox, [guarded], newDocs(doc), USER_CTX, SEC_OBJ)[0];
    expect(validate({ hang: true })).toEqual({
      ok: false,
      error: 'unknown_error',
      reason: `validate_doc_update in _design/slow timed out after ${TIMEOUT_MS} ms`,
    });
    expect(validate({ hang: false })).toEqual({ ok: true });
  });

  it('counts a module’s memory against the function that requires it', () => {
    const modules = { bomb: 'var a = []; while (true) a.push(new Array(1e5).fill(0));' };
    expect(run("function () { return require('bomb') }", modules)).toEqual({
      ok: false,
      failure: 'memory',
      message: 'ran out of memory (limit 16 MiB)',
    });
  });

  it('gives a module nothing of the host, and no other function’s globals', () => {
    const modules = {
      probe: `exports.seen = [typeof process, typeof Buffer, typeof globalThis.loads,
        (function () {}).constructor('return typeof process')()];`,
    };
    expect(run("function () { return require('probe').seen }", modules)).toEqual({
      ok: true,
      value: ['undefined', 'undefined', 'undefined', 'undefined'],
    });
    expect(failure("function () { return require('fs') }", modules)).toContain(
      'require("fs"): Object has no property "fs"',
    );
  });
});

describe('require in views and filters', () => {
  const ddoc = {
    _id: '_design/app',
    lib: { kinds: 'exports.kind = "from the root";' },
    views: {
      lib: { kinds: 'exports.kind = function (doc) { return doc.type.toUpperCase() };' },
      by_kind: { map: "function (doc) { emit(require('views/lib/kinds').kind(doc), null) }" },
    },
  };

  it('lets a map function require views/lib, and nothing else of its design document', () => {
    const byKind = {
      key: `_design/app@1-${++keys}/views/by_kind`,
      source: ddoc.views.by_kind.map,
      modules: mapModules(ddoc),
    };
    const root = {
      key: `_design/app@1-${++keys}/views/root`,
      source: "function (doc) { emit(require('lib/kinds').kind) }",
      modules: mapModules(ddoc),
    };
    const [kind, outside] = runMaps(sandbox, [byKind, root], [{ _id: 'a', type: 'sale' }])[0]!;
    expect(kind).toEqual({ ok: true, rows: [['SALE', null]] });
    expect(outside).toMatchObject({
      ok: false,
      failure: 'error',
      message: expect.stringContaining('require("lib/kinds"): Object has no property "lib" (lib)'),
    });
  });

  it('lets a filter function require from its whole design document', () => {
    const filter = {
      key: `_design/app@1-${++keys}/filters/rooted`,
      source: "function (doc) { return require('lib/kinds').kind === doc.want }",
      modules: ddoc,
    };
    const docs = [
      { _id: 'a', want: 'from the root' },
      { _id: 'b', want: 'other' },
    ];
    expect(runFilters(sandbox, filter, docs, {})).toEqual([true, false]);
  });

  it('gives reduce functions no require, as CouchDB does', () => {
    const reduce = {
      key: `_design/app@1-${++keys}/views/by_kind/reduce`,
      source: "function () { return require('views/lib/kinds') }",
      modules: mapModules(ddoc),
    };
    expect(runReduce(sandbox, reduce, null, [1], true)).toMatchObject({
      ok: false,
      failure: 'error',
      message: expect.stringContaining('require("views/lib/kinds") is not available here'),
    });
  });
});
