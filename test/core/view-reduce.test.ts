/*
 * Facts from CouchDB: src/couch/src/couch_query_servers.erl (apache/couchdb main).
 * - `builtin_reduce` matches built-ins by prefix (`<<"_sum", _/binary>>`, …).
 * - `_count`: `length(KVs)` on reduce, `builtin_sum_rows` on rereduce.
 * - `_sum` (`builtin_sum_rows`, `sum_values`, `sum_arrays`, `sum_objects`, and the eunit tests
 *   `sum_values_test`, `builtin_sum_rows_negative_test`): numbers, arrays element-wise (the
 *   longer tail kept), a number into an array's first item, objects field by field; a value it
 *   cannot add makes the result `{"error":"builtin_reduce_error","reason":?SUMERROR,
 *   "caused_by":…}` instead of failing, and that object stays the result on rereduce.
 * - `_stats` (`builtin_stats`, `stat_values`, `build_initial_accumulator`, `unpack_stats`,
 *   `get_number`, `pack_stats`, eunit `reduce_stats_test`): {sum,count,min,max,sumsqr}, arrays
 *   item by item, pre-reduced stats objects accepted; other values throw `invalid_value`
 *   ("The _stats function requires that map values be numbers or arrays of numbers, not '~p'"),
 *   which chttpd.erl `error_info({Error, Reason})` answers with a 500.
 * - `_approx_count_distinct`: a `couch_hyper:new(11)` sketch of the keys (`[[Key, _Id], _]`),
 *   union on rereduce, `round(couch_hyper:card(…))` in `finalize`.
 */
import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import {
  builtinReducer,
  HyperLogLog,
  SUM_ERROR,
  type ReduceCall,
  type Reducer,
} from '../../src/core/views/index.js';

function reducer(name: string): Reducer {
  const found = builtinReducer(name);
  if (!found) throw new Error(`no built-in ${name}`);
  return found;
}

/** Reduces emitted values (keys and ids made up), finalized as a view row shows it. */
async function reduce(
  name: string,
  values: unknown[],
  keys: unknown[] = values.map((_, i) => i),
): Promise<unknown> {
  const r = reducer(name);
  const call: ReduceCall = { rereduce: false, keys: keys.map((key, i) => [key, `doc${i}`] as const), values };
  const [result] = await r.reduce([call]);
  return r.finalize(result);
}

/** Reduces each part, then rereduces the partial results. */
async function reduceInParts(name: string, parts: unknown[][]): Promise<unknown> {
  const r = reducer(name);
  const partials = await r.reduce(
    parts.map((values) => ({ rereduce: false, keys: values.map((v, i) => [v, `doc${i}`] as const), values })),
  );
  const [result] = await r.reduce([{ rereduce: true, values: partials }]);
  return r.finalize(result);
}

describe('builtinReducer', () => {
  it('knows the built-ins by prefix, as CouchDB matches them', () => {
    expect(builtinReducer('_sum')?.name).toBe('_sum');
    expect(builtinReducer('_sum\n')?.name).toBe('_sum');
    expect(builtinReducer('_count_anything')?.name).toBe('_count');
    expect(builtinReducer('_stats')?.name).toBe('_stats');
    expect(builtinReducer('_approx_count_distinct')?.name).toBe('_approx_count_distinct');
    expect(builtinReducer('_median')).toBeUndefined();
    expect(builtinReducer('function (keys, values) { return sum(values); }')).toBeUndefined();
  });

  it('answers every call of a batch, in order', async () => {
    const results = await reducer('_count').reduce([
      { rereduce: false, keys: [['a', 'x']], values: [1] },
      { rereduce: true, values: [2, 3] },
      { rereduce: false, keys: [], values: [] },
    ]);
    expect(results).toEqual([1, 5, 0]);
  });
});

describe('_count', () => {
  it('counts rows, and adds counts on rereduce', async () => {
    expect(await reduce('_count', ['x', null, { a: 1 }])).toBe(3);
    expect(await reduceInParts('_count', [[1, 2], [3], []])).toBe(3);
  });
});

describe('_sum', () => {
  it('adds numbers', async () => {
    expect(await reduce('_sum', [1, 2.5, -3])).toBe(0.5);
    expect(await reduce('_sum', [])).toBe(0);
    expect(await reduceInParts('_sum', [[1, 2], [3]])).toBe(6);
  });

  it('adds arrays item by item, keeping the longer tail, and a number into the first item', async () => {
    expect(
      await reduce('_sum', [
        [3, 2, 4],
        [0, 3, 3],
      ]),
    ).toEqual([3, 5, 7]);
    expect(await reduce('_sum', [[1, 2], [3]])).toEqual([4, 2]);
    expect(await reduce('_sum', [[1, 4, 6], 1])).toEqual([2, 4, 6]);
    expect(await reduce('_sum', [1, [1, 4, 6]])).toEqual([2, 4, 6]);
  });

  it('adds objects field by field, nested, as sum_values_test does, fields sorted', async () => {
    const x = { a: 1, b: [1, 2], c: { d: 3 }, g: 1 };
    const y = { g: 1, a: 2, b: 3, c: { e: 5 }, f: 1 };
    const z = { a: 3, b: [4, 2], c: { d: 3, e: 5 }, f: 1, g: 2 };
    expect(await reduce('_sum', [x, y])).toEqual(z);
    expect(await reduce('_sum', [y, x])).toEqual(z);
    expect(Object.keys((await reduce('_sum', [y, x])) as object)).toEqual(['a', 'b', 'c', 'f', 'g']);
    expect(await reduceInParts('_sum', [[x], [y]])).toEqual(z);
  });

  it('makes a value it cannot add the result, as a builtin_reduce_error object', async () => {
    expect(await reduce('_sum', [1, 'two', 3])).toEqual({
      error: 'builtin_reduce_error',
      reason: SUM_ERROR,
      caused_by: 'two',
    });
    expect(SUM_ERROR).toBe(
      'The _sum function requires that map values be numbers, arrays of numbers, or objects. Objects ' +
        'cannot be mixed with other data structures. Objects can be arbitrarily nested, provided that ' +
        'the values for all fields are themselves numbers, arrays of numbers, or objects.',
    );
    // An object after a number other than the starting 0 cannot be added either.
    expect(await reduce('_sum', [1, { a: 1 }])).toMatchObject({ error: 'builtin_reduce_error' });
    expect(
      await reduce('_sum', [
        [1, 2],
        ['x', 2],
      ]),
    ).toMatchObject({ error: 'builtin_reduce_error' });
    expect(await reduce('_sum', [null])).toMatchObject({ error: 'builtin_reduce_error', caused_by: null });
  });

  it('keeps the error as the result through rereduce', async () => {
    const result = await reduceInParts('_sum', [[1, 2], [true], [4]]);
    expect(result).toEqual({ error: 'builtin_reduce_error', reason: SUM_ERROR, caused_by: true });
  });
});

describe('_stats', () => {
  const stats = (sum: number, count: number, min: number, max: number, sumsqr: number) => ({
    sum,
    count,
    min,
    max,
    sumsqr,
  });

  it('gives sum, count, min, max and sumsqr, in that order', async () => {
    const result = await reduce('_stats', [2, -1, 5]);
    expect(result).toEqual(stats(6, 3, -1, 5, 30));
    expect(Object.keys(result as object)).toEqual(['sum', 'count', 'min', 'max', 'sumsqr']);
    expect(await reduce('_stats', [])).toEqual(stats(0, 0, 0, 0, 0));
  });

  it('takes arrays of numbers item by item (reduce_stats_test)', async () => {
    expect(await reduce('_stats', [[1, 2]])).toEqual([stats(1, 1, 1, 1, 1), stats(2, 1, 2, 2, 4)]);
    expect(
      await reduce('_stats', [
        [2, 3, 5],
        [7, 11, 13],
      ]),
    ).toEqual([stats(9, 2, 2, 7, 53), stats(14, 2, 3, 11, 130), stats(18, 2, 5, 13, 194)]);
  });

  it('rereduces its own results, and takes pre-reduced stats as map values', async () => {
    expect(await reduceInParts('_stats', [[1, 2], [3], [10, -4]])).toEqual(stats(12, 5, -4, 10, 130));
    expect(await reduce('_stats', [stats(10, 2, 4, 6, 52), 1])).toEqual(stats(11, 3, 1, 6, 53));
  });

  it('fails the query with a 500 and CouchDB’s reason on values it cannot count', async () => {
    await expect(
      reducer('_stats').reduce([
        {
          rereduce: false,
          keys: [
            [1, 'a'],
            [2, 'b'],
          ],
          values: [1, 'x'],
        },
      ]),
    ).rejects.toMatchObject({
      status: 500,
      reason: `The _stats function requires that map values be numbers or arrays of numbers, not '"x"'`,
    });
    await expect(
      reducer('_stats').reduce([{ rereduce: false, keys: [[1, 'a']], values: [true] }]),
    ).rejects.toMatchObject({ reason: 'non-numeric _stats input: true' });
    await expect(
      reducer('_stats').reduce([{ rereduce: false, keys: [[1, 'a']], values: [{ sum: 1 }] }]),
    ).rejects.toMatchObject({ reason: 'user _stats input missing required field count ({"sum":1})' });
    await expect(
      reducer('_stats').reduce([{ rereduce: true, values: [stats(1, 1, 1, 1, 1), [1]] }]),
    ).rejects.toBeInstanceOf(SetteeError);
  });
});

describe('_approx_count_distinct', () => {
  it('estimates 10,000 distinct keys within 5%, 2.3% error on average (precision 11)', async () => {
    // Eight different sets of 10,000 keys: each estimate within 5%, and the root mean square of
    // the relative errors near the 2.3% standard error (a coarser sketch would miss both).
    const errors: number[] = [];
    for (let till = 0; till < 8; till++) {
      const keys = Array.from({ length: 10_000 }, (_, i) => ['till', till, `sale-${i}`]);
      const estimate = (await reduce(
        '_approx_count_distinct',
        keys.map(() => 1),
        keys,
      )) as number;
      expect(Number.isInteger(estimate)).toBe(true);
      errors.push((estimate - 10_000) / 10_000);
    }
    expect(Math.max(...errors.map(Math.abs))).toBeLessThan(0.05);
    expect(Math.sqrt(errors.reduce((total, e) => total + e * e, 0) / errors.length)).toBeLessThan(0.03);
  });

  it('counts keys, not rows or documents, and equal keys once whatever their field order', async () => {
    const keys = ['a', 'b', 'a', { x: 1, y: 2 }, { y: 2, x: 1 }, 'b'];
    expect(
      await reduce(
        '_approx_count_distinct',
        keys.map(() => null),
        keys,
      ),
    ).toBe(3);
  });

  it('is exact for small sets and merges sketches on rereduce', async () => {
    const part = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `k${from + i}`);
    expect(await reduceInParts('_approx_count_distinct', [part(0, 60), part(30, 100), part(90, 100)])).toBe(
      100,
    );
  });

  it('rereduced, estimates as if reduced at once', async () => {
    const keys = Array.from({ length: 5_000 }, (_, i) => i);
    const once = await reduce('_approx_count_distinct', keys);
    const parts = [keys.slice(0, 1234), keys.slice(1234, 4000), keys.slice(4000)];
    expect(await reduceInParts('_approx_count_distinct', parts)).toBe(once);
  });

  it('starts empty', () => {
    expect(new HyperLogLog().estimate()).toBe(0);
  });
});
