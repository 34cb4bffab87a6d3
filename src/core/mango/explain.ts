/**
 * The body of `POST /{db}/_explain`, in CouchDB's shape (mango_cursor:explain with
 * mango_cursor_view:explain's `mrargs`; `covering` as CouchDB 3.4 adds it). The view keys are
 * CouchDB's own, built as mango_idx_view:start_key/end_key build them from the field ranges
 * (looser than the range Settee scans), with `"<MAX>"` for the key above every value
 * (mango_cursor_view:maybe_replace_max_json).
 */
import type { FindRequest } from './find-request.js';
import { indexColumns, indexJson, type MangoIndex } from './index-definition.js';
import { fieldRange, type FieldRange, indexableFields, MAX, MIN, type NormalSelector } from './normalize.js';

/** CouchDB's `_explain` response. */
export interface ExplainBody {
  dbname: string;
  index: Record<string, unknown>;
  partitioned: boolean;
  selector: NormalSelector;
  opts: Record<string, unknown>;
  limit: number;
  skip: number;
  /** `[]` means whole documents. */
  fields: string[];
  mrargs: {
    include_docs: boolean;
    view_type: 'map';
    reduce: false;
    partition: null;
    start_key: unknown;
    end_key: unknown;
    direction: 'fwd' | 'rev';
    stable: boolean;
    update: boolean;
    /** CouchDB prints its default, the atom `undefined`, as a string. */
    conflicts: true | 'undefined';
  };
  covering: boolean;
}

/** What the planner decided, for the explanation. */
export interface ExplainInput {
  readonly request: FindRequest;
  readonly context: { readonly dbname: string };
  readonly index: MangoIndex;
  readonly selector: NormalSelector;
  readonly direction: 'fwd' | 'rev';
  readonly covering: boolean;
  /** No document can match: CouchDB shows `null` keys then (mango_cursor_view:base_args). */
  readonly empty: boolean;
}

const MAX_KEY = '<MAX>';

export function buildExplain(input: ExplainInput): ExplainBody {
  const { request, index, direction } = input;
  const [start, end] = input.empty ? [null, null] : viewKeys(index, input.selector);
  const fields = request.fields ?? [];
  return {
    dbname: input.context.dbname,
    index: indexJson(index),
    partitioned: false,
    selector: input.selector,
    opts: explainOpts(request),
    limit: request.limit,
    skip: request.skip,
    fields,
    mrargs: {
      // mango_cursor_view:apply_opts: r > 1 reads documents at the coordinator instead.
      include_docs: request.r === 1,
      view_type: 'map',
      reduce: false,
      partition: null,
      start_key: direction === 'rev' ? end : start,
      end_key: direction === 'rev' ? start : end,
      direction,
      stable: request.stable || request.stale === 'ok',
      update: request.update && request.stale !== 'ok',
      conflicts: request.conflicts ? true : 'undefined',
    },
    covering: input.covering,
  };
}

/** The options as mango_opts returns them, in its order (`sort` as an object, `bookmark` "nil"). */
function explainOpts(request: FindRequest): Record<string, unknown> {
  return {
    use_index: request.useIndex,
    bookmark: request.bookmark ?? 'nil',
    limit: request.limit,
    skip: request.skip,
    sort: Object.fromEntries(request.sort.map((sort) => [sort.field, sort.direction])),
    fields: request.fields ?? [],
    partition: '',
    r: request.r,
    conflicts: request.conflicts,
    stale: request.stale,
    update: request.update,
    stable: request.stable,
    execution_stats: request.executionStats,
  };
}

/** CouchDB's start and end keys, ascending. */
function viewKeys(index: MangoIndex, selector: NormalSelector): [unknown, unknown] {
  if (index.type === 'special') {
    // mango_idx_special:start_key/end_key: bare ids, "" and the maximal string when unbounded.
    const range = fieldRange(selector, '_id') as FieldRange;
    return [range.low === MIN ? '' : range.low, range.high === MAX ? MAX_KEY : range.high];
  }
  const fields = indexableFields(selector);
  const columns = indexColumns(index);
  const leading = columns.slice(0, prefixLength(columns, fields));
  const ranges = leading.map((column) => fieldRange(selector, column) as FieldRange);
  return [startKey(ranges), endKey(ranges)];
}

function prefixLength(columns: readonly string[], fields: readonly string[]): number {
  const at = columns.findIndex((column) => !fields.includes(column));
  return at < 0 ? columns.length : at;
}

/** mango_idx_view:start_key: the lower values, up to the first unbounded one. */
function startKey(ranges: readonly FieldRange[]): unknown[] {
  const firstOpen = ranges.findIndex((range) => range.low === MIN);
  return (firstOpen < 0 ? ranges : ranges.slice(0, firstOpen)).map((range) => range.low);
}

/** mango_idx_view:end_key: the upper values, then the maximal key (also after the last range). */
function endKey(ranges: readonly FieldRange[]): unknown[] {
  const firstOpen = ranges.findIndex((range) => range.high === MAX);
  const bounded = firstOpen < 0 ? ranges : ranges.slice(0, firstOpen);
  return [...bounded.map((range) => range.high), MAX_KEY];
}
