import { afterEach, describe, expect, it, vi } from 'vitest';
import { COLLATION_SPECIFICATION, KEY_RANGES_EXAMPLE, PRINTABLE_ASCII_ORDER } from './couchdb-collation.js';
import {
  COLLATION_FINGERPRINT,
  HIGHEST_KEY,
  LOWEST_KEY,
  collate,
  compareBytes,
  encodeKey,
  encodePrefixBounds,
  MAX_KEY_BYTES,
} from '../../src/core/mango/index.js';

const bytesOf = (value: unknown) => encodeKey(value).bytes;
const describeValue = (value: unknown) => JSON.stringify(value) ?? String(value);

/** Each value's key is exact and strictly above the previous one. */
function expectExactAscending(values: readonly unknown[]) {
  for (let i = 0; i < values.length; i++) {
    expect(encodeKey(values[i]).exact, describeValue(values[i])).toBe(true);
    if (i === 0) continue;
    const pair = `${describeValue(values[i - 1])} < ${describeValue(values[i])}`;
    expect(compareBytes(bytesOf(values[i - 1]), bytesOf(values[i])), pair).toBeLessThan(0);
  }
}

/** The key of `value` sits where collate puts it among `others`: never on the wrong side. */
function expectPlacedAmong(value: unknown, others: readonly unknown[]) {
  const key = bytesOf(value);
  for (const other of others) {
    const order = collate(other, value);
    const bytes = compareBytes(bytesOf(other), key);
    const pair = `${describeValue(other)} vs ${describeValue(value)}`;
    if (order < 0) expect(bytes, pair).toBeLessThanOrEqual(0);
    else if (order > 0) expect(bytes, pair).toBeGreaterThanOrEqual(0);
    else expect(bytes, pair).toBe(0);
  }
}

/*
 * The expected orders are CouchDB's: the "Collation Specification" table of
 * src/docs/src/ddocs/views/collation.rst (the same values as test/elixir/test/view_collation_test.exs,
 * which checks a real view returns rows in exactly this order), and that page's "Key ranges" and
 * printable-ASCII sequences. Strings collate with ICU's root collator (couch_ejson_compare.c).
 */
describe('encodeKey: CouchDB view collation table', () => {
  it('orders the Collation Specification table strictly, every key exact', () => {
    expectExactAscending(COLLATION_SPECIFICATION);
  });

  it('orders the "Key ranges" example: abc < Abc < ABC < abc1 < AbcZZZZZ', () => {
    expectExactAscending(KEY_RANGES_EXAMPLE);
  });

  // As in mango-collate.test.ts: current ICU moved ` and ^ among the symbols after %.
  it('orders printable ASCII as the docs show: symbols, then digits, then letters', () => {
    expectExactAscending(PRINTABLE_ASCII_ORDER);
    expectExactAscending(['%', '`', '^', '+']);
  });

  it('keeps the docs\' complex-key range ["foo"]..["foo", {}] around ["foo", "bar"] and ["foo", ["bar"]]', () => {
    expectExactAscending([
      ['foo'],
      ['foo', 'bar'],
      ['foo', ['bar', 'baz']],
      ['foo', {}],
      ['foo', { an: 'object' }],
    ]);
  });
});

describe('encodeKey: the facts of Intl that the encoding rests on', () => {
  const variant = new Intl.Collator('en', { sensitivity: 'variant' });
  const accent = new Intl.Collator('en', { sensitivity: 'accent' });
  const ascii = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code));
  const isIgnorable = (char: string) => variant.compare(char, '') === 0;

  it('finds exactly the C0 controls but TAB LF VT FF CR, and DEL, ignorable', () => {
    const ignorable = ascii.filter(isIgnorable).map((char) => char.charCodeAt(0));
    const expected = [...range(0x00, 0x08), ...range(0x0e, 0x1f), 0x7f];
    expect(ignorable).toEqual(expected);
  });

  it('encodes exactly the characters the collator does not ignore', () => {
    for (const char of ascii) expect(encodeKey(char).exact, describeValue(char)).toBe(!isIgnorable(char));
  });

  it('gives a letter and its capital one class and ranks lower case first, with no accent-level difference', () => {
    for (const lower of 'abcdefghijklmnopqrstuvwxyz') {
      const upper = lower.toUpperCase();
      expect(accent.compare(lower, upper)).toBe(0);
      expect(variant.compare(lower, upper)).toBeLessThan(0);
      const [lowerKey, upperKey] = [bytesOf(lower), bytesOf(upper)];
      expect(lowerKey[1]).toBe(upperKey[1]);
      expect(lowerKey[3]).toBe(1);
      expect(upperKey[3]).toBe(2);
    }
  });

  it('gives every other simple character a class of its own', () => {
    const simple = ascii.filter((char) => !isIgnorable(char));
    const classes = new Set(simple.map((char) => bytesOf(char)[1]));
    expect(classes.size).toBe(simple.length - 26);
    for (const byte of classes) expect(byte).toBeGreaterThanOrEqual(0x02);
    for (const byte of classes) expect(byte).toBeLessThanOrEqual(0xfe);
  });
});

describe('encodeKey: numbers and values outside JSON', () => {
  it('orders numbers as numbers, across signs and magnitudes', () => {
    expectExactAscending([
      -Infinity,
      -Number.MAX_VALUE,
      -1e10,
      -1,
      -0.5,
      -Number.MIN_VALUE,
      0,
      Number.MIN_VALUE,
      0.5,
      1,
      1.5,
      2 ** 53,
      Number.MAX_VALUE,
      Infinity,
    ]);
  });

  it('gives 0 and -0, and 3 and 3.0, the same key', () => {
    expect(bytesOf(-0)).toEqual(bytesOf(0));
    expect(bytesOf([3.0])).toEqual(bytesOf([3]));
  });

  it('encodes undefined, functions, symbols, bigints and NaN as null', () => {
    for (const value of [undefined, () => 1, Symbol('s'), 10n, NaN]) {
      expect(encodeKey(value)).toEqual(encodeKey(null));
    }
    expect(bytesOf([undefined])).toEqual(bytesOf([null]));
  });

  it('keeps an empty object key apart from the end of an object', () => {
    // Without a tag on keys, {"": null} would share the bytes of {} followed by more.
    expectExactAscending([[{}, 5], [{ '': null }]]);
  });
});

/*
 * Where Intl (ICU 78 in Node 20.20) puts these strings, as the tests below assert through
 * collate: é and e+U+0301 between E and "e\t" (secondary difference), U+FFFE below every
 * primary (CLDR's merge separator), CJK and Greek after every Latin letter, U+0001 ignorable.
 */
describe('encodeKey: strings outside the simple set', () => {
  const neighbours = [
    ...shortPrintableStrings(),
    'fi',
    'fI',
    'FI',
    'ss',
    'sS',
    'SS',
    'ae',
    'aE',
    'AE',
    'zzzzzz',
  ];

  it.each([
    ['e with acute', '\u00e9'],
    ['e + combining acute', 'e\u0301'],
    ['E with acute', '\u00c9'],
    ['ligature ae', '\u00e6'],
    ['sharp s', '\u00df'],
    ['ligature fi', '\ufb01'],
    ['fullwidth a', '\uff41'],
    ['fullwidth A', '\uff21'],
    ['CJK', '\u4e2d\u6587'],
    ['emoji (surrogate pair)', '\ud83d\ude00'],
    ['lone surrogate', 'a\ud800'],
    ['turned e', '\u01dd'],
    ['U+FFFE after a', 'a\ufffe'],
    ['U+FDFA (longest expansion)', 'a\ufdfa'],
    ['ignorable control inside', 'a\u0001b'],
    ['NUL alone', '\u0000'],
    ['no-break space', 'a\u00a0b'],
    ['long accented', 'e\u0301'.repeat(40) + 'x'],
  ])('places %s monotonically among all 1-2 character printable strings', (_name, value) => {
    expect(encodeKey(value).exact).toBe(false);
    expectPlacedAmong(value, neighbours);
  });

  it('gives canonically equivalent strings the same key', () => {
    expect(bytesOf('\u00e9')).toEqual(bytesOf('e\u0301'));
    expect(bytesOf({ '\u00e9': 1 })).toEqual(bytesOf({ 'e\u0301': 1 }));
  });

  it('keys a string that only adds ignorable characters like its simple twin, and lets later elements decide', () => {
    expect(encodeKey('a\u0001b')).toEqual({ bytes: bytesOf('ab'), exact: false });
    expect(compareBytes(bytesOf(['a\u0001b', 1]), bytesOf(['ab', 2]))).toBeLessThan(0);
    expect(compareBytes(bytesOf(['a\u0001b', 3]), bytesOf(['ab', 2]))).toBeGreaterThan(0);
  });

  it('ends the key after any other lossy string: later elements, keys and values are dropped', () => {
    const key = bytesOf(['\u00e9', 1]);
    expect(key.at(-1)).toBe(0xff);
    for (const other of [['\u00e9'], ['\u00e9', 2], ['e\u0301', 'x', 'y'], ['\u00e9', [1]]]) {
      expect(bytesOf(other)).toEqual(key);
    }
    expect(bytesOf({ '\u00e9': 1, a: 2 })).toEqual(bytesOf({ '\u00e9': 3 }));
  });

  it('places U+FFFE after every case variant of its prefix and before any extension', () => {
    expectPlacedAmong('a\ufffe', ['a', 'A', 'a\t', 'a ', 'aa', 'A\t']);
    expect(bytesOf('a\ufffe')).toEqual(Uint8Array.of(0x05, bytesOf('a')[1] as number, 0x00, 0xff));
  });

  it('places strings of other scripts above every simple string', () => {
    expect(bytesOf('\u4e2d')).toEqual(Uint8Array.of(0x05, 0xff));
    expectPlacedAmong('\u03a9', ['zzzz', 'Z~', '~~']);
  });
});

describe('encodePrefixBounds', () => {
  const inside = (key: Uint8Array, bounds: { low: Uint8Array; high: Uint8Array }) =>
    compareBytes(bounds.low, key) <= 0 && compareBytes(key, bounds.high) <= 0;

  it('holds every array that starts with the prefix and nothing else', () => {
    const bounds = encodePrefixBounds([5]);
    for (const value of [[5], [5, null], [5, 'x'], [5, ['a']], [5, { a: 1 }], [5, 'z', 'z']]) {
      expect(inside(bytesOf(value), bounds), describeValue(value)).toBe(true);
    }
    for (const value of [[4, 'z'], [5.5], ['5'], [], [[5]], 5, null, { 5: 5 }]) {
      expect(inside(bytesOf(value), bounds), describeValue(value)).toBe(false);
    }
  });

  it('holds arrays whose first element collates equal to a lossy prefix', () => {
    const bounds = encodePrefixBounds(['\u00e9']);
    for (const value of [['\u00e9'], ['e\u0301', 1], ['\u00e9', { a: 1 }]]) {
      expect(inside(bytesOf(value), bounds), describeValue(value)).toBe(true);
    }
  });

  it('holds arrays after a prefix element that only adds ignorable characters', () => {
    const bounds = encodePrefixBounds(['a\u0001b', 2]);
    expect(inside(bytesOf(['ab', 2, 'x']), bounds)).toBe(true);
    expect(inside(bytesOf(['ab', 3]), bounds)).toBe(false);
  });
});

describe('LOWEST_KEY and HIGHEST_KEY', () => {
  it('sit below and above the extreme keys', () => {
    for (const value of [null, '', [], {}, -Infinity, Infinity, '\u4e2d', ['\u4e2d'], { '\u4e2d': 1 }]) {
      expect(compareBytes(LOWEST_KEY, bytesOf(value))).toBeLessThan(0);
      expect(compareBytes(bytesOf(value), HIGHEST_KEY)).toBeLessThan(0);
    }
  });
});

describe('encodeKey: long keys', () => {
  it('cuts keys at MAX_KEY_BYTES, lossy but still in order', () => {
    const long = (tail: string) => 'k'.repeat(2000) + tail;
    const keys = [long('a'), long('b'), ['x', long('a')], ['x', long('b')], ['y']];
    for (const key of keys) expect(encodeKey(key).bytes.length).toBeLessThanOrEqual(MAX_KEY_BYTES);
    expect(encodeKey(long('a')).exact).toBe(false);
    for (let i = 1; i < keys.length; i++) {
      expect(compareBytes(encodeKey(keys[i - 1]).bytes, encodeKey(keys[i]).bytes)).toBeLessThanOrEqual(0);
    }
    const { low, high } = encodePrefixBounds([long('')]);
    const inside = encodeKey([long('zzz'), 5]).bytes;
    expect(compareBytes(low, inside)).toBeLessThanOrEqual(0);
    expect(compareBytes(inside, high)).toBeLessThanOrEqual(0);
  });
});

describe('encodeKey: cost', () => {
  afterEach(() => vi.restoreAllMocks());

  it('encodes 10,000 ASCII strings without calling Intl', () => {
    const compareReads = vi.spyOn(Intl.Collator.prototype, 'compare', 'get');
    const localeCompare = vi.spyOn(String.prototype, 'localeCompare');
    for (let i = 0; i < 10_000; i++) encodeKey([`Key ${i}`, { name: `item-${i * 7919}\t` }]);
    expect(compareReads).not.toHaveBeenCalled();
    expect(localeCompare).not.toHaveBeenCalled();
    encodeKey('\u00e9'); // and the spy does see the lossy path
    expect(compareReads).toHaveBeenCalled();
  });
});

describe('COLLATION_FINGERPRINT', () => {
  it('is a short digest, the same when the module is loaded again', async () => {
    expect(COLLATION_FINGERPRINT).toMatch(/^keys-v1-[0-9a-f]{8}$/);
    vi.resetModules();
    const reloaded = await import('../../src/core/mango/key-encoding.js');
    expect(reloaded.COLLATION_FINGERPRINT).toBe(COLLATION_FINGERPRINT);
  });
});

function range(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

/** Every printable ASCII or whitespace string of one or two characters. */
function shortPrintableStrings(): string[] {
  const chars = [...range(9, 13), ...range(32, 126)].map((code) => String.fromCharCode(code));
  return [...chars, ...chars.flatMap((first) => chars.map((second) => first + second))];
}
