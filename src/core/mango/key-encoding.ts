/**
 * Byte keys for indexes: JSON values encoded so that comparing the bytes (memcmp, as SQLite does
 * for BLOBs) follows CouchDB's view collation ({@link collate}).
 *
 * JavaScript has no ICU sort-key API, so strings are encoded exactly only when made of "simple"
 * characters (ASCII that the collator does not ignore). Any other string gets a monotone, lossy
 * placement among the exact keys: the greatest exact key of a simple string that collates at or
 * below it, then `0xFF` ("just after"). Two lossy strings may share a key yet collate apart, so a
 * lossy key is cut right after that `0xFF`: nothing later in the value may decide the byte order.
 * Callers must therefore re-check rows whose key is not {@link EncodedKey.exact} with `collate`.
 *
 * Pure and Node-free (no `Buffer`), like the rest of `core`.
 */

/**
 * A value's byte key. `exact` keys compare as their values collate; a key that is not exact is
 * only placed monotonically (`collate(a, b) < 0` implies `compareBytes(a, b) <= 0`).
 */
export interface EncodedKey {
  bytes: Uint8Array;
  /** False when the value holds a string with a character outside the simple ASCII set. */
  exact: boolean;
}

const END = 0x00;
const TAG_NULL = 0x01;
const TAG_FALSE = 0x02;
const TAG_TRUE = 0x03;
const TAG_NUMBER = 0x04;
const TAG_STRING = 0x05;
const TAG_ARRAY = 0x06;
const TAG_OBJECT = 0x07;
/** Above every class, tertiary and tag byte: "just after" a lossy string's place. */
const AFTER = 0xff;
/** Class bytes start above END and the smallest tertiary byte, so neither can be mistaken. */
const FIRST_CLASS_BYTE = 0x02;

/** Below every encoded key, for open-ended scans (every key starts with a tag of at least 0x01). */
export const LOWEST_KEY: Uint8Array = Uint8Array.of(END);
/** Above every encoded key, for open-ended scans (no key starts with 0xFF). */
export const HIGHEST_KEY: Uint8Array = Uint8Array.of(AFTER);

// The same collation as `collateStrings` in collate.ts (the 'en' locale is CLDR root, untailored).
const variantCollator = new Intl.Collator('en', { sensitivity: 'variant' });
const baseCollator = new Intl.Collator('en', { sensitivity: 'base' });
// `.compare` is read on every call (not cached) so a test can count how often Intl is reached.
const compareFull = (a: string, b: string): number => variantCollator.compare(a, b);
const comparePrimary = (a: string, b: string): number => baseCollator.compare(a, b);

/**
 * The simple characters grouped into primary classes, in collation order, each class's members
 * from the lowest tertiary weight up (so `['a', 'A']`). Computed from the runtime's collator.
 */
const CLASSES: readonly (readonly string[])[] = buildClasses();
/** Class byte per ASCII code (0 for a character that is not simple). */
const CLASS_BYTE = new Uint8Array(128);
/** Tertiary byte per ASCII code: 1 for a class's first member (lower case), 2 for the next. */
const TERTIARY_BYTE = new Uint8Array(128);
CLASSES.forEach((members, index) => {
  members.forEach((char, rank) => {
    CLASS_BYTE[char.charCodeAt(0)] = FIRST_CLASS_BYTE + index;
    TERTIARY_BYTE[char.charCodeAt(0)] = 1 + rank;
  });
});
/** Each class's lowest member stands for the class in primary comparisons. */
const REPRESENTATIVES: readonly string[] = CLASSES.map((members) => members[0] as string);
const TOP_CLASS = CLASSES.length - 1;

function classMembers(code: number): readonly string[] {
  return CLASSES[(CLASS_BYTE[code] as number) - FIRST_CLASS_BYTE] as readonly string[];
}

function buildClasses(): string[][] {
  const simple = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code))
    .filter((char) => variantCollator.compare(char, '') !== 0)
    .sort(variantCollator.compare);
  const classes: string[][] = [];
  for (const char of simple) {
    const last = classes.at(-1);
    if (last && baseCollator.compare(last[0] as string, char) === 0) last.push(char);
    else classes.push([char]);
  }
  return classes;
}

/**
 * Encodes a JSON value as a byte key. Values outside JSON (`undefined`, functions, symbols,
 * bigints, and `NaN` as JSON.stringify does) encode as `null`; `-0` as `0`.
 *
 * @example
 * compareBytes(encodeKey('a').bytes, encodeKey('A').bytes) < 0 // as collate('a', 'A') < 0
 */
export function encodeKey(value: unknown): EncodedKey {
  const writer = new KeyWriter();
  writeValue(writer, value);
  const bytes = writer.finish();
  if (bytes.length <= MAX_KEY_BYTES) return { bytes, exact: writer.exact };
  return { bytes: bytes.subarray(0, MAX_KEY_BYTES), exact: false };
}

/**
 * Keys are cut to this many bytes: a B-tree entry has a size limit (PostgreSQL's is about 2.7 KB,
 * the document id included), and a prefix of bytes keeps byte order monotone, so a cut key is
 * merely lossy — rows sharing it are put in order by their JSON keys, as for any lossy key.
 */
export const MAX_KEY_BYTES = 1024;

/**
 * Bounds of every array key that starts with `prefix`: `low <= key <= high` for each array whose
 * first elements collate equal to the prefix's. With lossy elements the range may also hold keys
 * of other arrays (re-check them), but never misses one that matches.
 *
 * @example
 * // Mango index on [a, b], a = 5, b unconstrained:
 * const { low, high } = encodePrefixBounds([5]);
 */
export function encodePrefixBounds(prefix: readonly unknown[]): { low: Uint8Array; high: Uint8Array } {
  const writer = new KeyWriter();
  writer.push(TAG_ARRAY);
  for (const element of prefix) writeValue(writer, element);
  // Cut as stored keys are: every key starting with the prefix is then at least `low`.
  const low = writer.finish().subarray(0, MAX_KEY_BYTES);
  const high = new Uint8Array(low.length + 1);
  high.set(low);
  high[low.length] = AFTER;
  return { low, high };
}

/** memcmp order, then the shorter first: the order SQLite gives BLOBs. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const shared = Math.min(a.length, b.length);
  for (let i = 0; i < shared; i++) {
    const difference = (a[i] as number) - (b[i] as number);
    if (difference !== 0) return difference;
  }
  return a.length - b.length;
}

/** A growing byte buffer that also tracks exactness and whether a lossy string closed the key. */
class KeyWriter {
  private buffer = new Uint8Array(64);
  private length = 0;
  exact = true;
  /** Set after a lossy string's placement: the key ends there. */
  closed = false;

  push(byte: number): void {
    if (this.length === this.buffer.length) this.grow(this.length + 1);
    this.buffer[this.length++] = byte;
  }

  pushAll(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buffer.length) this.grow(this.length + bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  /** Ends the key with `last`: after a lossy string nothing else may decide the order. */
  close(last: number): void {
    this.push(last);
    this.closed = true;
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length);
  }

  private grow(needed: number): void {
    const larger = new Uint8Array(Math.max(needed, this.buffer.length * 2));
    larger.set(this.buffer.subarray(0, this.length));
    this.buffer = larger;
  }
}

function writeValue(writer: KeyWriter, value: unknown): void {
  if (writer.closed) return;
  if (value === false) writer.push(TAG_FALSE);
  else if (value === true) writer.push(TAG_TRUE);
  else if (typeof value === 'number' && !Number.isNaN(value)) writeNumber(writer, value);
  else if (typeof value === 'string') writeString(writer, value);
  else if (Array.isArray(value)) writeArray(writer, value);
  else if (typeof value === 'object' && value !== null) writeObject(writer, value);
  else writer.push(TAG_NULL);
}

function writeArray(writer: KeyWriter, items: readonly unknown[]): void {
  writer.push(TAG_ARRAY);
  for (const item of items) writeValue(writer, item);
  if (!writer.closed) writer.push(END);
}

/** Entries in insertion order, key before value, as collate compares them. */
function writeObject(writer: KeyWriter, record: object): void {
  writer.push(TAG_OBJECT);
  for (const [key, item] of Object.entries(record)) {
    writeValue(writer, key);
    writeValue(writer, item);
  }
  if (!writer.closed) writer.push(END);
}

const numberView = new DataView(new ArrayBuffer(8));
const numberBytes = new Uint8Array(numberView.buffer);

/** IEEE-754 big-endian with the sign flipped (negatives fully inverted) orders as numbers do. */
function writeNumber(writer: KeyWriter, value: number): void {
  numberView.setFloat64(0, value === 0 ? 0 : value);
  const negative = (numberBytes[0] as number) >= 0x80;
  for (let i = 0; i < 8; i++) {
    const byte = numberBytes[i] as number;
    numberBytes[i] = negative ? ~byte & 0xff : i === 0 ? byte ^ 0x80 : byte;
  }
  writer.push(TAG_NUMBER);
  writer.pushAll(numberBytes);
}

function writeString(writer: KeyWriter, value: string): void {
  if (isSimple(value)) writeExactString(writer, value);
  else writeLossyString(writer, value);
}

function isSimple(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 128 || CLASS_BYTE[code] === 0) return false;
  }
  return true;
}

/** Tag, one class byte per character, END, one tertiary byte per character, END. */
function writeExactString(writer: KeyWriter, value: string): void {
  writer.push(TAG_STRING);
  writePrimaries(writer, value);
  writer.push(END);
  for (let i = 0; i < value.length; i++) writer.push(TERTIARY_BYTE[value.charCodeAt(i)] as number);
  writer.push(END);
}

function writePrimaries(writer: KeyWriter, value: string): void {
  for (let i = 0; i < value.length; i++) writer.push(CLASS_BYTE[value.charCodeAt(i)] as number);
}

/**
 * Where a string that is not simple falls among the simple ones, named by a simple string
 * `chars`:
 * - `equal`: collates equal to `chars` (it only adds ignorable characters);
 * - `after`: between `chars` and the next simple string;
 * - `afterVariants`: above every case variant of `chars`, below its extensions;
 * - `belowVariants`: primary-equal to `chars` but below all its case variants;
 * - `aboveExtensions`: above every simple string that starts with `chars`.
 */
type Placement = {
  kind: 'equal' | 'after' | 'afterVariants' | 'belowVariants' | 'aboveExtensions';
  chars: string;
};

/**
 * Bytes per placement (P = class bytes, T = tertiary bytes of `chars`):
 * equal `05 P 00 T 00` (the exact key: collate-equal values get equal keys), after
 * `05 P 00 T 00 FF`, afterVariants `05 P 00 FF`, belowVariants `05 P 00 00` (below the lowest
 * tertiary byte), aboveExtensions `05 P FF`. Every form but `equal` ends the key.
 */
function writeLossyString(writer: KeyWriter, value: string): void {
  writer.exact = false;
  const { kind, chars } = placeString(value);
  if (kind === 'equal') return writeExactString(writer, chars);
  if (kind === 'after') writeExactString(writer, chars);
  else {
    writer.push(TAG_STRING);
    writePrimaries(writer, chars);
    if (kind !== 'aboveExtensions') writer.push(END);
  }
  writer.close(kind === 'belowVariants' ? END : AFTER);
}

/**
 * Greedy search for the simple string just at or below `value`: first its primary classes
 * (case-blind), then the highest case variant still at or below it.
 */
function placeString(value: string): Placement {
  let chars = '';
  for (;;) {
    if (comparePrimary(chars, value) === 0) return placeAmongVariants(chars, value);
    const next = highestClassAtMost(chars, value);
    if (next < 0) return { kind: 'afterVariants', chars };
    if (next === TOP_CLASS && isAboveExtensions(chars, value)) return { kind: 'aboveExtensions', chars };
    chars += REPRESENTATIVES[next] as string;
  }
}

/** Binary search for the highest class `c` with `chars + c` primary-at-or-below `value`; -1 if none. */
function highestClassAtMost(chars: string, value: string): number {
  let low = 0;
  let high = TOP_CLASS;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    if (comparePrimary(chars + REPRESENTATIVES[middle], value) <= 0) {
      found = middle;
      low = middle + 1;
    } else high = middle - 1;
  }
  return found;
}

/**
 * Whether `value` lies above every extension of `chars`: true when `chars` followed by more top
 * characters than `value` can have primary weights (18 per UTF-16 unit bounds the longest
 * expansion, U+FDFA's) still sorts at or below it.
 */
function isAboveExtensions(chars: string, value: string): boolean {
  const longest = 18 * value.length + 1;
  return comparePrimary(chars + (REPRESENTATIVES[TOP_CLASS] as string).repeat(longest), value) <= 0;
}

/**
 * `chars` has `value`'s primary weights: pick its highest case variant at or below `value`.
 * No character of ICU 78 sorts below a lower-case ASCII twin (lower case has the lowest tertiary
 * weight, and secondaries only add), so `belowVariants` is a guard for another ICU's data.
 */
function placeAmongVariants(chars: string, value: string): Placement {
  if (compareFull(chars, value) > 0) return { kind: 'belowVariants', chars };
  let variant = chars;
  for (let i = 0; i < chars.length; i++) {
    const members = classMembers(chars.charCodeAt(i));
    // Later positions stay at their lowest member, so each candidate is the least with this prefix.
    for (let rank = members.length - 1; rank > 0; rank--) {
      const candidate = variant.slice(0, i) + members[rank] + variant.slice(i + 1);
      if (compareFull(candidate, value) <= 0) {
        variant = candidate;
        break;
      }
    }
  }
  return { kind: compareFull(variant, value) === 0 ? 'equal' : 'after', chars: variant };
}

/**
 * Identifies the collation the keys were built with: the simple characters' class table and
 * where a few non-ASCII probes fall. An index stored under another fingerprint was encoded by a
 * different ICU and must be rebuilt.
 */
export const COLLATION_FINGERPRINT: string = fingerprint();

function fingerprint(): string {
  // Latin accents, ligatures, fullwidth, a no-break space, Greek, Cyrillic, CJK: one code unit each.
  const probes = Array.from('\u00e9\u00e6\u00df\ufb01\uff21\u01dd\u00a0\u03a9\u044f\u4e2d');
  const placements = probes.map((probe) => Array.from(encodeKey(probe).bytes).join('.'));
  const description = JSON.stringify([CLASSES.map((members) => members.join('')), placements]);
  return `keys-v1-${fnv1a(description)}`;
}

/** 32-bit FNV-1a: a short, stable digest (no crypto needed, only change detection). */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, '0');
}
