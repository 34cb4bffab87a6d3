/**
 * CommonJS modules of design documents, as CouchDB's JavaScript query server loads them
 * (share/server/util.js, `resolveModule` and the `require` of `Couch.compileFunction`): a
 * module is a string member of an object (the design document, or `{views: {lib}}` for a map
 * function), named by the `/`-separated path of members that leads to it; it runs once, with
 * `module`, `exports` and a `require` of its own, and `require` answers its `module.exports`.
 *
 * The loader is JavaScript for the sandbox realm (see prelude.ts), never for the host: a
 * module's source is design-document data, evaluated in the realm of the function that
 * requires it, within that call's time and memory limits.
 */

/** Before a module's source: its scope, as CouchDB's wrapper gives it (on the same line). */
export const MODULE_HEAD = '(function (module, exports, require) {';

/**
 * Evaluates to `function (tools, root)`, which answers `{ require, forgetUnfinished }` over the
 * modules of `root`: `require(path)` for the design function itself, and `forgetUnfinished()`,
 * which the invoker calls before each call (a module whose evaluation the time limit cut short,
 * which no `catch` or `finally` sees, is evaluated anew next time rather than left half made in
 * the cache). The prelude evaluates it at a function's first `require` only (most functions
 * never call it, and compiling it in every realm doubled the time a realm takes to open), so
 * it reads no global: `tools` holds the prelude's own references to what it uses (`apply`,
 * `globalEval`, `stringify`, `toText`, `ErrorType`, `InternalErrorType`, `split`, `join`,
 * `push`, `slice`, `hasOwn`, `createObject`, `WeakSetType` with `remember` and `remembers`),
 * taken before any design code ran, and `describeError(error, moduleId, firstLineShift)`.
 *
 * What it does, with CouchDB's error names and words:
 * - `lib/validate` walks `root.lib.validate`; `./x` and `../x` resolve against the requiring
 *   module's parent object (relative paths only inside a module; `..` may reach the root, not
 *   beyond: `invalid_require_path`, "Object has no parent").
 * - A missing member is `invalid_require_path`, "Object has no property …"; a target that is
 *   not a string, "Must require a JavaScript string, not: …". Only own members count, so
 *   `constructor` or `toString` are not modules.
 * - Each module is evaluated once per realm and cached by its id (its resolved path), as
 *   CouchDB caches per design document (`_module_cache`); a module being evaluated answers its
 *   `module.exports` as filled so far, so cycles behave as in CommonJS (CouchDB answers `{}`).
 * - A module that throws while evaluated is not cached (CouchDB keeps `{}`), and fails the
 *   `require` with `compilation_error`, "Module require(…) raised error …"; errors of the
 *   loader itself pass through the requires above them unwrapped, naming the module at fault.
 *   They carry no stack: the loader's own frames would pass for the design source's.
 */
export const MODULE_LOADER_SOURCE = String.raw`(function (tools, root) {
  'use strict';
  var apply = tools.apply, globalEval = tools.globalEval, stringify = tools.stringify, toText = tools.toText;
  var ErrorType = tools.ErrorType, InternalErrorType = tools.InternalErrorType;
  var describeError = tools.describeError;
  var split = tools.split, join = tools.join, push = tools.push, slice = tools.slice, hasOwn = tools.hasOwn;
  var remember = tools.remember, remembers = tools.remembers;
  var HEAD = ${JSON.stringify(MODULE_HEAD)};
  var cache = tools.createObject(null), unfinished = [], ownErrors = new tools.WeakSetType();

  function fail(name, message) {
    var error = new ErrorType(message);
    error.name = name;
    error.stack = '';
    apply(remember, ownErrors, [error]);
    return error;
  }
  function callText(path, fromId) {
    return 'require(' + stringify(path) + ')' + (fromId === null ? '' : ' in ' + fromId);
  }
  function invalidPath(path, fromId, reason) {
    return fail('invalid_require_path', callText(path, fromId) + ': ' + reason);
  }

  // The members leading to the module, from the root; relative to the requiring module's parent.
  function resolve(path, fromId) {
    var names = apply(split, path, ['/']);
    var relative = names[0] === '.' || names[0] === '..';
    if (relative && fromId === null) {
      throw invalidPath(path, fromId, 'Object has no parent (relative paths work inside modules only)');
    }
    var segments = relative ? apply(split, fromId, ['/']) : [];
    if (relative) segments.length--;
    for (var i = 0; i < names.length; i++) {
      if (names[i] === '.') continue;
      if (names[i] !== '..') apply(push, segments, [names[i]]);
      else if (segments.length === 0) throw invalidPath(path, fromId, 'Object has no parent');
      else segments.length--;
    }
    return segments;
  }

  function sourceAt(segments, path, fromId) {
    var current = root;
    for (var i = 0; i < segments.length; i++) {
      var name = segments[i];
      if (typeof current !== 'object' || current === null || !apply(hasOwn, current, [name])) {
        var walked = apply(join, apply(slice, segments, [0, i + 1]), ['/']);
        throw invalidPath(path, fromId, 'Object has no property ' + stringify(name) + ' (' + walked + ')');
      }
      current = current[name];
    }
    if (typeof current !== 'string') {
      throw invalidPath(path, fromId, 'Must require a JavaScript string, not: ' + typeof current);
    }
    return current;
  }

  function describe(thrown, id) {
    if (thrown instanceof ErrorType) return describeError(thrown, id, HEAD.length);
    try { return stringify(thrown); } catch (_) { return toText(thrown); }
  }
  function failure(thrown, path, fromId, id) {
    var outOfMemory = thrown instanceof InternalErrorType && thrown.message === 'out of memory';
    if (outOfMemory || (thrown instanceof ErrorType && apply(remembers, ownErrors, [thrown]))) return thrown;
    var raised = 'Module ' + callText(path, fromId) + ' raised error ' + describe(thrown, id);
    return fail('compilation_error', raised);
  }

  // No finally: what the time limit cuts short runs neither catch nor finally; see forgetUnfinished.
  function evaluate(module, path, fromId) {
    cache[module.id] = module;
    apply(push, unfinished, [module.id]);
    try {
      var body = globalEval(HEAD + module.current + '\n})');
      apply(body, undefined, [module, module.exports, requireIn(module.id)]);
    } catch (thrown) {
      unfinished.length--;
      delete cache[module.id];
      throw failure(thrown, path, fromId, module.id);
    }
    unfinished.length--;
  }

  function load(path, fromId) {
    var segments = resolve(path, fromId);
    var id = apply(join, segments, ['/']);
    var module = cache[id];
    if (module === undefined) {
      module = { id: id, current: sourceAt(segments, path, fromId), exports: {} };
      evaluate(module, path, fromId);
    }
    return module.exports;
  }

  function requireIn(id) {
    return function require(path) { return load(toText(path), id); };
  }

  return {
    require: function require(path) { return load(toText(path), null); },
    forgetUnfinished: function forgetUnfinished() {
      for (; unfinished.length > 0; unfinished.length--) delete cache[unfinished[unfinished.length - 1]];
    },
  };
})`;
