import { MODULE_LOADER_SOURCE } from './commonjs.js';

/**
 * The JavaScript that runs inside each sandbox realm before a design function is compiled:
 * CouchDB's globals (`log`, `isArray`, `toJSON`, `sum`, and `require`, which loads the
 * CommonJS modules of commonjs.ts when the function is compiled with its modules and refuses
 * otherwise, as for reduce functions) and the invoker through which every call goes; and the
 * wrappers that give map and filter functions what CouchDB's query server gives them (see
 * {@link asMapFunction}, {@link asFilterFunction}).
 *
 * The invoker takes the arguments as one JSON string and answers one string, so a call costs
 * two string copies across the WebAssembly boundary instead of a handle per value. Its answer
 * starts with a tag (see {@link ResultTag}). It keeps its own references to `JSON`, `Reflect`
 * and the error constructors, taken before any design code runs, so a function that replaces
 * `JSON.parse` in its realm cannot forge another call's answer.
 */

/** First character of the invoker's answer. */
export const ResultTag = {
  /** Returned normally; the rest is the JSON of the value, empty for `undefined`. */
  returned: 'R',
  /** Threw a value that is not an Error (CouchDB's `throw({forbidden: …})`); the rest is JSON. */
  thrown: 'T',
  /** Threw an Error (TypeError, stack overflow…); the rest is `name: message`. */
  error: 'E',
  /** Ran out of memory. */
  memory: 'M',
} as const;

/** Longest log message passed to the host; longer ones are cut, so a log cannot flood it. */
export const MAX_LOG_CHARS = 64 * 1024;

/**
 * Evaluates to `function (hostLog) { … return prepare }`: the host calls it once per realm
 * with its log callback (so the callback is reachable only through `log`), then calls
 * `prepare(expression, modulesJson)` with the design source (see {@link asExpression}) and the
 * JSON of what `require` may load (`''` for nothing), which evaluates the source in the realm's
 * global scope (an indirect eval, as a script would be) and answers the invoker of the
 * function, or `null` if it is not one. Both go in as string values rather than through the
 * host's eval so that they are parsed under the memory ceiling.
 */
export const PRELUDE_SOURCE = String.raw`(function (hostLog) {
  'use strict';
  var parse = JSON.parse, stringify = JSON.stringify, apply = Reflect.apply;
  var defineProperty = Object.defineProperty, isArrayOf = Array.isArray, toText = String;
  var ErrorType = Error, InternalErrorType = InternalError, globalEval = eval;
  var MAX_LOG = ${MAX_LOG_CHARS};

  function define(name, value) {
    defineProperty(globalThis, name, { value: value, writable: true, configurable: true });
  }
  define('log', function log(message) {
    var text = toText(typeof message === 'string' ? message : stringify(message));
    hostLog(text.length > MAX_LOG ? text.slice(0, MAX_LOG) + '…' : text);
  });
  define('isArray', function isArray(value) { return isArrayOf(value); });
  define('toJSON', function toJSON(value) { return stringify(value); });
  define('sum', function sum(values) {
    var total = 0;
    for (var i = 0; i < values.length; i++) total += values[i];
    return total;
  });
  define('require', function require(name) {
    throw new ErrorType('require(' + stringify(toText(name)) + ') is not available here: ' +
      'reduce functions, and functions compiled without their design document, load no modules');
  });

  var execPattern = RegExp.prototype.exec, locationPattern = /<input>:(\d+):(\d+)/;
  // Where in the source (the function's, or that of the module named by where), from the
  // innermost frame of evaluated code; its first line carries its wrapper's head (shift chars).
  function locationOf(error, where, shift) {
    var match = typeof error.stack === 'string' ? apply(execPattern, locationPattern, [error.stack]) : null;
    if (!match) return '';
    var line = +match[1], column = +match[2] - (line === 1 ? shift : 0);
    return ' (line ' + line + ', column ' + column + (where ? ' of ' + where : '') + ')';
  }
  function errorText(error, where, shift) {
    try {
      var location = locationOf(error, where, shift === undefined ? 1 : shift);
      return toText(error.name) + ': ' + toText(error.message) + location;
    } catch (_) { return 'Error'; }
  }

  // CommonJS modules (commonjs.ts): the loader is compiled at a function's first require only.
  var MODULE_LOADER = ${JSON.stringify(MODULE_LOADER_SOURCE)};
  var moduleTools = {
    apply: apply, globalEval: globalEval, stringify: stringify, toText: toText, ErrorType: ErrorType,
    InternalErrorType: InternalErrorType, describeError: errorText, split: String.prototype.split,
    join: Array.prototype.join, push: Array.prototype.push, slice: Array.prototype.slice,
    hasOwn: Object.prototype.hasOwnProperty, createObject: Object.create, WeakSetType: WeakSet,
    remember: WeakSet.prototype.add, remembers: WeakSet.prototype.has,
  };
  var loader = null;
  function requireFrom(modulesJson) {
    return function require(path) {
      if (loader === null) {
        loader = globalEval(MODULE_LOADER)(moduleTools, parse(modulesJson));
        // Parsed, the text is not needed again: a realm holds one copy of a large lib, not two.
        modulesJson = null;
      }
      return loader.require(path);
    };
  }
  function jsonOf(value) {
    try { return stringify(value); } catch (_) { return undefined; }
  }
  function describeThrown(thrown) {
    if (thrown instanceof InternalErrorType && thrown.message === 'out of memory') return '${ResultTag.memory}';
    if (thrown instanceof ErrorType) return '${ResultTag.error}' + errorText(thrown);
    var json = jsonOf(thrown);
    if (json !== undefined) return '${ResultTag.thrown}' + json;
    try { return '${ResultTag.thrown}' + stringify(toText(thrown)); } catch (_) { return '${ResultTag.thrown}"(a value that cannot be shown)"'; }
  }
  function describeReturned(value) {
    if (value === undefined) return '${ResultTag.returned}';
    try {
      var json = stringify(value);
      return '${ResultTag.returned}' + (json === undefined ? '' : json);
    } catch (error) {
      return '${ResultTag.error}The function returned a value that is not JSON: ' + errorText(error);
    }
  }

  function invokerOf(fn) {
    return function invoke(argsJson) {
      var value;
      if (loader !== null) loader.forgetUnfinished();
      try {
        value = apply(fn, undefined, parse(argsJson));
      } catch (thrown) {
        return describeThrown(thrown);
      }
      return describeReturned(value);
    };
  }

  return function prepare(expression, modulesJson) {
    if (modulesJson !== '') define('require', requireFrom(modulesJson));
    var fn = globalEval(expression);
    return typeof fn === 'function' ? invokerOf(fn) : null;
  };
})`;

/**
 * Wraps a CouchDB function source as an expression. CouchDB stores anonymous functions
 * (`function(doc) {…}`), which are not a valid statement, so the source is parenthesized; the
 * newline keeps a trailing `// comment` from swallowing the closing parenthesis. One trailing
 * semicolon, which CouchDB tolerates, is dropped.
 */
export function asExpression(source: string): string {
  const trimmed = source.trimEnd();
  const body = trimmed.endsWith(';') ? trimmed.slice(0, -1) : trimmed;
  return `(${body}\n)`;
}

/**
 * A map function's source wrapped so that it compiles to `(doc) → rows`: `emit` is in its
 * scope (a closure, as each realm holds one function, so rows cannot mix), the rows of a call
 * are its answer, and a throw loses the rows emitted before it (share/server/views.js,
 * `mapDoc`, answers `[]` then). The document is deeply frozen first, as CouchDB's QuickJS
 * query server does (dispatch-quickjs.js `seal` is `Object.freeze`, applied recursively by
 * util.js `recursivelySeal`): a write to it is ignored, or a TypeError in strict code.
 *
 * The wrapper's head shares the source's first line, so the line numbers of errors stay
 * those of the source (the columns of its first line are shifted).
 */
export function asMapFunction(source: string): string {
  return (
    `(function () { var settee$rows = [], settee$freezeObject = Object.freeze, settee$keysOf = Object.keys; ` +
    `function emit(key, value) { settee$rows.push([key, value]); } var settee$map = ${asExpression(source)};
  function settee$freeze(doc) {
    for (var pending = [doc]; pending.length > 0; ) {
      var value = pending.pop();
      if (typeof value !== 'object' || value === null) continue;
      settee$freezeObject(value);
      for (var keys = settee$keysOf(value), i = 0; i < keys.length; i++) pending.push(value[keys[i]]);
    }
    return doc;
  }
  return typeof settee$map !== 'function' ? settee$map : function mapDoc(doc) {
    settee$rows = [];
    settee$map(settee$freeze(doc));
    return settee$rows;
  };
})()`
  );
}

/**
 * A filter function's source wrapped so that it answers a boolean: CouchDB keeps
 * `(fun(doc, req) && true) || false` (share/server/filter.js), and a truthy value that is not
 * JSON (a function) must pass too.
 */
export function asFilterFunction(source: string): string {
  return `(function () { var settee$filter = ${asExpression(source)};
  return typeof settee$filter !== 'function' ? settee$filter : function filterDoc(doc, req) { return !!settee$filter(doc, req); };
})()`;
}
