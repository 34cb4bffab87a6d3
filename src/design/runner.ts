/**
 * What runs a design document's views and filters, and the shapes it takes and answers: the
 * embedded `Database` takes a {@link DesignRunner} (a `DesignWorkerPool` in Node, something
 * else in a browser), so it never knows where the JavaScript runs. No Node import here.
 */

import type { DesignModules } from './sandbox-types.js';

/** A design function's source under its cache key, with the modules its `require` loads. */
export interface DesignFunction {
  /**
   * The cache key, one per design-document revision and function, e.g.
   * `${ddocId}@${rev}/views/${name}` for a map function, `…/views/${name}/reduce` for its
   * reduce, `${ddocId}@${rev}/filters/${name}` for a filter. Two functions must not share a key.
   */
  key: string;
  source: string;
  /**
   * What `require` loads CommonJS modules from: the design document. A map function reaches
   * only its `views.lib` (so `{ views: { lib } }` is enough: see `mapModules`), a filter all of
   * it, a reduce function nothing, as in CouchDB. Without it `require` throws.
   */
  modules?: DesignModules;
}

/** A view's `map`, called as `map(doc)` with `emit(key, value)` in scope. */
export type MapFunction = DesignFunction;
/** A view's JavaScript `reduce`, called as `reduce(keys, values, rereduce)`; its `modules` are ignored. */
export type ReduceFunction = DesignFunction;
/** A design document's `filters.name`, called as `filter(doc, req)`. */
export type FilterFunction = DesignFunction;

/**
 * Why a design function gave no result:
 * - `thrown`: it threw a value that is not an Error (`throw {reason: …}`, `throw 'no'`);
 * - `error`: it threw an Error (a TypeError…), or emitted or returned what is not JSON, or
 *   its input cannot be handed to the sandbox (nested deeper than the host's stack);
 * - `timeout`, `memory`: it reached the sandbox's limit for one call;
 * - `compile`: its source does not evaluate to a function (CouchDB's `compilation_error`);
 * - `not_run`: not a verdict on this input: the function reached a limit on earlier inputs
 *   of the same batch too often (see `MAX_LIMIT_FAILURES_PER_BATCH`). Sending the input
 *   again in a later batch runs it.
 */
export type DesignFailureKind = 'thrown' | 'error' | 'timeout' | 'memory' | 'compile' | 'not_run';

/** A call that gave no result; `message` says why in words (for a log, never parsed). */
export interface DesignFailure {
  ok: false;
  failure: DesignFailureKind;
  message: string;
}

/** One emitted row: `emit(key, value)`, both JSON (`undefined` becomes `null`, as in CouchDB). */
export type MapRow = [key: unknown, value: unknown];

/** What one map function did with one document: its rows, or why it has none. */
export type MapOutcome = { ok: true; rows: MapRow[] } | DesignFailure;

/** What one reduce call answered (`undefined` becomes `null`), or why it did not. */
export type ReduceOutcome = { ok: true; value: unknown } | DesignFailure;

/** Every map function over every document. */
export interface MapRequest {
  functions: MapFunction[];
  docs: Record<string, unknown>[];
}

/** One reduce call: `keys` are `[key, docId]` pairs, `null` when `rereduce` is true. */
export interface ReduceCall {
  keys: [unknown, string][] | null;
  values: unknown[];
  rereduce: boolean;
}

/** Many reduce calls of one function: a view's groups, in one round trip. */
export interface ReduceRequest {
  fn: ReduceFunction;
  calls: ReduceCall[];
}

/**
 * CouchDB's request object as filter functions see it (`query`, `userCtx`, `info`, `headers`,
 * `method`, `path`, `peer`…): the caller builds it, and it reaches the function as given.
 */
export type FilterReq = Record<string, unknown>;

/** One filter function over many documents, with the request of the changes feed. */
export interface FilterRequest {
  fn: FilterFunction;
  docs: Record<string, unknown>[];
  req: FilterReq;
}

/**
 * Runs views' and filters' JavaScript. Each method answers one batch in input order, and never
 * rejects for what a design function does (that is an outcome); it rejects when the batch as a
 * whole could not run (its runner closed or failed), so an index or a feed stops rather than
 * record a wrong answer.
 */
export interface DesignRunner {
  /** One entry per document, each with one outcome per function, in the functions' order. */
  map(request: MapRequest): Promise<MapOutcome[][]>;
  /** One outcome per call. */
  reduce(request: ReduceRequest): Promise<ReduceOutcome[]>;
  /**
   * Whether each document passes: the function returned a truthy value. One that throws, times
   * out or does not compile lets no document pass.
   */
  filter(request: FilterRequest): Promise<boolean[]>;
}
