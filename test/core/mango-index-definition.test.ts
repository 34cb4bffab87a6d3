/**
 * Mango index definitions as POST /{db}/_index takes them and as CouchDB stores them. The facts
 * come from apache/couchdb src/mango/src: mango_opts.erl (validate_idx_create: the options, their
 * order and defaults), mango_error.erl (each error's name and reason), mango_sort.erl (fields),
 * mango_idx.erl (get_idx_ddoc, get_idx_name), mango_idx_view.erl (make_view, from_ddoc, to_json)
 * and src/docs/src/api/database/find.rst (the GET /_index listing).
 */
import { describe, expect, it } from 'vitest';
import {
  ALL_DOCS_INDEX,
  describeNewIndex,
  indexesFromDesignDoc,
  indexJson,
  indexToDesignDoc,
} from '../../src/core/mango/index.js';
import { failure } from './mango-failure.js';

describe('describeNewIndex', () => {
  it('turns string fields into ascending ones and keeps {field: dir} (mango_sort:sort_field)', () => {
    const index = describeNewIndex({ index: { fields: ['a', { b: 'asc' }] }, name: 'ab', ddoc: 'd' });
    expect(index).toEqual({
      ddoc: '_design/d',
      name: 'ab',
      type: 'json',
      def: { fields: [{ a: 'asc' }, { b: 'asc' }] },
    });
  });

  it('derives ddoc and name from the definition, the same for the same definition (mango_idx:gen_name)', () => {
    const first = describeNewIndex({ index: { fields: ['foo'] } });
    const again = describeNewIndex({ type: 'json', index: { fields: [{ foo: 'asc' }] } });
    const other = describeNewIndex({ index: { fields: ['bar'] } });
    expect(first.name).toMatch(/^[0-9a-f]{32}$/);
    expect(first.ddoc).toBe(`_design/${first.name}`);
    expect(again).toEqual(first);
    expect(other.name).not.toBe(first.name);
  });

  it('keeps a ddoc that starts with _design/ and prefixes one that does not (mango_idx get_idx_ddoc tests)', () => {
    expect(describeNewIndex({ index: { fields: ['a'] }, ddoc: '_design/foo' }).ddoc).toBe('_design/foo');
    expect(describeNewIndex({ index: { fields: ['a'] }, ddoc: 'foo' }).ddoc).toBe('_design/foo');
  });

  it('takes a descending index', () => {
    expect(describeNewIndex({ index: { fields: [{ a: 'desc' }, { b: 'desc' }] } }).def.fields).toEqual([
      { a: 'desc' },
      { b: 'desc' },
    ]);
  });

  it('stores the partial filter selector in its normal form (mango_opts:validate_selector normalizes)', () => {
    const index = describeNewIndex({
      index: { fields: ['a'], partial_filter_selector: { b: 1, c: { $gt: 2 } } },
    });
    expect(index.def.partial_filter_selector).toEqual({ $and: [{ b: { $eq: 1 } }, { c: { $gt: 2 } }] });
  });

  it('drops an empty partial filter selector (mango_idx_view:def_to_json)', () => {
    expect(describeNewIndex({ index: { fields: ['a'], partial_filter_selector: {} } }).def).toEqual({
      fields: [{ a: 'asc' }],
    });
  });

  it.each([
    ['a body that is not an object', [], 'bad_request', 'Request body must be a JSON object'],
    ['no index (missing_required_key)', { name: 'x' }, 'missing_required_key', 'Missing required key: index'],
    [
      'an index that is not an object',
      { index: 'foo' },
      'invalid_index',
      'JSON indexes must be an object, not: <<"foo">>',
    ],
    ['no fields', { index: {} }, 'missing_required_key', 'Missing required key: fields'],
    [
      'fields not an array',
      { index: { fields: 'a' } },
      'invalid_sort_json',
      'Sort must be an array of sort specs, not: <<"a">>',
    ],
    [
      'a bad direction (mango_sort only knows asc/desc)',
      { index: { fields: [{ a: 'up' }] } },
      'invalid_sort_field',
      'Invalid sort field: {[{<<"a">>,<<"up">>}]}',
    ],
    ['an empty field name', { index: { fields: [''] } }, 'invalid_sort_field', 'Invalid sort field: <<"">>'],
    ['a field that is a number', { index: { fields: [3] } }, 'invalid_sort_field', 'Invalid sort field: 3'],
    [
      'mixed directions',
      { index: { fields: [{ a: 'asc' }, { b: 'desc' }] } },
      'unsupported_mixed_sort',
      'Sorts currently only support a single direction for all fields.',
    ],
    [
      'an unknown key inside index',
      { index: { fields: ['a'], foo: 1 } },
      'invalid_key',
      'Invalid key foo for this request.',
    ],
    [
      'a partial filter that is not an object',
      { index: { fields: ['a'], partial_filter_selector: [1] } },
      'invalid_selector_json',
      'Selector must be a JSON object, not: [1]',
    ],
    [
      'a type that is not a string',
      { index: { fields: ['a'] }, type: 5 },
      'invalid_string',
      'Invalid string: 5',
    ],
    [
      'a type other than json (mango_idx:get_idx_type)',
      { index: { fields: ['a'] }, type: 'text' },
      'invalid_index',
      'Invalid type for index: text',
    ],
    [
      'a name that is not a string',
      { index: { fields: ['a'] }, name: null },
      'invalid_string',
      'Invalid string: null',
    ],
    [
      'a ddoc that is not a string',
      { index: { fields: ['a'] }, ddoc: ['x'] },
      'invalid_string',
      'Invalid string: [<<"x">>]',
    ],
    [
      'w not a positive integer',
      { index: { fields: ['a'] }, w: 0 },
      'invalid_pos_integer',
      '0 is not an integer greater than zero',
    ],
    [
      'partitioned not a boolean',
      { index: { fields: ['a'] }, partitioned: 'yes' },
      'invalid_value',
      'Invalid value for partitioned: <<"yes">>',
    ],
    [
      'an unknown key',
      { index: { fields: ['a'] }, foo: true },
      'invalid_key',
      'Invalid key foo for this request.',
    ],
  ])('refuses %s with CouchDB’s 400', (_what, body, error, reason) => {
    expect(failure(() => describeNewIndex(body))).toEqual({ error, reason, status: 400 });
  });

  it('reports the first bad option in mango_opts order (index before type)', () => {
    expect(failure(() => describeNewIndex({ type: 5, index: 'x' })).error).toBe('invalid_index');
  });

  it('refuses a partial filter with a bad operator, as the selector matcher does', () => {
    const err = failure(() =>
      describeNewIndex({ index: { fields: ['a'], partial_filter_selector: { a: { $bogus: 1 } } } }),
    );
    expect(err).toMatchObject({ error: 'bad_request', status: 400 });
  });

  it('refuses partitioned: true: Settee databases are not partitioned', () => {
    expect(failure(() => describeNewIndex({ index: { fields: ['a'] }, partitioned: true })).error).toBe(
      'invalid_value',
    );
    expect(describeNewIndex({ index: { fields: ['a'] }, partitioned: false }).type).toBe('json');
  });
});

describe('design documents of language "query"', () => {
  const index = describeNewIndex({
    index: { fields: ['type', 'date'], partial_filter_selector: { open: true } },
    ddoc: 'jobs',
    name: 'by-type',
  });

  it('stores an index as a view with map {fields, partial_filter_selector}, reduce _count, options.def (mango_idx_view:make_view)', () => {
    expect(indexToDesignDoc(index)).toEqual({
      language: 'query',
      views: {
        'by-type': {
          map: { fields: { type: 'asc', date: 'asc' }, partial_filter_selector: { open: { $eq: true } } },
          reduce: '_count',
          options: { def: index.def },
        },
      },
    });
  });

  it('stores an empty partial filter selector when there is none, as CouchDB does', () => {
    const plain = describeNewIndex({ index: { fields: ['a'] }, name: 'n' });
    expect(indexToDesignDoc(plain).views.n?.map).toEqual({
      fields: { a: 'asc' },
      partial_filter_selector: {},
    });
  });

  it('reads the indexes back from the design document', () => {
    const doc = { _id: index.ddoc, ...indexToDesignDoc(index) };
    expect(indexesFromDesignDoc(doc)).toEqual([index]);
  });

  it('reads every index of a design document holding several', () => {
    const other = describeNewIndex({ index: { fields: [{ n: 'desc' }] }, ddoc: 'jobs', name: 'by-n' });
    const views = { ...indexToDesignDoc(index).views, ...indexToDesignDoc(other).views };
    expect(indexesFromDesignDoc({ _id: '_design/jobs', language: 'query', views })).toEqual([index, other]);
  });

  it('reads nothing from a JavaScript design document (mango_idx:list keeps language "query" only)', () => {
    expect(indexesFromDesignDoc({ _id: '_design/js', views: { v: { map: 'function (doc) {}' } } })).toEqual(
      [],
    );
  });

  it('skips a view whose map is not an index definition (mango_idx_view:validate_ddoc)', () => {
    const doc = {
      _id: '_design/q',
      language: 'query',
      views: {
        bad: { map: { fields: { a: 'sideways' } } },
        junk: 3,
        good: { map: { fields: { a: 'asc' } } },
      },
    };
    expect(indexesFromDesignDoc(doc).map((found) => found.name)).toEqual(['good']);
  });
});

describe('indexJson', () => {
  it('lists a JSON index with partitioned: false and the special index without it (find.rst GET /_index)', () => {
    const index = describeNewIndex({ index: { fields: ['foo'] }, name: 'foo-index', ddoc: 'a5f4' });
    expect(indexJson(index)).toEqual({
      ddoc: '_design/a5f4',
      name: 'foo-index',
      type: 'json',
      partitioned: false,
      def: { fields: [{ foo: 'asc' }] },
    });
    expect(indexJson(ALL_DOCS_INDEX)).toEqual({
      ddoc: null,
      name: '_all_docs',
      type: 'special',
      def: { fields: [{ _id: 'asc' }] },
    });
  });
});
