/*
 * Facts from CouchDB: src/couch_mrview/src/couch_mrview.erl
 * - `group_rows_fun`: exact compares whole keys; level 0 puts every row in one group; a level
 *   compares `lists:sublist(Key, Level)` of non-empty array keys and any other key whole.
 * - `red_fold`: the row's key is `null` at level 0, the key at `exact`, `lists:sublist(K, I)`
 *   for an array key at level I and the key itself otherwise; `skip` and `limit` count groups.
 * - An empty range reduces to no row at all (the fold never calls back).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collate } from '../../src/core/mango/index.js';
import {
  builtinReducer,
  groupKey,
  reduceRows,
  type Grouping,
  type ReduceBatch,
  type ReduceCall,
  type ReducedRow,
  type ReduceRowsOptions,
  type ViewRow,
} from '../../src/core/views/index.js';

const sum = builtinReducer('_sum')!;
const count = builtinReducer('_count')!;

/** A real built-in, recording every call made to it. */
function recorded(inner: ReduceBatch): { reduce: ReduceBatch; calls: ReduceCall[]; batches: number } {
  const log = { calls: [] as ReduceCall[], batches: 0 };
  return Object.assign(log, {
    reduce: (calls: readonly ReduceCall[]) => {
      log.batches++;
      log.calls.push(...calls);
      return inner(calls);
    },
  });
}

async function* batches(rows: readonly ViewRow[], size: number): AsyncGenerator<ViewRow[]> {
  for (let i = 0; i < rows.length; i += size) yield rows.slice(i, i + size);
}

async function collect(
  rows: readonly ViewRow[],
  grouping: Grouping,
  reduce: ReduceBatch = sum.reduce,
  options: ReduceRowsOptions & { batchSize?: number } = {},
): Promise<ReducedRow[]> {
  const out: ReducedRow[] = [];
  for await (const row of reduceRows(batches(rows, options.batchSize ?? 3), grouping, reduce, options))
    out.push(row);
  return out;
}

const row = (key: unknown, value: unknown = 1, id = 'doc'): ViewRow => ({ key, id, value });

/** Sales keyed by [year, month, day], in view order. */
const SALES: ViewRow[] = [
  row([2024, 1, 1], 5),
  row([2024, 1, 1], 7, 'doc2'),
  row([2024, 1, 2], 1),
  row([2024, 2, 9], 10),
  row([2025, 1, 1], 2),
  row([2025, 3], 4),
];

describe('groupKey', () => {
  it('shows one null key for everything, the whole key when exact, a prefix of array keys', () => {
    expect(groupKey([2024, 1, 1], 'all')).toBeNull();
    expect(groupKey([2024, 1, 1], 'exact')).toEqual([2024, 1, 1]);
    expect(groupKey([2024, 1, 1], 2)).toEqual([2024, 1]);
    expect(groupKey([2024], 2)).toEqual([2024]);
    expect(groupKey([], 1)).toEqual([]);
  });

  it('leaves a key that is no array whole at any level', () => {
    expect(groupKey('till-3', 1)).toBe('till-3');
    expect(groupKey({ a: [1, 2] }, 1)).toEqual({ a: [1, 2] });
  });
});

describe('reduceRows', () => {
  it('reduces everything to one row keyed null', async () => {
    expect(await collect(SALES, 'all')).toEqual([{ key: null, value: 29 }]);
  });

  it('reduces each distinct key exactly', async () => {
    expect(await collect(SALES, 'exact')).toEqual([
      { key: [2024, 1, 1], value: 12 },
      { key: [2024, 1, 2], value: 1 },
      { key: [2024, 2, 9], value: 10 },
      { key: [2025, 1, 1], value: 2 },
      { key: [2025, 3], value: 4 },
    ]);
  });

  it('groups by the first items of array keys at a level', async () => {
    expect(await collect(SALES, 1)).toEqual([
      { key: [2024], value: 23 },
      { key: [2025], value: 6 },
    ]);
    expect(await collect(SALES, 2)).toEqual([
      { key: [2024, 1], value: 13 },
      { key: [2024, 2], value: 10 },
      { key: [2025, 1], value: 2 },
      { key: [2025, 3], value: 4 },
    ]);
  });

  it('groups keys that are no arrays by the whole key at a level', async () => {
    const rows = [row(null), row('a'), row('a'), row(['a', 1]), row(['a', 2]), row({ a: 1 })];
    expect(await collect(rows, 1, count.reduce)).toEqual([
      { key: null, value: 1 },
      { key: 'a', value: 2 },
      { key: ['a'], value: 2 },
      { key: { a: 1 }, value: 1 },
    ]);
  });

  it('groups descending rows the same way', async () => {
    expect(await collect([...SALES].reverse(), 1)).toEqual([
      { key: [2025], value: 6 },
      { key: [2024], value: 23 },
    ]);
  });

  it('gives no row for no rows', async () => {
    expect(await collect([], 'all')).toEqual([]);
    expect(await collect([], 'exact')).toEqual([]);
  });

  it('skips and limits groups, reducing none of the skipped ones', async () => {
    const spy = recorded(sum.reduce);
    expect(await collect(SALES, 'exact', spy.reduce, { skip: 1, limit: 2 })).toEqual([
      { key: [2024, 1, 2], value: 1 },
      { key: [2024, 2, 9], value: 10 },
    ]);
    expect(spy.calls.flatMap((call) => call.values)).toEqual([1, 10]);
  });

  it('stops reading the rows once the limit is reached', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<ViewRow[]> {
      for (let day = 1; ; day++) {
        pulled++;
        yield [row([2024, day], 1), row([2024, day], 2)];
      }
    }
    const out: ReducedRow[] = [];
    for await (const reduced of reduceRows(endless(), 'exact', sum.reduce, { limit: 3 })) out.push(reduced);
    expect(out.map((r) => r.value)).toEqual([3, 3, 3]);
    expect(pulled).toBe(4); // a group ends when the next one starts
    expect(await collect(SALES, 'exact', sum.reduce, { limit: 0 })).toEqual([]);
  });

  it('yields a group once the batch it ended in is read, before the next batch is asked for', async () => {
    const asked: number[] = [];
    async function* twoBatches(): AsyncGenerator<ViewRow[]> {
      asked.push(1);
      yield [row('a'), row('a'), row('b')];
      asked.push(2);
      yield [row('b'), row('c')];
    }
    const rows = reduceRows(twoBatches(), 'exact', count.reduce);
    expect((await rows.next()).value).toEqual({ key: 'a', value: 2 });
    expect(asked).toEqual([1]);
    expect((await rows.next()).value).toEqual({ key: 'b', value: 2 });
    expect((await rows.next()).value).toEqual({ key: 'c', value: 1 });
    expect((await rows.next()).done).toBe(true);
  });

  it('reduces the small groups of one batch in one call', async () => {
    const spy = recorded(count.reduce);
    const rows = Array.from({ length: 30 }, (_, i) => row(`k${String(i).padStart(2, '0')}`));
    expect(await collect(rows, 'exact', spy.reduce, { batchSize: 10 })).toHaveLength(30);
    // A batch's last group ends only in the next batch: 9 + 10 + 10 groups, then the last one.
    expect(spy.batches).toBe(4);
  });

  it('reduces a large group in chunks and rereduces the partial results, one chunk in memory', async () => {
    const spy = recorded(sum.reduce);
    const rows = Array.from({ length: 25 }, (_, i) => row('big', i + 1, `doc${i}`));
    expect(
      await collect([row('a', 100), ...rows], 'exact', spy.reduce, { chunkSize: 10, batchSize: 4 }),
    ).toEqual([
      { key: 'a', value: 100 },
      { key: 'big', value: 325 },
    ]);
    expect(Math.max(...spy.calls.map((call) => call.values.length))).toBeLessThanOrEqual(10);
    expect(spy.calls.map((call) => [call.rereduce, call.values.length])).toEqual([
      [false, 1],
      [false, 10],
      [false, 10],
      [false, 5],
      [true, 3],
    ]);
  });

  it('rereduces partial results in turn when they fill a chunk', async () => {
    const spy = recorded(count.reduce);
    const rows = Array.from({ length: 50 }, (_, i) => row('big', null, `doc${i}`));
    expect(await collect(rows, 'all', spy.reduce, { chunkSize: 3, batchSize: 7 })).toEqual([
      { key: null, value: 50 },
    ]);
    expect(Math.max(...spy.calls.map((call) => call.values.length))).toBeLessThanOrEqual(3);
  });

  it('finalizes each row once, after the last rereduce', async () => {
    const distinct = builtinReducer('_approx_count_distinct')!;
    const rows = Array.from({ length: 40 }, (_, i) => row(['t', i % 10], 1, `doc${i}`));
    const out = await collect(rows, 1, distinct.reduce, { chunkSize: 7, finalize: distinct.finalize });
    expect(out).toEqual([{ key: ['t'], value: 10 }]);
  });
});

describe('reduceRows (properties)', () => {
  const keyArb = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 0, maxLength: 3 });
  const rowsArb = fc
    .array(
      fc.record({ key: keyArb, id: fc.constantFrom('a', 'b'), value: fc.integer({ min: -50, max: 50 }) }),
      {
        maxLength: 60,
      },
    )
    .map((rows) =>
      [...rows].sort((a, b) => collate(a.key, b.key) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    );
  const groupingArb = fc.oneof(fc.constantFrom<Grouping>('all', 'exact'), fc.integer({ min: 1, max: 3 }));

  /** The reference: group naively, reduce each group in one call. */
  async function oneShot(rows: ViewRow[], grouping: Grouping, name: string): Promise<ReducedRow[]> {
    const reducer = builtinReducer(name)!;
    const groups: { key: unknown; rows: ViewRow[] }[] = [];
    for (const r of rows) {
      const key = groupKey(r.key, grouping);
      const last = groups.at(-1);
      if (last && collate(last.key, key) === 0) last.rows.push(r);
      else groups.push({ key, rows: [r] });
    }
    const results = await reducer.reduce(
      groups.map((g) => ({
        rereduce: false,
        keys: g.rows.map((r) => [r.key, r.id] as const),
        values: g.rows.map((r) => r.value),
      })),
    );
    return groups.map((g, i) => ({ key: g.key, value: reducer.finalize(results[i]) }));
  }

  it('chunked and streamed, equals one-shot reduce for _sum, _count and _stats', async () => {
    await fc.assert(
      fc.asyncProperty(
        rowsArb,
        groupingArb,
        fc.constantFrom('_sum', '_count', '_stats'),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 8 }),
        async (rows, grouping, name, chunkSize, batchSize) => {
          const reducer = builtinReducer(name)!;
          const streamed = await collect(rows, grouping, reducer.reduce, { chunkSize, batchSize });
          expect(streamed).toEqual(await oneShot(rows, grouping, name));
        },
      ),
    );
  });

  it('grouping by a level equals rereducing the exact groups by their prefix', async () => {
    await fc.assert(
      fc.asyncProperty(rowsArb, fc.integer({ min: 1, max: 3 }), async (rows, level) => {
        const exact = await collect(rows, 'exact');
        const regrouped: ReducedRow[] = [];
        for (const r of exact) {
          const key = groupKey(r.key, level);
          const last = regrouped.at(-1);
          if (last && collate(last.key, key) === 0)
            regrouped[regrouped.length - 1] = { key, value: (last.value as number) + (r.value as number) };
          else regrouped.push({ key, value: r.value });
        }
        expect(await collect(rows, level)).toEqual(regrouped);
      }),
    );
  });
});
