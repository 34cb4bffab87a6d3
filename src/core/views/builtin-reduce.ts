/**
 * CouchDB's built-in reduce functions, natively: `_count`, `_sum`, `_stats` and
 * `_approx_count_distinct`, with their results and errors as couch_query_servers.erl
 * `builtin_reduce` gives them. A design document names one by a prefix (`"_sum"`, but also
 * `"_sum "` or `"_sum_anything"`), as CouchDB matches them.
 */
import { SetteeError } from '../errors.js';
import { canonicalJson } from '../canonical-json.js';
import { setOwn } from '../set-own.js';
import { HyperLogLog } from './hyperloglog.js';
import { shown } from './shown.js';

/**
 * One invocation of a reduce function: over emitted rows (`keys` are `[key, docId]` pairs, as
 * a JavaScript reduce function receives them), or over earlier results (`rereduce`).
 */
export type ReduceCall =
  | {
      readonly rereduce: false;
      readonly keys: readonly (readonly [unknown, string])[];
      readonly values: readonly unknown[];
    }
  | { readonly rereduce: true; readonly values: readonly unknown[] };

/** Runs many reduce calls at once (one trip into a sandbox), a result per call, in order. */
export type ReduceBatch = (calls: readonly ReduceCall[]) => Promise<unknown[]>;

/** A reduce function and the last step that turns its result into what a view row shows. */
export interface Reducer {
  readonly name: string;
  readonly reduce: ReduceBatch;
  /** Applied once per output row, after the last rereduce. */
  readonly finalize: (value: unknown) => unknown;
}

/** The reason CouchDB gives for a value `_sum` cannot add (couch_query_servers.erl `?SUMERROR`). */
export const SUM_ERROR =
  'The _sum function requires that map values be numbers, arrays of numbers, or objects. ' +
  'Objects cannot be mixed with other data structures. Objects can be arbitrarily nested, ' +
  'provided that the values for all fields are themselves numbers, arrays of numbers, or objects.';

/** `?STATERROR` without its value: CouchDB prints the value as an Erlang term, Settee as JSON. */
const STATS_ERROR = 'The _stats function requires that map values be numbers or arrays of numbers, not ';

/** What `_sum` yields, instead of failing the query, when it meets a value it cannot add. */
export interface BuiltinReduceError {
  error: 'builtin_reduce_error';
  reason: string;
  caused_by?: unknown;
}

type ReduceOne = (call: ReduceCall) => unknown;

const identity = (value: unknown) => value;

/**
 * The built-in reducer a design document's `reduce` names, or undefined for JavaScript source.
 * A name starting with `_` that is none of them is not one CouchDB knows: the caller refuses it.
 *
 * @example
 * const sum = builtinReducer('_sum');
 * await sum?.reduce([{ rereduce: false, keys: [[1, 'a'], [2, 'b']], values: [1, 2] }]); // [3]
 */
export function builtinReducer(source: string): Reducer | undefined {
  const found = BUILTINS.find(([prefix]) => source.startsWith(prefix));
  if (!found) return undefined;
  const [name, one, finalize] = found;
  return { name, reduce: async (calls) => calls.map(one), finalize };
}

const BUILTINS: readonly (readonly [string, ReduceOne, (value: unknown) => unknown])[] = [
  ['_sum', (call) => sumAll(call.values), identity],
  ['_count', (call) => (call.rereduce ? sumAll(call.values) : call.values.length), identity],
  ['_stats', (call) => stats(call.values), identity],
  ['_approx_count_distinct', approxCountDistinct, (value) => Math.round(asSketch(value).estimate())],
];

// --- _sum -------------------------------------------------------------------------------------

/** Thrown inside a sum, caught by `sumAll`, which makes it the result (`builtin_sum_rows`). */
class SumStop {
  constructor(readonly result: BuiltinReduceError) {}
}

/** `builtin_sum_rows`: adds from 0; an error becomes the reduction, and stays it on rereduce. */
function sumAll(values: readonly unknown[]): unknown {
  let total: unknown = 0;
  try {
    for (const value of values) total = sumValues(value, total);
  } catch (err) {
    if (err instanceof SumStop) return err.result;
    throw err;
  }
  return total;
}

function sumError(cause: unknown): SumStop {
  return new SumStop({ error: 'builtin_reduce_error', reason: SUM_ERROR, caused_by: cause });
}

/** `sum_values`: numbers, arrays of numbers element-wise, objects field by field. */
function sumValues(value: unknown, total: unknown): unknown {
  if (typeof value === 'number') {
    if (typeof total === 'number') return total + value;
    if (Array.isArray(total)) return sumArrays(total, [value]);
    throw sumError(value);
  }
  if (Array.isArray(value)) {
    if (Array.isArray(total)) return sumArrays(total, value);
    if (typeof total === 'number') return sumArrays([total], value);
    throw sumError(value);
  }
  if (isObject(value)) return sumObject(value, total);
  throw sumError(value);
}

function sumObject(value: Record<string, unknown>, total: unknown): unknown {
  if (value.error === 'builtin_reduce_error') throw new SumStop(value as unknown as BuiltinReduceError);
  // Only the starting 0 takes an object (CouchDB fails outright on any other non-object).
  if (total === 0) return value;
  if (!isObject(total)) throw sumError(value);
  const sum: Record<string, unknown> = {};
  // CouchDB merges the sorted fields of both: the result's fields come out sorted.
  const names = [...new Set([...Object.keys(value), ...Object.keys(total)])].sort();
  // Own fields only: a value may have a field `constructor` or `__proto__`, like any other.
  for (const name of names) {
    if (!Object.hasOwn(value, name)) setOwn(sum, name, total[name]);
    else if (!Object.hasOwn(total, name)) setOwn(sum, name, value[name]);
    else setOwn(sum, name, sumValues(value[name], total[name]));
  }
  return sum;
}

/** `sum_arrays`: adds where both have an item; the longer one's tail is kept as it is. */
function sumArrays(total: readonly unknown[], value: readonly unknown[]): unknown[] {
  const sum: unknown[] = [];
  for (let i = 0; i < Math.max(total.length, value.length); i++) {
    if (i >= value.length) sum.push(total[i]);
    else if (i >= total.length) sum.push(value[i]);
    else {
      const [x, y] = [total[i], value[i]];
      if (typeof x !== 'number' || typeof y !== 'number') throw sumError(total.slice(i));
      sum.push(x + y);
    }
  }
  return sum;
}

// --- _stats -----------------------------------------------------------------------------------

/** CouchDB's packed `_stats` result; also accepted as an input (a pre-reduced value). */
export interface Stats {
  sum: number;
  count: number;
  min: number;
  max: number;
  sumsqr: number;
}

type Acc = Stats | Acc[];

const STAT_FIELDS = ['sum', 'count', 'min', 'max', 'sumsqr'] as const;

/** `builtin_stats` then `finalize`: the same for reduce and rereduce, packed results read back. */
function stats(values: readonly unknown[]): Acc {
  if (values.length === 0) return { sum: 0, count: 0, min: 0, max: 0, sumsqr: 0 };
  let acc = initialStats(values[0]);
  for (const value of values.slice(1)) acc = addStats(value, acc);
  return acc;
}

/** `build_initial_accumulator`. */
function initialStats(value: unknown): Acc {
  if (Array.isArray(value)) return value.map(initialStats);
  if (typeof value === 'number') return single(value);
  if (isObject(value)) return unpackStats(value);
  throw statsFailure(`non-numeric _stats input: ${shown(value)}`);
}

/** `stat_values`: arrays item by item, numbers and pre-reduced stats into the accumulator. */
function addStats(value: unknown, acc: Acc): Acc {
  if (Array.isArray(value) && Array.isArray(acc) && value.length === acc.length) {
    return acc.map((item, i) => addStats(value[i], item));
  }
  if (!Array.isArray(acc)) {
    if (typeof value === 'number') return combine(single(value), acc);
    if (isObject(value)) return combine(unpackStats(value), acc);
  }
  throw statsFailure(`${STATS_ERROR}'${shown(value)}'`);
}

function single(value: number): Stats {
  return { sum: value, count: 1, min: value, max: value, sumsqr: value * value };
}

function combine(a: Stats, b: Stats): Stats {
  return {
    sum: a.sum + b.sum,
    count: a.count + b.count,
    min: Math.min(a.min, b.min),
    max: Math.max(a.max, b.max),
    sumsqr: a.sumsqr + b.sumsqr,
  };
}

/** `unpack_stats` / `get_number`. */
function unpackStats(value: Record<string, unknown>): Stats {
  const unpacked = {} as Stats;
  for (const field of STAT_FIELDS) {
    const number = value[field];
    if (number === undefined) {
      throw statsFailure(`user _stats input missing required field ${field} (${shown(value)})`);
    }
    if (typeof number !== 'number') {
      throw statsFailure(`non-numeric _stats input received for ${field}: ${shown(number)}`);
    }
    unpacked[field] = number;
  }
  return unpacked;
}

/**
 * CouchDB fails the whole query here (`invalid_value`, HTTP 500); Settee's catalogue has no such
 * name, so it is an `unknown_error` with CouchDB's reason and status.
 */
function statsFailure(reason: string): SetteeError {
  return new SetteeError('unknown_error', reason);
}

// --- _approx_count_distinct -------------------------------------------------------------------

/** Distinct keys (not documents) in a HyperLogLog sketch; rereduce is the union of sketches. */
function approxCountDistinct(call: ReduceCall): HyperLogLog {
  const sketch = new HyperLogLog();
  if (call.rereduce) for (const value of call.values) sketch.merge(asSketch(value));
  else for (const [key] of call.keys) sketch.add(canonicalJson(key));
  return sketch;
}

function asSketch(value: unknown): HyperLogLog {
  if (value instanceof HyperLogLog) return value;
  throw new TypeError('_approx_count_distinct rereduces its own sketches only');
}

// --- shared -----------------------------------------------------------------------------------

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
