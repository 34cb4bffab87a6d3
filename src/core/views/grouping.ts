/**
 * Reduced view rows, grouped as CouchDB groups them (couch_mrview.erl `group_rows_fun` and
 * `red_fold`), computed as rows stream by: one group's values in memory at a time, reduced in
 * chunks and rereduced when the group is large.
 */
import { collate } from '../mango/collate.js';
import type { ReduceBatch, ReduceCall } from './builtin-reduce.js';
import type { Grouping } from './params.js';
import type { ViewRow } from './range.js';

/** A row of a reduced view. */
export interface ReducedRow {
  readonly key: unknown;
  readonly value: unknown;
}

export interface ReduceRowsOptions {
  /** Groups to leave out before the first one returned (they are not reduced at all). */
  readonly skip?: number;
  /** Groups to return at most; the input is left unread after the last one. */
  readonly limit?: number;
  /** Values per reduce call, and partial results per rereduce call (default 1000). */
  readonly chunkSize?: number;
  /** Turns a group's final reduction into the row's value (`Reducer.finalize`). */
  readonly finalize?: (value: unknown) => unknown;
}

/**
 * The key a row's group shows: `null` for one group of everything, the first `level` items of
 * an array key, and any other key whole (CouchDB applies a level to array keys only).
 */
export function groupKey(key: unknown, grouping: Grouping): unknown {
  if (grouping === 'all') return null;
  if (grouping === 'exact' || !Array.isArray(key)) return key;
  return key.slice(0, grouping);
}

/** Whether two row keys fall in the same group: their group keys collate equal. */
export function sameGroup(a: unknown, b: unknown, grouping: Grouping): boolean {
  return grouping === 'all' || collate(groupKey(a, grouping), groupKey(b, grouping)) === 0;
}

/** A group being read: its emitted rows not yet reduced, and the reductions of earlier chunks. */
interface OpenGroup {
  readonly key: unknown;
  readonly firstKey: unknown;
  keys: (readonly [unknown, string])[];
  values: unknown[];
  partials: unknown[];
}

/** A finished group waiting for its reduction: either computed already, or one call to make. */
type Settled = { key: unknown; value: unknown };
type Finished = Settled | { key: unknown; call: ReduceCall };

/**
 * Reduces sorted view rows (ascending or descending: groups are contiguous either way) to one
 * row per group, yielded once its group has ended and the batch it ended in is read. Small
 * groups that end in the same input batch share one `reduce` call; a group larger than
 * `chunkSize` is reduced chunk by chunk and its partial results rereduced, so memory holds one
 * chunk of it at a time.
 *
 * @example
 * const sum = builtinReducer('_sum')!;
 * for await (const row of reduceRows(rows, 'exact', sum.reduce, { finalize: sum.finalize })) …
 */
export async function* reduceRows(
  rows: AsyncIterable<readonly ViewRow[]>,
  grouping: Grouping,
  reduce: ReduceBatch,
  options: ReduceRowsOptions = {},
): AsyncGenerator<ReducedRow> {
  const reducer = new GroupReducer(grouping, reduce, options);
  if (reducer.done) return;
  for await (const batch of rows) {
    for (const row of batch) await reducer.add(row);
    yield* await reducer.flush();
    if (reducer.done) return;
  }
  await reducer.end();
  yield* await reducer.flush();
}

/** The state of `reduceRows`: the open group, finished groups not yet yielded, skip and limit. */
class GroupReducer {
  private open: OpenGroup | undefined;
  private finished: Finished[] = [];
  private pendingValues = 0;
  private toSkip: number;
  private remaining: number;
  private readonly chunkSize: number;
  private readonly finalize: (value: unknown) => unknown;

  constructor(
    private readonly grouping: Grouping,
    private readonly reduce: ReduceBatch,
    options: ReduceRowsOptions,
  ) {
    this.toSkip = options.skip ?? 0;
    this.remaining = options.limit ?? Infinity;
    this.chunkSize = options.chunkSize ?? 1000;
    this.finalize = options.finalize ?? ((value) => value);
  }

  /** Every group the limit allows is out: nothing more needs reading. */
  get done(): boolean {
    return this.remaining <= 0;
  }

  async add(row: ViewRow): Promise<void> {
    if (this.done) return;
    if (this.open && !sameGroup(this.open.firstKey, row.key, this.grouping)) await this.close();
    if (this.done) return;
    this.open ??= {
      key: groupKey(row.key, this.grouping),
      firstKey: row.key,
      keys: [],
      values: [],
      partials: [],
    };
    if (this.toSkip > 0) return; // a skipped group is only read past, never reduced
    this.open.keys.push([row.key, row.id]);
    this.open.values.push(row.value);
    if (this.open.values.length >= this.chunkSize) await this.reduceChunk(this.open);
  }

  /** The input has ended: its last group is finished too. */
  async end(): Promise<void> {
    if (this.open && !this.done) await this.close();
  }

  /** Reduces the finished groups not yet reduced, in one call, and hands their rows out in order. */
  async flush(): Promise<ReducedRow[]> {
    const settled = await this.settle(this.finished);
    this.finished = [];
    return settled.map((group) => ({ key: group.key, value: this.finalize(group.value) }));
  }

  private async close(): Promise<void> {
    const group = this.open as OpenGroup;
    this.open = undefined;
    if (this.toSkip > 0) {
      this.toSkip--;
      return;
    }
    this.remaining--;
    if (group.partials.length === 0) {
      this.finished.push({
        key: group.key,
        call: { rereduce: false, keys: group.keys, values: group.values },
      });
      this.pendingValues += group.values.length;
    } else {
      if (group.values.length > 0) await this.reduceChunk(group);
      this.finished.push({
        key: group.key,
        value: await this.reduceOne({ rereduce: true, values: group.partials }),
      });
    }
    // Many small groups in one long batch: reduce them before they pile up.
    if (this.pendingValues >= this.chunkSize) this.finished = await this.settle(this.finished);
  }

  /** Reduces a full chunk of a group; rereduces its partial results once they fill a chunk too. */
  private async reduceChunk(group: OpenGroup): Promise<void> {
    group.partials.push(await this.reduceOne({ rereduce: false, keys: group.keys, values: group.values }));
    group.keys = [];
    group.values = [];
    if (group.partials.length >= this.chunkSize) {
      group.partials = [await this.reduceOne({ rereduce: true, values: group.partials })];
    }
  }

  /** Makes the pending calls now, in one batch, keeping every group in its place. */
  private async settle(finished: Finished[]): Promise<Settled[]> {
    this.pendingValues = 0;
    const calls = finished.flatMap((group) => ('call' in group ? [group.call] : []));
    const results = calls.length > 0 ? await this.reduce(calls) : [];
    let next = 0;
    return finished.map((group) => ('call' in group ? { key: group.key, value: results[next++] } : group));
  }

  private async reduceOne(call: ReduceCall): Promise<unknown> {
    const [result] = await this.reduce([call]);
    return result;
  }
}
