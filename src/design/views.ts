/**
 * Views' map and reduce functions and changes filters, as pure logic over a sandbox (like
 * validation.ts): every function compiles once per key, each call has the sandbox's time
 * budget, and what a function does is an outcome, never an exception.
 *
 * One document is one call, so a function that loops costs one time budget for that document
 * and the next ones still run. Per batch, a function that reaches a limit (time or memory) on
 * {@link MAX_LIMIT_FAILURES_PER_BATCH} inputs is not run on the rest of that batch (`not_run`):
 * a batch that loops on every document holds its worker for a few budgets, not for one budget
 * per document, and the caller may send the inputs left again.
 */
import type { JsSandbox } from './engine.js';
import { SandboxCompileError } from './errors.js';
import { mapModules } from './module-roots.js';
import { asFilterFunction, asMapFunction } from './prelude.js';
import type {
  DesignFailure,
  DesignFunction,
  FilterFunction,
  FilterReq,
  MapFunction,
  MapOutcome,
  MapRow,
  ReduceCall,
  ReduceFunction,
  ReduceOutcome,
} from './runner.js';
import type { CallOutcome } from './sandbox-types.js';

/** The part of a sandbox views and filters use (a worker wraps it to report progress). */
export type ViewSandbox = Pick<JsSandbox, 'compile' | 'callJson'>;

/** Limit failures (time, memory) of one function after which a batch stops running it. */
export const MAX_LIMIT_FAILURES_PER_BATCH = 3;

/** Answers a call's value, or a failure when its value is not what the function kind answers. */
type Reader<T extends { ok: true }> = (value: unknown) => T | DesignFailure;

/**
 * Runs every map function over every document: one entry per document, each holding one
 * outcome per function. A function that throws, loops or runs out of memory on a document
 * gives that document a failure for that function only (CouchDB skips the document in that
 * view and goes on); one that does not compile fails every document. Of its `modules`, a map
 * function reaches `views.lib` only, as in CouchDB (see `mapModules`).
 *
 * @example
 * runMaps(sandbox, [{ key: '_design/app@1-a/views/by_type', source: 'function (doc) { emit(doc.type, 1) }' }],
 *   [{ _id: 'a', type: 'sale' }]);
 * // [[{ ok: true, rows: [['sale', 1]] }]]
 */
export function runMaps(
  sandbox: ViewSandbox,
  functions: readonly MapFunction[],
  docs: readonly Record<string, unknown>[],
): MapOutcome[][] {
  const docArgs = docs.map((doc) => argumentsJson(() => [doc]));
  const byFunction = functions.map((fn) => {
    const modules = fn.modules && mapModules(fn.modules);
    return callEach(sandbox, { key: fn.key, source: asMapFunction(fn.source), modules }, docArgs, readRows);
  });
  return docs.map((_doc, index) => byFunction.map((outcomes) => outcomes[index]!));
}

/**
 * Calls a reduce function once: `reduce(keys, values, rereduce)`. A reduce that throws is a
 * failure here; CouchDB's query server stores `null` for it instead (share/server/views.js,
 * `runReduce`), which the view engine may do. It loads no modules: CouchDB compiles reduce
 * functions without their design document, so `require` throws.
 */
export function runReduce(
  sandbox: ViewSandbox,
  fn: ReduceFunction,
  keys: [unknown, string][] | null,
  values: unknown[],
  rereduce: boolean,
): ReduceOutcome {
  return runReduces(sandbox, fn, [{ keys, values, rereduce }])[0]!;
}

/** {@link runReduce} for many calls of one function (a view's groups), in order. */
export function runReduces(
  sandbox: ViewSandbox,
  fn: ReduceFunction,
  calls: readonly ReduceCall[],
): ReduceOutcome[] {
  const args = calls.map((call) => argumentsJson(() => [call.keys, call.values, call.rereduce]));
  const withoutModules = { key: fn.key, source: fn.source };
  return callEach(sandbox, withoutModules, args, (value) => ({ ok: true, value: value ?? null }));
}

/**
 * Whether each document passes a filter: `fn(doc, req)` returned a truthy value. A document
 * on which the function fails does not pass, and `onFailure` hears why (CouchDB would fail
 * the whole changes request instead: share/server/filter.js lets the exception out).
 */
export function runFilters(
  sandbox: ViewSandbox,
  fn: FilterFunction,
  docs: readonly Record<string, unknown>[],
  req: FilterReq,
  onFailure?: (failure: DesignFailure, index: number) => void,
): boolean[] {
  const reqJson = JSON.stringify(req);
  const args = docs.map((doc) => argumentsJson(() => [doc], reqJson));
  const wrapped = { ...fn, source: asFilterFunction(fn.source) };
  return callEach(sandbox, wrapped, args, readBoolean).map((outcome, index) => {
    if (outcome.ok) return outcome.value;
    onFailure?.(outcome, index);
    return false;
  });
}

/**
 * Compiles `fn` and calls it once per entry of `args` (JSON arrays, or the failure of making
 * one), counting the limits it reaches. Shared by maps, reduces and filters.
 */
function callEach<T extends { ok: true }>(
  sandbox: ViewSandbox,
  fn: DesignFunction,
  args: readonly (string | DesignFailure)[],
  read: Reader<T>,
): (T | DesignFailure)[] {
  const compileFailure = compile(sandbox, fn);
  if (compileFailure) return args.map(() => compileFailure);
  let limitFailures = 0;
  return args.map((argsJson) => {
    if (typeof argsJson !== 'string') return argsJson;
    if (limitFailures >= MAX_LIMIT_FAILURES_PER_BATCH) return notRun(fn, limitFailures);
    const outcome = asDesignOutcome(sandbox.callJson(fn.key, argsJson), read);
    if (!outcome.ok && (outcome.failure === 'timeout' || outcome.failure === 'memory')) limitFailures++;
    return outcome;
  });
}

function compile(sandbox: ViewSandbox, fn: DesignFunction): DesignFailure | undefined {
  try {
    sandbox.compile(fn.key, fn.source, fn.modules);
    return undefined;
  } catch (error) {
    if (!(error instanceof SandboxCompileError)) throw error;
    return { ok: false, failure: 'compile', message: error.message };
  }
}

function asDesignOutcome<T extends { ok: true }>(outcome: CallOutcome, read: Reader<T>): T | DesignFailure {
  if (outcome.ok) return read(outcome.value);
  if ('failure' in outcome) return { ok: false, failure: outcome.failure, message: outcome.message };
  const { thrown } = outcome;
  const shown = typeof thrown === 'string' ? thrown : JSON.stringify(thrown);
  return { ok: false, failure: 'thrown', message: `threw ${shown}` };
}

/** The arguments as a JSON array; `tail` is JSON already made, shared by every call. */
function argumentsJson(args: () => unknown[], tail?: string): string | DesignFailure {
  try {
    const json = JSON.stringify(args());
    return tail === undefined ? json : `${json.slice(0, -1)},${tail}]`;
  } catch (error) {
    // A document nested beyond the host's stack cannot be handed over.
    const message = `the input cannot be passed to the sandbox: ${error instanceof Error ? error.message : String(error)}`;
    return { ok: false, failure: 'error', message };
  }
}

function notRun(fn: DesignFunction, limitFailures: number): DesignFailure {
  const message = `${fn.key} was not run: it reached a limit on ${limitFailures} earlier inputs of this batch`;
  return { ok: false, failure: 'not_run', message };
}

// The wrapper answers an array of pairs; a source that escapes its wrapper could answer anything.
function readRows(value: unknown): { ok: true; rows: MapRow[] } | DesignFailure {
  const isRow = (row: unknown): row is MapRow => Array.isArray(row) && row.length === 2;
  if (Array.isArray(value) && value.every(isRow)) return { ok: true, rows: value };
  return { ok: false, failure: 'error', message: 'the map function answered something other than rows' };
}

function readBoolean(value: unknown): { ok: true; value: boolean } {
  return { ok: true, value: value === true };
}
