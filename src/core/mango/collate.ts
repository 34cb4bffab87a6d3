/**
 * CouchDB view collation of JSON values, as used by Mango's comparison operators.
 *
 * Pure and dependency-free so that it runs unchanged in browsers (strings use the runtime's
 * `Intl` collation, which every current browser and Node build ships).
 */

/** Rank of each JSON type in collation order: null < false < true < numbers < strings < arrays < objects. */
const RANK_NULL = 0;
const RANK_FALSE = 1;
const RANK_TRUE = 2;
const RANK_NUMBER = 3;
const RANK_STRING = 4;
const RANK_ARRAY = 5;
const RANK_OBJECT = 6;

/**
 * Compares two JSON values in CouchDB view collation order.
 *
 * - Types order as `null < false < true < numbers < strings < arrays < objects`.
 * - Numbers compare numerically (`0` and `-0` are equal).
 * - Strings (and object keys) compare by the Unicode Collation Algorithm, see {@link collateStrings}.
 * - Arrays compare element by element, then the shorter one first.
 * - Objects compare their `[key, value]` pairs in insertion order (key first, then value), then
 *   the one with fewer keys first. Key order therefore matters: `{a:1,b:2}` differs from `{b:2,a:1}`.
 *
 * Values outside JSON (`undefined`, functions, symbols, bigints) sort as `null`.
 *
 * @returns a negative number if `a` sorts before `b`, `0` if they collate equal, positive otherwise.
 */
export function collate(a: unknown, b: unknown): number {
  const rankA = rank(a);
  const rankB = rank(b);
  if (rankA !== rankB) return rankA - rankB;
  return collateSameRank(a, b);
}

function rank(value: unknown): number {
  if (value === false) return RANK_FALSE;
  if (value === true) return RANK_TRUE;
  if (typeof value === 'number') return RANK_NUMBER;
  if (typeof value === 'string') return RANK_STRING;
  if (Array.isArray(value)) return RANK_ARRAY;
  if (typeof value === 'object' && value !== null) return RANK_OBJECT;
  return RANK_NULL;
}

/** Both values have the same rank, so null/false/true (one value per rank) are already equal. */
function collateSameRank(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return compareScalars(a, b);
  if (typeof a === 'string' && typeof b === 'string') return collateStrings(a, b);
  if (isArray(a) && isArray(b)) return compareLists(a, b, collate);
  if (isRecord(a) && isRecord(b)) {
    return compareLists(Object.entries(a), Object.entries(b), compareEntries);
  }
  return 0;
}

const COLLATION_LOCALE = 'en';

/**
 * Compares two strings as CouchDB does: ICU's root collator with its default attributes
 * (`ucol_open("")` in couch_ejson_compare.c, nothing set on it), i.e. the Unicode Collation
 * Algorithm at tertiary strength with punctuation and whitespace not ignorable. So letters compare
 * case-blind first and lowercase wins ties (`"a" < "A" < "aa" < "b"`), symbols sort before digits
 * and digits before letters, and canonically equivalent strings (`"é"`, `"e\u0301"`) and strings
 * differing only by ignorable control characters collate equal.
 *
 * The `en` locale is CLDR's root order untailored; naming it (rather than the runtime default) keeps
 * the order the same on every machine. `localeCompare` rather than an `Intl.Collator`'s `compare`
 * because V8 has a fast path for it on one-byte strings: about as fast as code-unit order, and
 * 2-4 times faster than the collator object (figures in test/core/mango-collate.test.ts).
 *
 * Unlike PouchDB (pouchdb-collate compares code units), so keys sort as on a CouchDB server.
 */
export function collateStrings(a: string, b: string): number {
  if (a === b) return 0;
  return a.localeCompare(b, COLLATION_LOCALE);
}

function compareScalars(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}

/** Keys collate as strings too (couch_ejson_compare.c `compare_props`). */
function compareEntries(a: [string, unknown], b: [string, unknown]): number {
  return collateStrings(a[0], b[0]) || collate(a[1], b[1]);
}

/** Lexicographic comparison: the first differing item decides, else the shorter list is first. */
function compareLists<T>(a: readonly T[], b: readonly T[], compare: (x: T, y: T) => number): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    // In bounds by construction; the casts only silence noUncheckedIndexedAccess.
    const order = compare(a[i] as T, b[i] as T);
    if (order !== 0) return order;
  }
  return a.length - b.length;
}

function isArray(value: unknown): value is readonly unknown[] {
  return Array.isArray(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
