import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { collate, compileSelector, type Selector } from '../../src/core/mango/index.js';

const match = (selector: unknown, doc: Record<string, unknown>) => compileSelector(selector).matches(doc);

/** Which of `docs` the selector matches, as indexes, to keep expectations short. */
const matching = (selector: unknown, docs: Record<string, unknown>[]) => {
  const compiled = compileSelector(selector);
  return docs.flatMap((doc, index) => (compiled.matches(doc) ? [index] : []));
};

function badRequestReason(selector: unknown): string {
  try {
    compileSelector(selector);
  } catch (err) {
    expect(err).toBeInstanceOf(SetteeError);
    const error = err as SetteeError;
    expect(error.error).toBe('bad_request');
    expect(error.status).toBe(400);
    return error.reason;
  }
  throw new Error(`selector was accepted: ${JSON.stringify(selector)}`);
}

describe('compileSelector: fields and implicit operators', () => {
  it('matches everything with an empty selector', () => {
    expect(match({}, {})).toBe(true);
    expect(match({}, { a: 1 })).toBe(true);
  });

  it('treats a bare value as equality', () => {
    expect(matching({ name: 'tom' }, [{ name: 'tom' }, { name: 'Tom' }, {}, { name: null }])).toEqual([0]);
  });

  it('combines several fields with an implicit $and', () => {
    const docs = [{ name: 'tom', city: 'Boston' }, { name: 'tom', city: 'Omaha' }, { name: 'tom' }];
    expect(matching({ name: 'tom', city: 'Boston' }, docs)).toEqual([0]);
  });

  it('matches null only against an existing null', () => {
    expect(matching({ a: null }, [{ a: null }, {}, { a: 0 }, { a: false }])).toEqual([0]);
  });

  it('reads nested objects as nested field paths', () => {
    const docs = [{ location: { city: 'Omaha' } }, { location: 'Omaha' }, { 'location.city': 'Omaha' }];
    expect(matching({ location: { city: 'Omaha' } }, docs)).toEqual([0]);
    expect(matching({ 'location.city': 'Omaha' }, docs)).toEqual([0]);
  });

  it('reads deep dotted paths', () => {
    expect(match({ 'a.b.c': 1 }, { a: { b: { c: 1 } } })).toBe(true);
    expect(match({ a: { 'b.c': 1 } }, { a: { b: { c: 1 } } })).toBe(true);
    expect(match({ 'a.b.c': 1 }, { a: { b: 1 } })).toBe(false);
  });

  it('treats \\. as a literal dot in a field name', () => {
    const docs = [{ 'location.city': 'Omaha' }, { location: { city: 'Omaha' } }];
    expect(matching({ 'location\\.city': 'Omaha' }, docs)).toEqual([0]);
    expect(match({ 'a\\.b.c': 1 }, { 'a.b': { c: 1 } })).toBe(true);
  });

  it('indexes arrays with numeric path segments', () => {
    const doc = { tags: ['x', { y: 2 }] };
    expect(match({ 'tags.0': 'x' }, doc)).toBe(true);
    expect(match({ 'tags.1.y': 2 }, doc)).toBe(true);
    expect(match({ 'tags.2': { $exists: true } }, doc)).toBe(false);
    expect(match({ 'tags.first': { $exists: true } }, doc)).toBe(false);
  });

  it('compares arrays as whole values, without MongoDB-style element matching', () => {
    const docs = [{ a: [1, 2] }, { a: [1, 2, 3] }, { a: 1 }, { a: [2, 1] }];
    expect(matching({ a: [1, 2] }, docs)).toEqual([0]);
    expect(matching({ a: 1 }, docs)).toEqual([2]);
  });

  it('compares objects as whole values with $eq, and {} as an empty-object value', () => {
    const docs = [{ a: { b: 1 } }, { a: { b: 1, c: 2 } }, { a: {} }];
    expect(matching({ a: { $eq: { b: 1 } } }, docs)).toEqual([0]);
    expect(matching({ a: {} }, docs)).toEqual([2]);
  });

  it('mixes operators and nested fields in one condition', () => {
    expect(match({ a: { $type: 'object', b: 2 } }, { a: { b: 2 } })).toBe(true);
    expect(match({ a: { $type: 'object', b: 2 } }, { a: { b: 3 } })).toBe(false);
  });

  it('ignores inherited properties', () => {
    expect(match({ constructor: { $exists: true } }, {})).toBe(false);
    expect(match({ 'a.toString': { $exists: true } }, { a: {} })).toBe(false);
  });

  it('treats a property holding undefined as missing', () => {
    expect(match({ a: { $exists: false } }, { a: undefined })).toBe(true);
  });

  it('is reusable across many documents', () => {
    const compiled = compileSelector({ n: { $gte: 10 } });
    const docs = Array.from({ length: 20 }, (_, n) => ({ n }));
    expect(docs.filter((doc) => compiled.matches(doc))).toHaveLength(10);
  });
});

describe('comparison operators', () => {
  const docs = [{ n: 1 }, { n: 2 }, { n: 3 }, {}, { n: null }, { n: '2' }, { n: [2] }];

  it('$eq', () => {
    expect(matching({ n: { $eq: 2 } }, docs)).toEqual([1]);
  });

  it('$eq null does not match a missing field', () => {
    expect(matching({ n: { $eq: null } }, docs)).toEqual([4]);
  });

  it('$ne matches existing fields that differ, never missing ones', () => {
    expect(matching({ n: { $ne: 2 } }, docs)).toEqual([0, 2, 4, 5, 6]);
    expect(matching({ n: { $ne: null } }, docs)).toEqual([0, 1, 2, 5, 6]);
  });

  it('$gt and $gte', () => {
    expect(matching({ n: { $gt: 2 } }, docs)).toEqual([2, 5, 6]);
    expect(matching({ n: { $gte: 2 } }, docs)).toEqual([1, 2, 5, 6]);
  });

  it('$lt and $lte', () => {
    expect(matching({ n: { $lt: 2 } }, docs)).toEqual([0, 4]);
    expect(matching({ n: { $lte: 2 } }, docs)).toEqual([0, 1, 4]);
  });

  it('orders across types by collation (strings sort after numbers)', () => {
    expect(match({ a: { $gt: 100 } }, { a: 'abc' })).toBe(true);
    expect(match({ a: { $lt: 'a' } }, { a: 1e9 })).toBe(true);
    expect(match({ a: { $gt: true } }, { a: 0 })).toBe(true);
  });

  it('combines range operators on one field', () => {
    const range = { n: { $gt: 1, $lte: 3 } };
    expect(matching(range, docs)).toEqual([1, 2]);
  });

  it('compares strings by Unicode collation, as CouchDB (not by code units)', () => {
    expect(match({ s: { $lt: 'a' } }, { s: 'Z' })).toBe(false);
    expect(match({ s: { $lt: 'B' } }, { s: 'b' })).toBe(true);
    expect(match({ s: { $gte: 'apple' } }, { s: 'apples' })).toBe(true);
  });

  // mango_selector.erl match/3: $eq/$ne/$in/$nin compare with mango_json:cmp, i.e. ICU collation,
  // so canonically equivalent strings and ignorable control characters make no difference...
  it('$eq, $ne, $in and $nin test collation equality of strings', () => {
    const decomposed = { s: 'e\u0301' };
    expect(match({ s: '\u00e9' }, decomposed)).toBe(true);
    expect(match({ s: { $ne: '\u00e9' } }, decomposed)).toBe(false);
    expect(match({ s: { $in: ['x', '\u00e9'] } }, decomposed)).toBe(true);
    expect(match({ s: { $nin: ['x', '\u00e9'] } }, decomposed)).toBe(false);
    expect(match({ s: { $in: ['x', 'ab'] } }, { s: 'a\u0001b' })).toBe(true);
    expect(match({ s: { $in: ['x', 'a\u0001b'] } }, { s: 'ab' })).toBe(true);
    expect(match({ s: { $in: ['ab', 'x'] } }, { s: 'Ab' })).toBe(false);
  });

  // ...but $all matches with lists:member, Erlang's exact term equality.
  it('$all tests exact equality', () => {
    expect(match({ s: { $all: ['\u00e9'] } }, { s: ['e\u0301'] })).toBe(false);
    expect(match({ s: { $all: ['\u00e9'] } }, { s: ['\u00e9', 'x'] })).toBe(true);
  });

  it('compares arrays and objects by collation', () => {
    expect(match({ a: { $gt: [1, 2] } }, { a: [1, 3] })).toBe(true);
    expect(match({ a: { $lt: [1, 2] } }, { a: [1] })).toBe(true);
    expect(match({ a: { $gt: { a: 1 } } }, { a: { b: 0 } })).toBe(true);
  });
});

describe('$in and $nin', () => {
  it('$in matches a field equal to one of the values', () => {
    const docs = [{ a: 1 }, { a: 'x' }, { a: 3 }, {}, { a: null }];
    expect(matching({ a: { $in: [1, 'x', null] } }, docs)).toEqual([0, 1, 4]);
  });

  it('$in compares objects and arrays by value', () => {
    expect(match({ a: { $in: [{ b: 1 }] } }, { a: { b: 1 } })).toBe(true);
    expect(match({ a: { $in: [{ b: 1 }] } }, { a: { b: 2 } })).toBe(false);
  });

  it('$in tests the elements of an array field, as CouchDB does', () => {
    expect(match({ tags: { $in: ['x'] } }, { tags: ['y', 'x'] })).toBe(true);
    expect(match({ tags: { $in: ['z'] } }, { tags: ['y', 'x'] })).toBe(false);
    expect(match({ tags: { $in: [['y', 'x']] } }, { tags: ['y', 'x'] })).toBe(false);
    expect(match({ tags: { $in: [['y']] } }, { tags: [['y'], 'x'] })).toBe(true);
  });

  it('$in [] matches nothing', () => {
    expect(match({ a: { $in: [] } }, { a: 1 })).toBe(false);
  });

  it('$nin matches existing fields equal to none of the values', () => {
    const docs = [{ a: 1 }, { a: 2 }, {}, { a: null }];
    expect(matching({ a: { $nin: [1, null] } }, docs)).toEqual([1]);
  });

  it('$nin on an array field requires every element to be outside the list', () => {
    expect(match({ tags: { $nin: ['x'] } }, { tags: ['y', 'x'] })).toBe(false);
    expect(match({ tags: { $nin: ['z'] } }, { tags: ['y', 'x'] })).toBe(true);
  });

  it('$nin [] matches any existing field but not a missing one', () => {
    expect(match({ a: { $nin: [] } }, { a: 1 })).toBe(true);
    expect(match({ a: { $nin: [] } }, {})).toBe(false);
  });
});

describe('$exists and $type', () => {
  it('$exists true matches present fields, null included', () => {
    const docs = [{ a: 1 }, { a: null }, {}, { b: 1 }];
    expect(matching({ a: { $exists: true } }, docs)).toEqual([0, 1]);
  });

  it('$exists false matches missing fields', () => {
    const docs = [{ a: 1 }, { a: null }, {}, { b: 1 }];
    expect(matching({ a: { $exists: false } }, docs)).toEqual([2, 3]);
  });

  it('$exists false matches a path through a non-object', () => {
    expect(match({ 'a.b': { $exists: false } }, { a: 5 })).toBe(true);
    expect(match({ 'a.b': { $exists: false } }, { a: { b: 0 } })).toBe(false);
  });

  it.each([
    ['null', null],
    ['boolean', false],
    ['number', 1.5],
    ['string', ''],
    ['array', []],
    ['object', {}],
  ])('$type %s', (type, value) => {
    const docs = [{ a: null }, { a: false }, { a: 1.5 }, { a: '' }, { a: [] }, { a: {} }, {}];
    const expected = docs.findIndex((doc) => Object.is(doc.a, value) || collate(doc.a, value) === 0);
    expect(matching({ a: { $type: type } }, docs)).toEqual([expected]);
  });
});

describe('$regex and $beginsWith', () => {
  it('$regex searches anywhere in the string unless anchored', () => {
    const docs = [{ s: 'hello' }, { s: 'say hello' }, { s: 'HELLO' }, {}];
    expect(matching({ s: { $regex: 'hello' } }, docs)).toEqual([0, 1]);
    expect(matching({ s: { $regex: '^hello$' } }, docs)).toEqual([0]);
  });

  it('$regex only matches strings', () => {
    const docs = [{ s: 123 }, { s: ['abc'] }, { s: null }, { s: '123' }];
    expect(matching({ s: { $regex: '\\d+' } }, docs)).toEqual([3]);
  });

  it('$regex accepts PCRE-style inline flags', () => {
    expect(match({ s: { $regex: '(?i)^hello' } }, { s: 'HeLLo there' })).toBe(true);
    expect(match({ s: { $regex: '(?s)a.b' } }, { s: 'a\nb' })).toBe(true);
    expect(match({ s: { $regex: 'a.b' } }, { s: 'a\nb' })).toBe(false);
    expect(match({ s: { $regex: '(?m)^b$' } }, { s: 'a\nb\nc' })).toBe(true);
    expect(match({ s: { $regex: 'x(?i:Y)z' } }, { s: 'xyz' })).toBe(true);
  });

  it('$regex runs in linear time: catastrophic backtracking patterns return', () => {
    const input = `${'a'.repeat(100_000)}b`;
    expect(match({ s: { $regex: '(a+)+$' } }, { s: input.slice(0, -1) })).toBe(true);
    expect(match({ s: { $regex: '^(a+)+$' } }, { s: input })).toBe(false);
    expect(match({ s: { $regex: '^(a|aa)*c' } }, { s: input })).toBe(false);
  });

  it.each(['(a)\\1', '(?=a)', '(?<!a)b', 'a++', '(?>a)'])(
    '$regex refuses what a linear-time engine cannot run with a 400 (%s)',
    (pattern) => {
      expect(badRequestReason({ s: { $regex: pattern } })).toMatch('$regex');
    },
  );

  it('$regex is not stateful between documents', () => {
    const compiled = compileSelector({ s: { $regex: 'a' } });
    expect([1, 2, 3].map(() => compiled.matches({ s: 'a' }))).toEqual([true, true, true]);
  });

  it('$beginsWith matches string prefixes', () => {
    const docs = [{ s: 'user:1' }, { s: 'xuser:1' }, { s: ['user:1'] }, {}];
    expect(matching({ s: { $beginsWith: 'user:' } }, docs)).toEqual([0]);
  });
});

describe('array operators', () => {
  it('$size matches array length only', () => {
    const docs = [{ a: [] }, { a: [1, 2] }, { a: 'ab' }, { a: { length: 2 } }, {}];
    expect(matching({ a: { $size: 2 } }, docs)).toEqual([1]);
    expect(matching({ a: { $size: 0 } }, docs)).toEqual([0]);
  });

  it('$all requires every value among the elements, in any order', () => {
    const docs = [{ t: ['a', 'b', 'c'] }, { t: ['c', 'a'] }, { t: ['a'] }, { t: 'a' }, {}];
    expect(matching({ t: { $all: ['a', 'c'] } }, docs)).toEqual([0, 1]);
  });

  it('$all compares elements by value', () => {
    expect(match({ t: { $all: [{ x: 1 }, [2]] } }, { t: [[2], { x: 1 }] })).toBe(true);
  });

  it('$all [] matches nothing', () => {
    expect(match({ t: { $all: [] } }, { t: [] })).toBe(false);
    expect(match({ t: { $all: [] } }, { t: [1] })).toBe(false);
  });

  it('$all with a single array argument also matches that exact array', () => {
    expect(match({ t: { $all: [['a', 'b']] } }, { t: ['a', 'b'] })).toBe(true);
    expect(match({ t: { $all: [['a', 'b']] } }, { t: [['a', 'b'], 'c'] })).toBe(true);
    expect(match({ t: { $all: [['a', 'b']] } }, { t: ['b', 'a'] })).toBe(false);
  });

  it('$elemMatch applies operator-only sub-selectors to each element', () => {
    const docs = [{ a: [1, 5] }, { a: [1, 2] }, { a: [] }, { a: 5 }, {}];
    expect(matching({ a: { $elemMatch: { $gt: 3 } } }, docs)).toEqual([0]);
  });

  it('$elemMatch needs one element to satisfy every condition', () => {
    const docs = [{ a: [1, 9] }, { a: [1, 5] }];
    expect(matching({ a: { $elemMatch: { $gt: 3, $lt: 6 } } }, docs)).toEqual([1]);
  });

  it('$elemMatch applies field sub-selectors to object elements', () => {
    const docs = [
      {
        items: [
          { name: 'x', qty: 1 },
          { name: 'y', qty: 5 },
        ],
      },
      { items: [{ name: 'x', qty: 5 }] },
      { items: [{ name: 'x' }, { qty: 5 }] },
    ];
    expect(matching({ items: { $elemMatch: { name: 'x', qty: { $gte: 5 } } } }, docs)).toEqual([1]);
  });

  it('$elemMatch nests', () => {
    const selector = { m: { $elemMatch: { $elemMatch: { $eq: 3 } } } };
    expect(matching(selector, [{ m: [[1], [2, 3]] }, { m: [[1], [2]] }, { m: [3] }])).toEqual([0]);
  });

  it('$elemMatch with {} matches any non-empty array', () => {
    expect(matching({ a: { $elemMatch: {} } }, [{ a: [] }, { a: [0] }, { a: {} }])).toEqual([1]);
  });

  it('$allMatch requires a non-empty array whose elements all match', () => {
    const docs = [{ a: [4, 5] }, { a: [4, 1] }, { a: [] }, { a: 5 }, {}];
    expect(matching({ a: { $allMatch: { $gt: 3 } } }, docs)).toEqual([0]);
  });

  it('$allMatch with field sub-selectors', () => {
    const docs = [{ a: [{ ok: true }, { ok: true }] }, { a: [{ ok: true }, {}] }];
    expect(matching({ a: { $allMatch: { ok: true } } }, docs)).toEqual([0]);
  });

  it('$keyMapMatch matches objects with a key satisfying the sub-selector', () => {
    const docs = [{ m: { fr: 1, en: 2 } }, { m: { de: 1 } }, { m: ['en'] }, {}];
    expect(matching({ m: { $keyMapMatch: { $in: ['en', 'es'] } } }, docs)).toEqual([0]);
  });
});

describe('$mod', () => {
  it('matches integers by remainder', () => {
    const docs = [{ n: 4 }, { n: 5 }, { n: 6 }, { n: 4.5 }, { n: '4' }, {}];
    expect(matching({ n: { $mod: [2, 0] } }, docs)).toEqual([0, 2]);
    expect(matching({ n: { $mod: [2, 1] } }, docs)).toEqual([1]);
  });

  it('gives negative dividends a negative remainder, like Erlang rem', () => {
    expect(match({ n: { $mod: [3, -2] } }, { n: -5 })).toBe(true);
    expect(match({ n: { $mod: [3, 1] } }, { n: -5 })).toBe(false);
    expect(match({ n: { $mod: [3, 0] } }, { n: -6 })).toBe(true);
  });
});

describe('combinators', () => {
  const docs = [{ a: 1, b: 1 }, { a: 1, b: 2 }, { a: 2, b: 2 }, { b: 2 }, {}];

  it('$and', () => {
    expect(matching({ $and: [{ a: 1 }, { b: 2 }] }, docs)).toEqual([1]);
  });

  it('$or', () => {
    expect(matching({ $or: [{ a: 2 }, { b: 1 }] }, docs)).toEqual([0, 2]);
  });

  it('$nor matches when no sub-selector does, with fields required by the negated leaves', () => {
    // {$nor: [{a: 2}, {b: 1}]} is {a: {$ne: 2}, b: {$ne: 1}}: both fields must exist.
    expect(matching({ $nor: [{ a: 2 }, { b: 1 }] }, docs)).toEqual([1]);
  });

  it('$not negates the condition on each field', () => {
    expect(matching({ $not: { a: 1 } }, docs)).toEqual([2]);
    expect(matching({ a: { $not: { $eq: 1 } } }, docs)).toEqual([2]);
  });

  it('$not does not match documents missing the field (CouchDB pushes $not onto $ne)', () => {
    expect(match({ $not: { a: 1 } }, {})).toBe(false);
    expect(match({ $not: { a: { $regex: 'x' } } }, {})).toBe(false);
    expect(match({ $not: { a: { $regex: 'x' } } }, { a: 'y' })).toBe(true);
  });

  it('$not flips $exists, so missing fields are found', () => {
    expect(matching({ $not: { a: { $exists: true } } }, docs)).toEqual([3, 4]);
    expect(matching({ $not: { a: { $exists: false } } }, docs)).toEqual([0, 1, 2]);
  });

  it('$not of an implicit $and follows De Morgan', () => {
    // not (a == 1 and b == 2)  =  a != 1 or b != 2, each requiring its field
    expect(matching({ $not: { a: 1, b: 2 } }, docs)).toEqual([0, 2]);
  });

  it('double negation cancels', () => {
    expect(matching({ $not: { $not: { a: 1 } } }, docs)).toEqual(matching({ a: 1 }, docs));
  });

  it('$not of $nor is $or', () => {
    const or = [{ a: 2 }, { b: 1 }];
    expect(matching({ $not: { $nor: or } }, docs)).toEqual(matching({ $or: or }, docs));
  });

  it('combinators apply to the field they are nested under', () => {
    const ndocs = [{ n: -5 }, { n: 5 }, { n: 50 }, {}];
    expect(matching({ n: { $or: [{ $lt: 0 }, { $gt: 10 }] } }, ndocs)).toEqual([0, 2]);
    expect(matching({ n: { $and: [{ $gt: 0 }, { $lt: 10 }] } }, ndocs)).toEqual([1]);
    expect(matching({ n: { $nor: [{ $lt: 0 }, { $gt: 10 }] } }, ndocs)).toEqual([1]);
  });

  it('combinators under a field extend its path', () => {
    expect(match({ a: { $or: [{ b: 1 }, { c: 1 }] } }, { a: { c: 1 } })).toBe(true);
    expect(match({ a: { $not: { b: 1 } } }, { a: { b: 2 } })).toBe(true);
  });

  it('empty $and, $or and $nor match everything (CouchDB 3.x)', () => {
    expect(matching({ $and: [] }, docs)).toEqual([0, 1, 2, 3, 4]);
    expect(matching({ $or: [] }, docs)).toEqual([0, 1, 2, 3, 4]);
    expect(matching({ $nor: [] }, docs)).toEqual([0, 1, 2, 3, 4]);
    expect(matching({ $not: { $or: [] } }, docs)).toEqual([0, 1, 2, 3, 4]);
  });

  it('{} inside combinators matches everything, and its negation nothing', () => {
    expect(match({ $or: [{}, { a: 1 }] }, {})).toBe(true);
    expect(match({ $not: {} }, { a: 1 })).toBe(false);
  });

  it('nests combinators inside $elemMatch', () => {
    const selector = { a: { $elemMatch: { $or: [{ $eq: 'x' }, { $gt: 10 }] } } };
    expect(matching(selector, [{ a: [1, 11] }, { a: [1, 'x'] }, { a: [1, 2] }])).toEqual([0, 1]);
  });

  it('negates $elemMatch as a whole', () => {
    const selector = { $not: { a: { $elemMatch: { $gt: 3 } } } };
    expect(matching(selector, [{ a: [1, 2] }, { a: [1, 5] }, { a: [] }, {}])).toEqual([0, 2]);
  });
});

describe('invalid selectors', () => {
  it.each([null, [], 'a', 1, true])('rejects a non-object selector: %j', (selector) => {
    expect(badRequestReason(selector)).toBe('Selector must be a JSON object');
  });

  it('rejects unknown operators anywhere', () => {
    expect(badRequestReason({ a: { $foo: 1 } })).toBe('Invalid operator: $foo');
    expect(badRequestReason({ $foo: [] })).toBe('Invalid operator: $foo');
    expect(badRequestReason({ $or: [{ a: { $bar: 1 } }] })).toBe('Invalid operator: $bar');
    expect(badRequestReason({ a: { $elemMatch: { $baz: 1 } } })).toBe('Invalid operator: $baz');
  });

  it('rejects operators that a filter cannot evaluate', () => {
    expect(badRequestReason({ $text: 'x' })).toMatch(/not supported.*\$text/);
    expect(badRequestReason({ $where: 'x' })).toMatch(/not supported.*\$where/);
  });

  it.each([
    ['$in', 1],
    ['$in', { 0: 1 }],
    ['$nin', 'x'],
    ['$all', null],
  ])('%s needs an array (got %j)', (op, arg) => {
    expect(badRequestReason({ a: { [op]: arg } })).toMatch(`Bad argument for operator ${op}`);
  });

  it.each([-1, 1.5, '2', null])('$size needs a non-negative integer (got %j)', (arg) => {
    expect(badRequestReason({ a: { $size: arg } })).toMatch('$size');
  });

  it.each(['true', 1, null])('$exists needs a boolean (got %j)', (arg) => {
    expect(badRequestReason({ a: { $exists: arg } })).toMatch('$exists');
  });

  it.each(['date', 'Number', 1, null])('$type needs a known type name (got %j)', (arg) => {
    expect(badRequestReason({ a: { $type: arg } })).toMatch('$type');
  });

  it.each(['(', '[a-', '(?z)a', 1, null])('$regex needs a valid pattern (got %j)', (arg) => {
    expect(badRequestReason({ a: { $regex: arg } })).toMatch('$regex');
  });

  it.each([[[0, 1]], [[2]], [[2, 1, 0]], [[2.5, 1]], [[2, 0.5]], [['2', 1]], [2]])(
    '$mod needs [positive divisor, integer remainder] (got %j)',
    (arg) => {
      expect(badRequestReason({ a: { $mod: arg } })).toMatch('$mod');
    },
  );

  it.each(['$and', '$or', '$nor'])('%s needs an array of selector objects', (op) => {
    expect(badRequestReason({ [op]: { a: 1 } })).toMatch(op);
    expect(badRequestReason({ [op]: [1] })).toMatch(op);
    expect(badRequestReason({ [op]: [[]] })).toMatch(op);
  });

  it.each(['$not', '$elemMatch', '$allMatch', '$keyMapMatch'])('%s needs a selector object', (op) => {
    expect(badRequestReason({ a: { [op]: 1 } })).toMatch(op);
    expect(badRequestReason({ a: { [op]: [] } })).toMatch(op);
    expect(badRequestReason({ a: { [op]: null } })).toMatch(op);
  });

  it('$beginsWith needs a string', () => {
    expect(badRequestReason({ a: { $beginsWith: 1 } })).toMatch('$beginsWith');
  });

  it('rejects field conditions without a field at the top level', () => {
    expect(badRequestReason({ $gt: 1 })).toMatch('must be applied to a field');
    expect(badRequestReason({ $and: [{ $exists: true }] })).toMatch('must be applied to a field');
  });

  it.each(['', 'a..b', '.a', 'a.'])('rejects the field name %j', (field) => {
    expect(badRequestReason({ [field]: 1 })).toMatch('Invalid field name');
  });

  it('validates at compile time, even branches a document would never reach', () => {
    expect(badRequestReason({ $or: [{}, { a: { $size: 'x' } }] })).toMatch('$size');
  });
});

describe('properties', () => {
  const scalar = fc.oneof(
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -2, max: 2 }),
    fc.constantFrom('a', 'b', 'ab'),
  );
  const value = fc.oneof(scalar, fc.array(scalar, { maxLength: 2 }), fc.record({ x: scalar }));
  const condition: fc.Arbitrary<Selector> = fc.oneof(
    fc
      .tuple(fc.constantFrom('$eq', '$ne', '$gt', '$gte', '$lt', '$lte'), value)
      .map(([op, arg]) => ({ [op]: arg })),
    fc
      .tuple(fc.constantFrom('$in', '$nin', '$all'), fc.array(value, { maxLength: 3 }))
      .map(([op, arg]) => ({ [op]: arg })),
    fc.boolean().map((arg) => ({ $exists: arg })),
    fc.constantFrom('null', 'boolean', 'number', 'string', 'array', 'object').map((t) => ({ $type: t })),
    fc.nat(2).map((n) => ({ $size: n })),
    fc.constantFrom('^a', 'b$').map((re) => ({ $regex: re })),
    fc.integer({ min: -1, max: 1 }).map((r) => ({ $mod: [2, r] })),
    scalar.map((arg) => ({ $elemMatch: { $gte: arg } })),
  );
  const fieldSelector = fc
    .tuple(fc.constantFrom('a', 'b', 'n.x'), condition)
    .map(([field, cond]): Selector => ({ [field]: cond }));
  const { selector } = fc.letrec<{ selector: Selector }>((tie) => ({
    selector: fc.oneof(
      { maxDepth: 3 },
      fieldSelector,
      fc.tuple(fieldSelector, fieldSelector).map(([x, y]) => ({ ...x, ...y })),
      fc.array(tie('selector'), { minLength: 1, maxLength: 3 }).map((s) => ({ $and: s })),
      fc.array(tie('selector'), { minLength: 1, maxLength: 3 }).map((s) => ({ $or: s })),
      fc.array(tie('selector'), { minLength: 1, maxLength: 3 }).map((s) => ({ $nor: s })),
      tie('selector').map((s) => ({ $not: s })),
    ),
  }));
  /** Documents holding every field the generated selectors test. */
  const fullDoc = fc.record({ a: value, b: value, n: fc.record({ x: value }) });
  /** Documents where any field may be missing or not traversable. */
  const anyDoc = fc.record(
    { a: value, b: value, n: fc.oneof(fc.record({ x: value }, { requiredKeys: [] }), value) },
    { requiredKeys: [] },
  );

  it('{$not: S} is the complement of S when every tested field exists', () => {
    fc.assert(
      fc.property(selector, fullDoc, (s, doc) => {
        expect(match({ $not: s }, doc)).toBe(!match(s, doc));
      }),
      { numRuns: 500 },
    );
  });

  it('$nor is the complement of $or when every tested field exists', () => {
    fc.assert(
      fc.property(fc.array(selector, { minLength: 1, maxLength: 3 }), fullDoc, (s, doc) => {
        expect(match({ $nor: s }, doc)).toBe(!match({ $or: s }, doc));
      }),
      { numRuns: 300 },
    );
  });

  it('$nor equals {$not: {$or}} and double $not is the identity, on any document', () => {
    fc.assert(
      fc.property(fc.array(selector, { maxLength: 3 }), anyDoc, (s, doc) => {
        expect(match({ $nor: s }, doc)).toBe(match({ $not: { $or: s } }, doc));
        for (const one of s) expect(match({ $not: { $not: one } }, doc)).toBe(match(one, doc));
      }),
      { numRuns: 300 },
    );
  });

  it('a missing field never matches a condition nor its negation, except $exists', () => {
    fc.assert(
      fc.property(condition, (cond) => {
        fc.pre(!('$exists' in cond));
        expect(match({ z: cond }, {})).toBe(false);
        expect(match({ $not: { z: cond } }, {})).toBe(false);
      }),
    );
  });

  it('negated comparisons equal their opposite operator', () => {
    const opposite: [string, string][] = [
      ['$eq', '$ne'],
      ['$gt', '$lte'],
      ['$gte', '$lt'],
      ['$in', '$nin'],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...opposite),
        fc.array(value, { maxLength: 2 }),
        anyDoc,
        (ops, args, doc) => {
          const [op, inverse] = ops;
          const arg = op === '$in' ? args : args[0];
          expect(match({ $not: { a: { [op]: arg } } }, doc)).toBe(match({ a: { [inverse]: arg } }, doc));
        },
      ),
    );
  });

  it('comparison operators agree with collate', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 2 }), fc.jsonValue({ maxDepth: 2 }), (field, arg) => {
        const order = collate(field, arg);
        const doc = { f: field };
        expect(match({ f: { $eq: arg } }, doc)).toBe(order === 0);
        expect(match({ f: { $gt: arg } }, doc)).toBe(order > 0);
        expect(match({ f: { $lte: arg } }, doc)).toBe(order <= 0);
      }),
    );
  });
});
