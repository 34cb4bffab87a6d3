import type { QuickJSContext, QuickJSHandle, QuickJSRuntime } from 'quickjs-emscripten-core';
import { SandboxCompileError } from './errors.js';
import { asExpression, PRELUDE_SOURCE } from './prelude.js';

/**
 * One compiled design function in a realm (a QuickJS context) of its own: its own global
 * object and its own `Object.prototype`, as CouchDB gives each function a fresh sandbox, so a
 * function that patches a builtin or keeps documents in a global cannot reach another
 * function, another design document or another database.
 */
export interface Realm {
  readonly context: QuickJSContext;
  /** `invoke(argsJson) → tagged answer`, see prelude.ts. */
  readonly invoke: QuickJSHandle;
  dispose(): void;
}

/** What the sandbox lends a realm being opened. */
export interface RealmHooks {
  /** Receives the function's `log(message)` calls. */
  onLog(message: string): void;
  /** Reads a QuickJS exception: the sandbox alone knows whether its deadline fired. */
  describe(
    context: QuickJSContext,
    error: QuickJSHandle,
  ): { failure: 'timeout' | 'memory' | 'error'; message: string };
  /** Runs the engine's own setup of the realm (allowed a little above the memory ceiling). */
  asEngine<T>(work: () => T): T;
  /** Runs the evaluation of the design source itself (under the memory ceiling). */
  asDesignCode<T>(work: () => T): T;
}

/** What a realm is opened with: the function's source, and the JSON of what `require` may load. */
export interface RealmCode {
  source: string;
  /** `''` when the function loads no modules (its `require` refuses). */
  modulesJson: string;
}

/**
 * Creates a realm, installs the prelude and compiles the source in it, with `require` over the
 * modules when there are some.
 *
 * @throws SandboxCompileError when the source does not evaluate to a function; the realm is
 *   disposed then.
 */
export function openRealm(runtime: QuickJSRuntime, key: string, code: RealmCode, hooks: RealmHooks): Realm {
  const context = hooks.asEngine(() => runtime.newContext());
  const temporary: QuickJSHandle[] = [];
  const track = (handle: QuickJSHandle): QuickJSHandle => (temporary.push(handle), handle);
  const unwrap = (result: ReturnType<QuickJSContext['evalCode']>, syntax = false): QuickJSHandle => {
    if (!result.error) return result.value;
    const { failure, message } = hooks.describe(context, result.error);
    result.dispose();
    const kind = failure === 'error' && syntax && message.startsWith('SyntaxError') ? 'syntax' : failure;
    throw new SandboxCompileError(key, kind, message);
  };
  try {
    const prepare = hooks.asEngine(() => {
      const prelude = track(unwrap(context.evalCode(PRELUDE_SOURCE, 'settee:prelude', { type: 'global' })));
      const hostLog = track(
        context.newFunction('hostLog', (message) => hooks.onLog(context.getString(message))),
      );
      return track(unwrap(context.callFunction(prelude, context.undefined, hostLog)));
    });
    // The host's copies of the source and modules, outside the ceiling: a refused allocation
    // there is not checked by the bindings, and their size is bounded by the design document's.
    const expression = track(context.newString(asExpression(code.source)));
    const modules = track(context.newString(code.modulesJson));
    const invoke = unwrap(
      hooks.asDesignCode(() => context.callFunction(prepare, context.undefined, expression, modules)),
      true,
    );
    if (context.typeof(invoke) !== 'function') {
      invoke.dispose();
      throw new SandboxCompileError(key, 'not_a_function', 'the source does not evaluate to a function');
    }
    return { context, invoke, dispose: () => (invoke.dispose(), context.dispose()) };
  } catch (error) {
    for (const handle of temporary.splice(0)) handle.dispose();
    context.dispose();
    throw error;
  } finally {
    for (const handle of temporary) handle.dispose();
  }
}
