/*
 * The contract of encodeKey against collate (the reference order), on generated JSON:
 * 1. monotone: collate(a, b) < 0 implies compareBytes <= 0, and collate-equal values share a key;
 * 2. exact keys are faithful: between two exact keys the byte order is the collation order;
 * 3. a key is exact unless a string in the value (object keys too) has a non-simple character.
 * Strings lean on characters where a byte encoding can go wrong: case pairs, ignorable controls,
 * combining marks, precomposed letters, ligatures, fullwidth forms, CJK, surrogates, U+FFFE
 * (the lowest primary), U+FDFA (the longest expansion).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  HIGHEST_KEY,
  LOWEST_KEY,
  collate,
  compareBytes,
  encodeKey,
  encodePrefixBounds,
} from '../../src/core/mango/index.js';

const sign = (n: number) => Math.sign(n) + 0;
const bytesOf = (value: unknown) => encodeKey(value).bytes;

/** TAB LF VT FF CR and printable ASCII: the characters Intl does not ignore (key-encoding.test.ts). */
const SIMPLE = [9, 10, 11, 12, 13, ...Array.from({ length: 95 }, (_, i) => 32 + i)].map((code) =>
  String.fromCharCode(code),
);
const isSimpleString = (text: string) => [...text].every((char) => SIMPLE.includes(char));

const TRICKY = [
  ...['a', 'A', 'b', 'B', 'e', 'E', 'f', 'F', 'i', 'I', 's', 'S', 'z', 'Z', '0', '9'],
  ...[' ', '-', '_', '~', '\t', '\n'],
  ...['\u0000', '\u0001', '\u007f', '\u0301', '\u0308', '\u00e9', '\u00c9', '\u00e6', '\u00c6', '\u00df'],
  ...['\ufb01', '\uff41', '\uff21', '\u4e2d', '\ud83d\ude00', '\ud800', '\udc00', '\u01dd', '\u2028'],
  ...['\u00a0', '\ufffe', '\ufdfa', '\u03a9', '\u0131', '\u0130'],
];

const simpleString = fc.string({ unit: fc.constantFrom(...SIMPLE), maxLength: 8 });
/** Few letters, both cases, and a few symbols: many ties broken only by case or length. */
const caseHeavyString = fc.string({
  unit: fc.constantFrom('a', 'A', 'b', 'B', ' ', '-', '\t'),
  maxLength: 6,
});
const trickyString = fc.string({ unit: fc.constantFrom(...TRICKY), maxLength: 6 });
const longString = fc.string({
  unit: fc.constantFrom('e', 'E', '\u00e9', 'e\u0301', 'z', ' ', '\u4e2d'),
  minLength: 40,
  maxLength: 120,
});

const anyString = fc.oneof(
  { arbitrary: trickyString, weight: 5 },
  { arbitrary: caseHeavyString, weight: 3 },
  { arbitrary: simpleString, weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 6 }), weight: 1 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 6 }), weight: 1 },
  { arbitrary: longString, weight: 1 },
);
const number = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.double({ noNaN: true }),
  fc.constantFrom(0, -0, 1.5),
);

function jsonOf(strings: fc.Arbitrary<string>): fc.Arbitrary<unknown> {
  return fc.letrec<{ value: unknown }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small', withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      number,
      strings,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(strings, tie('value'), { maxKeys: 3 }),
    ),
  })).value;
}

const anyJson = jsonOf(anyString);
const exactJson = jsonOf(fc.oneof(simpleString, caseHeavyString));

function everyString(value: unknown, test: (text: string) => boolean): boolean {
  if (typeof value === 'string') return test(value);
  if (Array.isArray(value)) return value.every((item) => everyString(item, test));
  if (typeof value === 'object' && value !== null) {
    return Object.entries(value).every(([key, item]) => test(key) && everyString(item, test));
  }
  return true;
}

/** Sorted by collate, the keys never go down, and collate-equal neighbours share a key. */
function expectMonotone(values: readonly unknown[]) {
  const sorted = [...values].sort(collate);
  for (let i = 1; i < sorted.length; i++) {
    const [previous, current] = [sorted[i - 1], sorted[i]];
    const pair = `${JSON.stringify(previous)} <= ${JSON.stringify(current)}`;
    const bytes = compareBytes(bytesOf(previous), bytesOf(current));
    if (collate(previous, current) === 0) expect(bytes, pair).toBe(0);
    else expect(bytes, pair).toBeLessThanOrEqual(0);
  }
}

describe('encodeKey: monotone for all JSON', () => {
  it('never orders keys against collation, on lists of generated JSON', () => {
    fc.assert(fc.property(fc.array(anyJson, { maxLength: 10 }), expectMonotone), { numRuns: 6000 });
  });

  it('never orders keys against collation, on lists of generated strings', () => {
    fc.assert(fc.property(fc.array(anyString, { maxLength: 16 }), expectMonotone), { numRuns: 6000 });
  });

  it('never orders keys against collation, inside arrays sharing a first element', () => {
    const rows = fc.tuple(anyString, fc.array(fc.tuple(anyString, anyJson), { maxLength: 8 }));
    fc.assert(
      fc.property(rows, ([head, tails]) =>
        expectMonotone(tails.map(([first, rest]) => [head + first, rest])),
      ),
      { numRuns: 2000 },
    );
  });
});

describe('encodeKey: exact keys are faithful', () => {
  it('orders printable-ASCII strings exactly as collate', () => {
    fc.assert(
      fc.property(
        fc.oneof(simpleString, caseHeavyString),
        fc.oneof(simpleString, caseHeavyString),
        (a, b) => {
          expect(sign(compareBytes(bytesOf(a), bytesOf(b)))).toBe(sign(collate(a, b)));
        },
      ),
      { numRuns: 20000 },
    );
  });

  it('orders JSON made of simple strings exactly as collate', () => {
    fc.assert(
      fc.property(exactJson, exactJson, (a, b) => {
        expect(sign(compareBytes(bytesOf(a), bytesOf(b)))).toBe(sign(collate(a, b)));
      }),
      { numRuns: 8000 },
    );
  });

  it('marks a key exact exactly when every string in the value is simple', () => {
    fc.assert(
      fc.property(anyJson, (value) => {
        expect(encodeKey(value).exact).toBe(everyString(value, isSimpleString));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('encodePrefixBounds and the open ends', () => {
  /** A value that collates equal to `value` but may be spelled differently. */
  const respell = (value: unknown) =>
    typeof value === 'string' ? value.normalize('NFD').replaceAll('b', 'b\u0001') : value === 0 ? -0 : value;

  it('holds every array whose first elements collate equal to the prefix', () => {
    fc.assert(
      fc.property(
        fc.array(anyJson, { maxLength: 3 }),
        fc.array(anyJson, { maxLength: 3 }),
        (prefix, rest) => {
          const { low, high } = encodePrefixBounds(prefix);
          const key = bytesOf([...prefix.map(respell), ...rest]);
          expect(compareBytes(low, key)).toBeLessThanOrEqual(0);
          expect(compareBytes(key, high)).toBeLessThanOrEqual(0);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('holds no exact key of an array that does not start with an exact prefix', () => {
    fc.assert(
      fc.property(fc.array(exactJson, { minLength: 1, maxLength: 3 }), exactJson, (prefix, value) => {
        const startsWithPrefix =
          Array.isArray(value) &&
          value.length >= prefix.length &&
          prefix.every((item, i) => collate(item, value[i]) === 0);
        const { low, high } = encodePrefixBounds(prefix);
        const key = bytesOf(value);
        const inside = compareBytes(low, key) <= 0 && compareBytes(key, high) <= 0;
        expect(inside).toBe(startsWithPrefix);
      }),
      { numRuns: 3000 },
    );
  });

  it('puts LOWEST_KEY below and HIGHEST_KEY above every key', () => {
    fc.assert(
      fc.property(anyJson, (value) => {
        expect(compareBytes(LOWEST_KEY, bytesOf(value))).toBeLessThan(0);
        expect(compareBytes(bytesOf(value), HIGHEST_KEY)).toBeLessThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
