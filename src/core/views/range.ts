/**
 * Which view rows a query selects. View rows sort by (key in CouchDB collation, then document id
 * in raw byte order), as CouchDB's view B-tree does (couch_ejson_compare.erl `less_json_ids`);
 * a query's bounds are (key, doc id) pairs whose doc id defaults to the lowest or highest id
 * (couch_mrview_util.erl `validate_args`, `key_opts`, `skey_opts`, `ekey_opts`).
 */
import { queryParseError } from '../errors.js';
import { collate } from '../mango/collate.js';
import type { ViewQuery } from './params.js';

/** A row of a view index: what a map function emitted for one document. */
export interface ViewRow {
  readonly key: unknown;
  readonly id: string;
  readonly value: unknown;
}

/** One edge of a range: a key, and the document id within that key. */
export interface RangeEdge {
  readonly key: unknown;
  /** Absent: every id of the key (CouchDB defaults it to the lowest or highest id). */
  readonly docId?: string;
}

/** A contiguous run of rows in scan order: `start` is met first, `end` last. */
export interface KeyRange {
  readonly descending: boolean;
  readonly inclusiveEnd: boolean;
  readonly start?: RangeEdge;
  readonly end?: RangeEdge;
}

/** Key bounds for a storage scan: a superset of the range, to be filtered by {@link rowInRange}. */
export interface ScanBounds {
  readonly descending: boolean;
  /** Always inclusive. */
  readonly start?: unknown;
  readonly end?: unknown;
  /** False only when every row of the end key is outside the range. */
  readonly inclusiveEnd: boolean;
}

/** Where a row lies against a range, in scan order: a scan can stop at the first row `after`. */
export type RowPosition = 'before' | 'inside' | 'after';

/** CouchDB's `<<255>>`: above every document id (no UTF-8 string holds the byte 0xFF). */
const HIGHEST_ID = Symbol('highest doc id');
/** CouchDB's `<<>>`: the empty id is below every other one. */
const LOWEST_ID = '';
type IdBound = string | typeof HIGHEST_ID;

/**
 * The ranges a query reads, in the order its rows are returned: one per key of `keys` (CouchDB
 * answers in `keys` order, duplicates included), else one.
 *
 * @example
 * keyRanges(parseViewQuery({ keys: '["b","a"]' })); // a range for "b", then one for "a"
 */
export function keyRanges(q: ViewQuery): KeyRange[] {
  const base = { descending: q.descending, inclusiveEnd: q.inclusiveEnd };
  if (q.keys !== undefined) {
    return q.keys.map((key) => ({
      ...base,
      start: edge(key, q.startkeyDocId),
      end: edge(key, q.endkeyDocId),
    }));
  }
  return [
    {
      ...base,
      ...(q.startkey !== undefined && { start: edge(q.startkey, q.startkeyDocId) }),
      ...(q.endkey !== undefined && { end: edge(q.endkey, q.endkeyDocId) }),
    },
  ];
}

function edge(key: unknown, docId: string | undefined): RangeEdge {
  return docId === undefined ? { key } : { key, docId };
}

/** Whether a view row lies in the range. */
export function rowInRange(row: ViewRow, range: KeyRange): boolean {
  return rowPosition(row, range) === 'inside';
}

/** Where a row lies against the range, in its scan order. */
export function rowPosition(row: ViewRow, range: KeyRange): RowPosition {
  const direction = range.descending ? -1 : 1;
  if (range.start && direction * compareToEdge(row, range.start.key, startId(range)) < 0) return 'before';
  if (range.end) {
    const past = direction * compareToEdge(row, range.end.key, endId(range));
    if (past > 0 || (past === 0 && !range.inclusiveEnd)) return 'after';
  }
  return 'inside';
}

/**
 * The key bounds a storage scan should use for a range. Document ids are left to
 * {@link rowInRange}; so is the end key whenever some of its rows may be inside.
 */
export function scanBounds(range: KeyRange): ScanBounds {
  const wholeEndKeyOut = !range.inclusiveEnd && endId(range) === (range.descending ? HIGHEST_ID : LOWEST_ID);
  return {
    descending: range.descending,
    ...(range.start && { start: range.start.key }),
    ...(range.end && { end: range.end.key }),
    inclusiveEnd: !wholeEndKeyOut,
  };
}

/**
 * Refuses a start that comes after the end in the scan's direction, as couch_mrview_util.erl
 * `check_range` does (with the default doc ids of `validate_args`). Identical keys pass.
 */
export function checkRangeOrder(q: ViewQuery): void {
  if (q.startkey === undefined || q.endkey === undefined) return;
  if (JSON.stringify(q.startkey) === JSON.stringify(q.endkey)) return;
  const startDoc = q.startkeyDocId ?? (q.descending ? HIGHEST_ID : LOWEST_ID);
  const endDoc = q.endkeyDocId ?? (q.descending ? LOWEST_ID : HIGHEST_ID);
  const order = collate(q.startkey, q.endkey) || compareIds(startDoc, endDoc);
  if (!q.descending && order >= 0) {
    throw queryParseError(
      'No rows can match your key range, reverse your start_key and end_key or set descending=true',
    );
  }
  if (q.descending && order < 0) {
    throw queryParseError(
      'No rows can match your key range, reverse your start_key and end_key or set descending=false',
    );
  }
}

/**
 * Document ids in raw UTF-8 byte order, which is code point order (SQLite's BINARY collation
 * and Erlang's binary comparison agree). UTF-16 code units differ from it only where a
 * surrogate meets a code unit of U+E000–U+FFFF: surrogates must sort above.
 */
export function compareDocIds(a: string, b: string): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function codePointRank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

function startId(range: KeyRange): IdBound {
  return range.start?.docId ?? (range.descending ? HIGHEST_ID : LOWEST_ID);
}

/** `ekey_opts`: an exclusive end flips the default id (`reverse_key_default`). */
function endId(range: KeyRange): IdBound {
  const id = range.end?.docId ?? (range.descending ? LOWEST_ID : HIGHEST_ID);
  if (range.inclusiveEnd) return id;
  if (id === LOWEST_ID) return HIGHEST_ID;
  return id === HIGHEST_ID ? LOWEST_ID : id;
}

function compareToEdge(row: ViewRow, key: unknown, id: IdBound): number {
  return collate(row.key, key) || compareIds(row.id, id);
}

function compareIds(a: IdBound, b: IdBound): number {
  if (a === b) return 0;
  if (a === HIGHEST_ID) return 1;
  if (b === HIGHEST_ID) return -1;
  return compareDocIds(a, b);
}
