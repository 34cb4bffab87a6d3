/**
 * Keys in the order Settee's scans promise. IndexedDB compares strings by UTF-16 code unit,
 * where CouchDB's raw collation (and SQLite's) is by code point: a character beyond the BMP
 * (a surrogate pair, D800–DFFF) sorts before U+E000–U+FFFF in the first and after them in the
 * second. `idKey` moves the code units so that their order is the code points': surrogates up
 * by 0x2000 (to F800–FFFF), U+E000–U+FFFF down by 0x800 (to D800–F7FF). Each id's record keeps
 * the id itself, so the key is never decoded.
 */
import type { IdRange } from '../types.js';
import { type IdbKey, type IdbKeyRange, indexedDb } from './idb.js';

const MOVED = /[\uD800-\uFFFF]/;

/** The key an id is stored under, ordered as the id's code points. */
export function idKey(id: string): string {
  if (!MOVED.test(id)) return id;
  const units = new Array<number>(id.length);
  for (let i = 0; i < id.length; i++) {
    const unit = id.charCodeAt(i);
    units[i] = unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit;
  }
  let key = '';
  // In slices: String.fromCharCode takes its arguments on the stack.
  for (let at = 0; at < units.length; at += 4096) key += String.fromCharCode(...units.slice(at, at + 4096));
  return key;
}

/** One end of a key range. */
export interface Bound {
  key: IdbKey;
  open: boolean;
}

/** No row can be in this range (its lower end is past its upper end). */
export const EMPTY = Symbol('empty range');

/**
 * The IndexedDB range between two ends (either absent: unbounded), or `EMPTY` where IndexedDB
 * would refuse it (a lower end past the upper one) because no key lies within.
 */
export function keyRange(
  lower: Bound | undefined,
  upper: Bound | undefined,
): IdbKeyRange | null | typeof EMPTY {
  const { factory, keyRange: ranges } = indexedDb();
  if (lower && upper) {
    const order = factory.cmp(lower.key, upper.key);
    if (order > 0 || (order === 0 && (lower.open || upper.open))) return EMPTY;
    return ranges.bound(lower.key, upper.key, lower.open, upper.open);
  }
  if (lower) return ranges.lowerBound(lower.key, lower.open);
  if (upper) return ranges.upperBound(upper.key, upper.open);
  return null;
}

/**
 * The range of ids one page of an id scan reads: from the scan's start (inclusive) on the first
 * page, after the last id read on the next ones, to its end, in its direction.
 */
export function idPageRange(range: IdRange, after: string | undefined): IdbKeyRange | null | typeof EMPTY {
  const from: Bound | undefined =
    after !== undefined
      ? { key: idKey(after), open: true }
      : range.start !== undefined
        ? { key: idKey(range.start), open: false }
        : undefined;
  const to: Bound | undefined =
    range.end !== undefined ? { key: idKey(range.end), open: range.inclusiveEnd === false } : undefined;
  return range.descending ? keyRange(to, from) : keyRange(from, to);
}
