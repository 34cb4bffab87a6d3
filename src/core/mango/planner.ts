/**
 * The Mango query planner: which index answers a `_find`, which part of it to scan, in which
 * direction, and what `_explain` says about it. Pure: the executor runs the plan.
 *
 * Index choice follows CouchDB 3.x (mango_idx:get_usable_indexes, mango_cursor:create,
 * mango_cursor_view:create/choose_best_index):
 * 1. Candidates: every index without a partial filter selector, plus any index `use_index` names
 *    (partial ones are only used when named), plus the special `_all_docs`.
 * 2. Usable: a JSON index when the selector requires every one of its columns to exist (sort
 *    fields, `_id` and `_rev` excepted: a JSON index only holds documents having all its
 *    columns) and it can serve the sort; `_all_docs` without a sort, or with a sort on `_id` that
 *    the selector constrains. None usable (only possible with a sort): `no_usable_index`.
 * 3. The usable ones `use_index` names, if any, else all usable ones; JSON indexes before
 *    `_all_docs`; among JSON indexes the one whose leading columns cover the most of the
 *    selector's indexable fields, then the one with fewer columns, then by design document id
 *    and name.
 */
import { collate } from './collate.js';
import { mangoError } from './mango-errors.js';
import { buildExplain, type ExplainBody } from './explain.js';
import type { FindRequest } from './find-request.js';
import { ALL_DOCS_INDEX, indexColumns, type MangoIndex, partialFilterSelector } from './index-definition.js';
import {
  conjuncts,
  fieldRange,
  type FieldRange,
  hasRequiredFields,
  indexableFields,
  isConstantField,
  MAX,
  MIN,
  type NormalSelector,
  normalizeSelector,
  rangeCondition,
  single,
} from './normalize.js';

export { DEFAULT_LIMIT, type FindRequest, parseFindRequest } from './find-request.js';
export type { ExplainBody } from './explain.js';

/**
 * One end of a scan over an index's compound keys (arrays of the column values, in column order).
 * `key` is a PREFIX of the compound key: a row is compared on its first `key.length` values only.
 * So an inclusive start `[1]` admits every `[1, …]`, an exclusive one skips them all and starts
 * at the first key whose first value is above 1; an inclusive end `[5]` admits every `[5, …]`,
 * an exclusive one stops before them. The empty prefix `[]` is below (start) or above (end)
 * every key. For `_all_docs` the compound key is `[_id]`.
 */
export interface KeyBound {
  readonly key: readonly unknown[];
  readonly inclusive: boolean;
}

/** The keys a scan must visit, in collation order (`collate`), ends included or not. */
export interface KeyRange {
  readonly start: KeyBound;
  readonly end: KeyBound;
}

/** How to answer one `_find`. */
export interface QueryPlan {
  /** The index to scan: a JSON index or `_all_docs`. */
  readonly index: MangoIndex;
  /**
   * The part of the index to scan, as JSON bounds (the executor turns them into byte ranges);
   * `null` when no document can match (contradictory conditions), so nothing is scanned.
   */
  readonly range: KeyRange | null;
  /** `rev` for a descending sort: scan from the end of the range to its start. */
  readonly direction: 'fwd' | 'rev';
  /**
   * Every document in the range matches the selector, as far as JSON values go (the range
   * expresses the whole selector). The executor re-checks each document all the same: a lossy
   * key encoding or a concurrent write can put a non-matching document in the range.
   */
  readonly exact: boolean;
  /** The index holds every field the response needs (`fields` and the selector's): no document reads. */
  readonly covering: boolean;
  /** The selector in CouchDB's normal form. */
  readonly selector: NormalSelector;
  /** CouchDB's warnings, to join with `\n` (with any the execution adds) in the response. */
  readonly warnings: readonly string[];
  /** The `_explain` response body. */
  readonly explain: ExplainBody;
}

/** What the planner knows of the database besides its indexes. */
export interface PlanContext {
  /** The database name, for `_explain`. */
  readonly dbname: string;
}

/** mango_cursor:no_index_warning, word for word. */
export const NO_INDEX_WARNING = 'No matching index found, create an index to optimize query time.';

/**
 * Plans a validated `_find` over the database's JSON indexes (the special `_all_docs` index is
 * added when absent).
 *
 * @throws `no_usable_index` ("No index exists for this sort, try indexing by the sort fields.")
 *   when the request sorts and no index can serve that sort for this selector.
 */
export function planQuery(
  request: FindRequest,
  indexes: readonly MangoIndex[],
  context: PlanContext,
): QueryPlan {
  const selector = normalizeSelector(request.selector);
  const sortFields = request.sort.map((sort) => sort.field);
  const usable = candidates(indexes, request.useIndex).filter((index) =>
    isUsable(index, selector, sortFields),
  );
  // mango_idx:get_usable_indexes; `_all_docs` serves any unsorted query, so only a sort gets here.
  if (usable.length === 0) throw mangoError('no_usable_index', NO_SORT_INDEX);
  const named = usable.filter((index) => isNamedBy(index, request.useIndex));
  const index = chooseIndex(named.length > 0 ? named : usable, selector);
  const range = isNoop(selector) ? null : scanRange(index, selector);
  const direction = request.sort[0]?.direction === 'desc' ? 'rev' : 'fwd';
  const covering = isCovering(index, request.fields, selector);
  const warnings = [...useIndexWarning(index, request.useIndex), ...noIndexWarning(index)];
  const explain = buildExplain({
    request,
    context,
    index,
    selector,
    direction,
    covering,
    empty: range === null,
  });
  const exact = range !== null && isExact(index, selector);
  return { index, range, direction, exact, covering, selector, warnings, explain };
}

/** mango_error.erl, `{no_usable_index, missing_sort_index}`. */
const NO_SORT_INDEX = 'No index exists for this sort, try indexing by the sort fields.';

// ---------------------------------------------------------------------------------------------
// Candidates and usability

/** Indexes without a partial filter, plus those `use_index` names, plus `_all_docs`. */
function candidates(indexes: readonly MangoIndex[], useIndex: readonly string[]): MangoIndex[] {
  const json = indexes.filter((index) => index.type === 'json');
  return [
    ...json.filter((index) => !partialFilterSelector(index) || isNamedBy(index, useIndex)),
    ALL_DOCS_INDEX,
  ];
}

/** mango_cursor:filter_indexes: `use_index` names the design document (with or without `_design/`) and maybe the index. */
function isNamedBy(index: MangoIndex, useIndex: readonly string[]): boolean {
  const [ddoc, name] = useIndex;
  if (ddoc === undefined) return false;
  const ddocId = ddoc.startsWith('_design/') ? ddoc : `_design/${ddoc}`;
  return index.ddoc === ddocId && (name === undefined || index.name === name);
}

function isUsable(index: MangoIndex, selector: NormalSelector, sortFields: readonly string[]): boolean {
  if (index.type === 'special') return isAllDocsUsable(selector, sortFields);
  const columns = indexColumns(index);
  // mango_idx_view:is_usable: sort fields, `_id` and `_rev` need no condition in the selector.
  const required = [...new Set(columns)]
    .filter((column) => !sortFields.includes(column) && column !== '_id' && column !== '_rev')
    .sort();
  return hasRequiredFields(selector, required) && canUseSort(columns, sortFields, selector);
}

/** mango_idx_special:is_usable: any query without a sort; a sort on `_id` alone if the selector narrows `_id`. */
function isAllDocsUsable(selector: NormalSelector, sortFields: readonly string[]): boolean {
  if (sortFields.length === 0) return true;
  return indexableFields(selector).includes('_id') && isPrefix(sortFields, ['_id']);
}

/**
 * mango_idx_view:can_use_sort: the sort fields must be consecutive columns, and every column
 * before them pinned by an `$eq` (a constant column does not disturb the order).
 */
function canUseSort(
  columns: readonly string[],
  sortFields: readonly string[],
  selector: NormalSelector,
): boolean {
  if (sortFields.length === 0) return true;
  for (const [at, column] of columns.entries()) {
    if (column === sortFields[0]) return isPrefix(sortFields, columns.slice(at));
    if (!isConstantField(selector, column)) return false;
  }
  return false;
}

function isPrefix(prefix: readonly string[], list: readonly string[]): boolean {
  return prefix.length <= list.length && prefix.every((item, at) => list[at] === item);
}

// ---------------------------------------------------------------------------------------------
// Choice

/** JSON indexes first (mango_cursor:group_indexes_by_type), the best by choose_best_index. */
function chooseIndex(usable: readonly MangoIndex[], selector: NormalSelector): MangoIndex {
  const fields = indexableFields(selector);
  const ranked = usable
    .filter((index) => index.type === 'json')
    .map((index) => ({ index, columns: indexColumns(index) }))
    .map(({ index, columns }) => ({ index, columns, missed: fields.length - leadingIn(columns, fields) }));
  ranked.sort(
    (a, b) =>
      a.missed - b.missed ||
      a.columns.length - b.columns.length ||
      compareCodePoints(a.index.ddoc ?? '', b.index.ddoc ?? '') ||
      compareCodePoints(a.index.name, b.index.name),
  );
  return ranked[0]?.index ?? ALL_DOCS_INDEX;
}

/** How many leading columns are among `fields` (mango_cursor_view:composite_prefix). */
function leadingIn(columns: readonly string[], fields: readonly string[]): number {
  const at = columns.findIndex((column) => !fields.includes(column));
  return at < 0 ? columns.length : at;
}

/**
 * Erlang compares the binaries byte by byte (UTF-8, so code point order); UTF-16 order differs
 * only between astral characters and U+E000–U+FFFF, which design document ids rarely mix.
 */
function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

// ---------------------------------------------------------------------------------------------
// Ranges

/**
 * mango_cursor:maybe_noop_range: a selector that is only `$or: []`, `$and: []`, `$in: []` or
 * `$all: []` returns nothing from `_find` (though the matcher takes empty `$and`/`$or` as true).
 */
function isNoop(selector: NormalSelector): boolean {
  const entry = single(selector);
  return (
    entry !== undefined && NOOP_OPERATORS.has(entry[0]) && Array.isArray(entry[1]) && entry[1].length === 0
  );
}

const NOOP_OPERATORS = new Set(['$all', '$and', '$or', '$in']);

/**
 * The tightest prefix range the selector's top-level conditions allow: the values of leading
 * columns pinned by `$eq`, then the bounds of the next column; `null` when the conditions on
 * some field contradict each other. `_all_docs` is scanned whole: it orders ids by code point
 * while the selector compares `_id` by collation, so collation bounds would miss documents.
 */
function scanRange(index: MangoIndex, selector: NormalSelector): KeyRange | null {
  if (indexableFields(selector).some((field) => fieldRange(selector, field) === 'empty')) return null;
  const ranged = rangedColumns(index, selector).map((column) => fieldRange(selector, column) as FieldRange);
  const pinned = ranged.filter((range) => range.lowOp === '$eq').map((range) => range.low);
  const last = ranged.find((range) => range.lowOp !== '$eq');
  const hasLow = last !== undefined && last.low !== MIN;
  const hasHigh = last !== undefined && last.high !== MAX;
  return {
    start: { key: hasLow ? [...pinned, last.low] : pinned, inclusive: !hasLow || last.lowOp === '$gte' },
    end: { key: hasHigh ? [...pinned, last.high] : pinned, inclusive: !hasHigh || last.highOp === '$lte' },
  };
}

/**
 * The columns whose conditions the range expresses in full: the pinned leading ones and the
 * first one after them.
 */
function rangedColumns(index: MangoIndex, selector: NormalSelector): string[] {
  if (index.type !== 'json') return [];
  const columns = indexColumns(index);
  const free = columns.findIndex((column) => (fieldRange(selector, column) as FieldRange).lowOp !== '$eq');
  return free < 0 ? columns : columns.slice(0, free + 1);
}

/** Whether every top-level condition is a range condition on a column the range expresses. */
function isExact(index: MangoIndex, selector: NormalSelector): boolean {
  const ranged = rangedColumns(index, selector);
  return conjuncts(selector).every((part) => {
    const condition = rangeCondition(part);
    return condition !== null && ranged.includes(condition.field);
  });
}

/**
 * An index covers a query whose returned fields and selector use only the index's columns and
 * `_id` (CouchDB's covering indexes: src/docs/rfcs/018-mango-covering-json-index.md, "an index
 * covers a query when the query only requires fields that are in the index"). Whole documents
 * (no `fields`) are never covered.
 */
function isCovering(index: MangoIndex, fields: readonly string[] | null, selector: NormalSelector): boolean {
  if (index.type !== 'json' || fields === null) return false;
  const available = new Set(['_id', ...indexColumns(index)]);
  return [...fields, ...selectorFieldsOf(selector)].every((field) => available.has(field));
}

function selectorFieldsOf(selector: NormalSelector): string[] {
  return conjuncts(selector).flatMap((part) => Object.keys(part));
}

// ---------------------------------------------------------------------------------------------
// Warnings

/** mango_cursor:invalid_index_warning: `use_index` named an index the query does not use. */
function useIndexWarning(index: MangoIndex, useIndex: readonly string[]): string[] {
  const [ddoc, name] = useIndex;
  if (ddoc === undefined || isNamedBy(index, useIndex)) return [];
  const ddocName = ddoc.startsWith('_design/') ? ddoc.slice('_design/'.length) : ddoc;
  return name === undefined
    ? [`_design/${ddocName} was not used because it does not contain a valid index for this query.`]
    : [`_design/${ddocName}, ${name} was not used because it is not a valid index for this query.`];
}

/** mango_cursor:no_index_warning: the query scans `_all_docs`. */
function noIndexWarning(index: MangoIndex): string[] {
  return index.type === 'special' ? [NO_INDEX_WARNING] : [];
}

/** Whether a row's compound key lies in `range`, comparing prefixes by collation (see {@link KeyBound}). */
export function keyInRange(key: readonly unknown[], range: KeyRange): boolean {
  const fromStart = comparePrefix(key, range.start.key);
  const toEnd = comparePrefix(key, range.end.key);
  return (
    (fromStart > 0 || (fromStart === 0 && range.start.inclusive)) &&
    (toEnd < 0 || (toEnd === 0 && range.end.inclusive))
  );
}

function comparePrefix(key: readonly unknown[], prefix: readonly unknown[]): number {
  for (const [at, bound] of prefix.entries()) {
    const order = collate(key[at], bound);
    if (order !== 0) return order;
  }
  return 0;
}
