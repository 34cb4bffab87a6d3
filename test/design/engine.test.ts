/**
 * JsSandbox on the real QuickJS engine: CouchDB's function sources, outcomes, limits, the
 * cache, CouchDB's globals, and that nothing of the host is reachable.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  JsSandbox,
  SandboxCompileError,
  SandboxDisposedError,
  SandboxNotCompiledError,
} from '../../src/design/index.js';

const MiB = 1024 * 1024;
let sandbox: JsSandbox;
const logs: { message: string; key: string }[] = [];
let keys = 0;

/** Compiles `source` under a fresh key and calls it. */
function run(source: string, args: unknown[] = []) {
  const key = `k${++keys}`;
  sandbox.compile(key, source);
  return sandbox.call(key, args);
}

function compileError(source: string): SandboxCompileError {
  try {
    sandbox.compile(`bad${++keys}`, source);
  } catch (error) {
    expect(error).toBeInstanceOf(SandboxCompileError);
    return error as SandboxCompileError;
  }
  throw new Error('expected a compile error');
}

beforeAll(async () => {
  sandbox = await JsSandbox.create({
    timeoutMs: 200,
    memoryBytes: 16 * MiB,
    onLog: (message, key) => logs.push({ message, key }),
  });
});
afterAll(() => sandbox.dispose());

describe('JsSandbox: CouchDB function sources', () => {
  it.each([
    ['an anonymous function', 'function (doc) { return doc.n + 1 }'],
    ['a named function', 'function validate(doc) { return doc.n + 1 }'],
    [
      'leading comments and blank lines',
      '\n  // checks n\n  /* more */\n  function (doc) { return doc.n + 1 }',
    ],
    ['a trailing line comment', 'function (doc) { return doc.n + 1 } // done'],
    ['a trailing semicolon', 'function (doc) { return doc.n + 1 };\n'],
    ['a parenthesized function', '(function (doc) { return doc.n + 1 })'],
  ])('compiles %s', (_name, source) => {
    expect(run(source, [{ n: 1 }])).toEqual({ ok: true, value: 2 });
  });

  it('reports a syntax error as a typed compile error, with its place', () => {
    const error = compileError('function (doc) {\n  if (doc.x {\n}');
    expect(error.failure).toBe('syntax');
    expect(error.detail).toMatch(/^SyntaxError: .+ \(line 2, column \d+\)$/);
  });

  it('refuses a source that is not a function', () => {
    expect(compileError('42').failure).toBe('not_a_function');
    expect(compileError('"function () {}"').failure).toBe('not_a_function');
  });

  it('refuses a source whose evaluation throws or loops', () => {
    expect(compileError('(function () { throw new Error("at load") })()')).toMatchObject({
      failure: 'error',
      detail: expect.stringContaining('Error: at load'),
    });
    expect(compileError('(function () { while (true) {} })()')).toMatchObject({
      failure: 'timeout',
      detail: 'timed out after 200 ms',
    });
  });
});

describe('JsSandbox: outcomes', () => {
  it('gives back what the function returned, as JSON', () => {
    expect(run('function (a, b) { return { sum: a + b, list: [a, b], none: null } }', [1, 2])).toEqual({
      ok: true,
      value: { sum: 3, list: [1, 2], none: null },
    });
    expect(run('function () {}')).toEqual({ ok: true, value: undefined });
    expect(run('function () { return 1n }')).toMatchObject({
      ok: false,
      failure: 'error',
      message: expect.stringContaining('returned a value that is not JSON'),
    });
  });

  it('gives back a thrown value as JSON, as CouchDB functions throw them', () => {
    expect(run('function () { throw({forbidden: "no"}) }')).toEqual({
      ok: false,
      thrown: { forbidden: 'no' },
    });
    expect(run('function () { throw "plain" }')).toEqual({ ok: false, thrown: 'plain' });
    const cyclic = run('function () { var o = {}; o.self = o; throw o }');
    expect(cyclic).toEqual({ ok: false, thrown: '[object Object]' });
  });

  it('reports a thrown Error as a failure with its name, message and place', () => {
    expect(run('function (doc) {\n  return doc.a.b;\n}', [{}])).toEqual({
      ok: false,
      failure: 'error',
      message: "TypeError: cannot read property 'b' of undefined (line 2, column 15)",
    });
  });

  it('reports a stack overflow as a failure and goes on', () => {
    const outcome = run('function f(n) { return f(n + 1) + 1 }', [0]);
    expect(outcome).toMatchObject({
      ok: false,
      failure: 'error',
      message: expect.stringContaining('stack overflow'),
    });
    expect(run('function () { return "still fine" }')).toEqual({ ok: true, value: 'still fine' });
  });

  it('runs the promise jobs a call queued within that call', () => {
    run('function () { Promise.resolve().then(function () { log("job") }); log("body") }');
    expect(logs.slice(-2).map((l) => l.message)).toEqual(['body', 'job']);
  });

  it('takes a large document', () => {
    const doc = { _id: 'big', text: 'x'.repeat(MiB), list: Array.from({ length: 10_000 }, (_, i) => i) };
    expect(run('function (doc) { return doc.text.length + doc.list.length }', [doc])).toEqual({
      ok: true,
      value: MiB + 10_000,
    });
  });
});

describe('JsSandbox: limits', () => {
  it('stops a function that loops at its time limit, and stays usable', () => {
    const key = `loop${++keys}`;
    sandbox.compile(key, 'function () { while (true) {} }');
    expect(sandbox.call(key, [])).toEqual({
      ok: false,
      failure: 'timeout',
      message: 'timed out after 200 ms',
    });
    expect(run('function () { return 1 }')).toEqual({ ok: true, value: 1 });
  });

  it('stops a catastrophic regular expression at the time limit', () => {
    const outcome = run('function (s) { return /(a+)+$/.test(s) }', ['a'.repeat(40) + 'b']);
    expect(outcome).toMatchObject({ ok: false, failure: 'timeout' });
  });

  it('fails a memory bomb, then recreates its runtime transparently', () => {
    const survivor = `survivor${++keys}`;
    sandbox.compile(survivor, 'function (n) { return n * 2 }');
    const before = sandbox.stats;
    expect(run('function () { var a = []; while (true) a.push(new Array(1e5).fill(0)) }')).toEqual({
      ok: false,
      failure: 'memory',
      message: 'ran out of memory (limit 16 MiB)',
    });
    expect(sandbox.stats.resets).toBe(before.resets + 1);
    // Compiled before the reset, recompiled from its source on its next call.
    expect(sandbox.call(survivor, [21])).toEqual({ ok: true, value: 42 });
    expect(sandbox.stats.compilations).toBe(before.compilations + 2);
  });

  it('fails a function that catches its out-of-memory and keeps the heap full', () => {
    // Large pieces, so the heap fills well within the time limit on a busy machine too.
    const source =
      'function () { globalThis.keep = []; try { while (true) keep.push(new Array(1e4).fill(0)) } catch (e) { return "caught" } }';
    expect(run(source)).toMatchObject({ ok: false, failure: 'memory' });
    expect(run('function () { return typeof keep }')).toEqual({ ok: true, value: 'undefined' });
    expect(sandbox.broken).toBe(false);
  });
});

describe('JsSandbox: cache', () => {
  it('compiles a key once, and again only when its source changes', () => {
    const before = sandbox.stats.compilations;
    sandbox.compile('same', 'function () { return 1 }');
    sandbox.compile('same', 'function () { return 1 }');
    expect(sandbox.call('same', [])).toEqual({ ok: true, value: 1 });
    expect(sandbox.stats.compilations).toBe(before + 1);
    sandbox.compile('same', 'function () { return 2 }');
    expect(sandbox.call('same', [])).toEqual({ ok: true, value: 2 });
    expect(sandbox.stats.compilations).toBe(before + 2);
    expect(sandbox.has('same')).toBe(true);
  });

  it('keeps at most maxFunctions, disposing the least recently used', async () => {
    const small = await JsSandbox.create({ maxFunctions: 2 });
    try {
      small.compile('a', 'function () { return "a" }');
      small.compile('b', 'function () { return "b" }');
      small.call('a', []);
      small.compile('c', 'function () { return "c" }');
      expect(small.stats.evictions).toBe(1);
      expect(small.has('b')).toBe(false);
      expect(() => small.call('b', [])).toThrow(SandboxNotCompiledError);
      expect(small.call('a', [])).toEqual({ ok: true, value: 'a' });
    } finally {
      small.dispose();
    }
  });

  it('refuses a key never compiled, and any use after dispose', async () => {
    expect(() => sandbox.call('never', [])).toThrow(SandboxNotCompiledError);
    const gone = await JsSandbox.create();
    gone.dispose();
    expect(() => gone.compile('a', 'function () {}')).toThrow(SandboxDisposedError);
  });
});

describe('JsSandbox: CouchDB globals', () => {
  it('collects log() messages with the key of the function, JSON for non-strings', () => {
    sandbox.compile('logger', 'function (doc) { log("saw " + doc._id); log({ n: 1 }) }');
    sandbox.call('logger', [{ _id: 'a' }]);
    expect(logs.slice(-2)).toEqual([
      { message: 'saw a', key: 'logger' },
      { message: '{"n":1}', key: 'logger' },
    ]);
  });

  it('has isArray, toJSON and sum', () => {
    expect(
      run('function () { return [isArray([]), isArray({}), toJSON({ a: [1] }), sum([1, 2, 3.5])] }'),
    ).toEqual({
      ok: true,
      value: [true, false, '{"a":[1]}', 6.5],
    });
  });

  it('has a require that refuses when the function was compiled without modules', () => {
    expect(run('function () { return require("lib/validate") }')).toMatchObject({
      ok: false,
      failure: 'error',
      message: expect.stringContaining('require("lib/validate") is not available here'),
    });
  });
});

describe('JsSandbox: nothing of the host is reachable', () => {
  const STANDARD = new Set(
    'globalThis Object Function Array Number parseFloat parseInt Infinity NaN undefined Boolean String Symbol Date Promise RegExp Error AggregateError EvalError RangeError ReferenceError SyntaxError TypeError URIError InternalError JSON Math Reflect Proxy Map Set WeakMap WeakSet WeakRef FinalizationRegistry ArrayBuffer SharedArrayBuffer Uint8ClampedArray Int8Array Uint8Array Int16Array Uint16Array Int32Array Uint32Array BigInt64Array BigUint64Array Float16Array Float32Array Float64Array DataView BigInt Iterator decodeURI decodeURIComponent encodeURI encodeURIComponent escape unescape eval isFinite isNaN'.split(
      ' ',
    ),
  );

  it('has no Node globals', () => {
    const probe = `function () {
      return [typeof process, typeof Buffer, typeof setTimeout, typeof console, typeof fetch, typeof std, typeof os];
    }`;
    expect(run(probe)).toEqual({ ok: true, value: Array(7).fill('undefined') });
  });

  it('has only ECMAScript builtins and CouchDB globals on its global object', () => {
    const outcome = run('function () { return Object.getOwnPropertyNames(Function("return this")()) }');
    expect(outcome.ok).toBe(true);
    const names = (outcome as { value: string[] }).value;
    const extra = names.filter((name) => !STANDARD.has(name));
    expect(extra.sort()).toEqual(['isArray', 'log', 'require', 'sum', 'toJSON']);
  });

  it('gives no way out through constructors', () => {
    const probe = `function () {
      var viaConstructor = (function () {}).constructor('return typeof process')();
      var viaThis = (function () { return this })();
      return [viaConstructor, typeof viaThis.process, typeof globalThis.require('x')];
    }`;
    expect(run(probe)).toMatchObject({
      ok: false,
      failure: 'error',
      message: expect.stringContaining('is not available here'),
    });
    const noRequire = `function () {
      return [(function () {}).constructor('return typeof process')(), typeof (function () { return this })().process];
    }`;
    expect(run(noRequire)).toEqual({ ok: true, value: ['undefined', 'undefined'] });
  });

  it('gives each function a realm of its own', () => {
    const polluter = `function () {
      Array.prototype.indexOf = function () { return 0 };
      globalThis.stash = 'secret';
      JSON.parse = function () { return ['forged'] };
    }`;
    expect(run(polluter)).toEqual({ ok: true, value: undefined });
    const victim = 'function (roles) { return [roles.indexOf("admin"), typeof stash] }';
    expect(run(victim, [['clerk']])).toEqual({ ok: true, value: [-1, 'undefined'] });
  });
});
