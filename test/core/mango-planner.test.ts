/**
 * The Mango query planner. Each rule cites its source in apache/couchdb src/mango/src:
 * mango_opts.erl (validate_find), mango_error.erl (names and reasons), mango_selector.erl
 * (normalize, has_required_fields, is_constant_field), mango_idx.erl (get_usable_indexes),
 * mango_idx_view.erl (is_usable, can_use_sort, indexable_fields, range, start_key/end_key),
 * mango_idx_special.erl, mango_cursor.erl (create, warnings, maybe_noop_range),
 * mango_cursor_view.erl (choose_best_index, explain, apply_opts), and the _explain example of
 * src/docs/src/api/database/find.rst.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileSelector,
  describeNewIndex,
  type FindRequest,
  keyInRange,
  type MangoIndex,
  NO_INDEX_WARNING,
  parseFindRequest,
  planQuery,
} from '../../src/core/mango/index.js';
import { failure } from './mango-failure.js';

const context = { dbname: 'shop' };

function index(fields: unknown[], name: string, extra: Record<string, unknown> = {}): MangoIndex {
  const { ddoc, ...rest } = describeNewIndex({ index: { fields, ...extra }, name, ddoc: name });
  return { ddoc, ...rest };
}

function plan(body: Record<string, unknown>, indexes: MangoIndex[] = []) {
  return planQuery(parseFindRequest(body), indexes, context);
}

const byType = index(['type'], 'by-type');
const byTypeDate = index(['type', 'date'], 'by-type-date');
const byDate = index(['date'], 'by-date');

describe('parseFindRequest', () => {
  it('fills mango_opts’ defaults (limit 25, skip 0, r 1, update true, …)', () => {
    expect(parseFindRequest({ selector: {} })).toEqual<FindRequest>({
      selector: {},
      useIndex: [],
      bookmark: null,
      limit: 25,
      skip: 0,
      sort: [],
      fields: null,
      r: 1,
      conflicts: false,
      stale: false,
      update: true,
      stable: false,
      executionStats: false,
    });
  });

  it('reads every option', () => {
    const request = parseFindRequest({
      selector: { a: 1 },
      use_index: ['d', 'n'],
      bookmark: 'abc',
      limit: 0,
      skip: 3,
      sort: ['a', { b: 'asc' }],
      fields: ['a', 'b.c'],
      partition: '',
      r: 2,
      conflicts: true,
      stale: 'ok',
      update: false,
      stable: true,
      execution_stats: true,
    });
    expect(request).toMatchObject({
      useIndex: ['d', 'n'],
      bookmark: 'abc',
      limit: 0,
      skip: 3,
      sort: [
        { field: 'a', direction: 'asc' },
        { field: 'b', direction: 'asc' },
      ],
      fields: ['a', 'b.c'],
      r: 2,
      stale: 'ok',
      executionStats: true,
    });
  });

  it.each([
    ['ddoc', ['ddoc']],
    ['_design/ddoc', ['ddoc']],
    ['ddoc/name', ['ddoc', 'name']],
    // binary:split splits at the first "/" only: the design document is "ddoc/name".
    ['_design/ddoc/name', ['ddoc/name']],
  ])('reads use_index %j as %j (mango_opts:validate_use_index)', (useIndex, expected) => {
    expect(parseFindRequest({ selector: {}, use_index: useIndex }).useIndex).toEqual(expected);
  });

  it('takes fields: [] and bookmark: null as "none" (mango_fields:new, validate_bookmark)', () => {
    expect(parseFindRequest({ selector: {}, fields: [], bookmark: null })).toMatchObject({
      fields: null,
      bookmark: null,
    });
    expect(parseFindRequest({ selector: {}, bookmark: '' }).bookmark).toBeNull();
    expect(parseFindRequest({ selector: {}, stale: 'false' }).stale).toBe(false);
  });

  it.each([
    ['a body that is not an object', 'x', 'bad_request', 'Request body must be a JSON object'],
    ['no selector', { limit: 1 }, 'missing_required_key', 'Missing required key: selector'],
    [
      'a selector that is not an object',
      { selector: [1] },
      'invalid_selector_json',
      'Selector must be a JSON object, not: [1]',
    ],
    [
      'use_index of three parts',
      { selector: {}, use_index: ['a', 'b', 'c'] },
      'invalid_index_name',
      'Invalid index name: [<<"a">>,<<"b">>,<<"c">>]',
    ],
    ['use_index a number', { selector: {}, use_index: 1 }, 'invalid_index_name', 'Invalid index name: 1'],
    [
      'a bookmark that is not a string',
      { selector: {}, bookmark: 5 },
      'invalid_bookmark',
      'Invalid bookmark value: 5',
    ],
    [
      'a negative limit',
      { selector: {}, limit: -1 },
      'invalid_non_neg_integer',
      '-1 is not an integer greater than or equal to zero',
    ],
    [
      'a limit that is a string',
      { selector: {}, limit: '10' },
      'invalid_non_neg_integer',
      '<<"10">> is not an integer greater than or equal to zero',
    ],
    [
      'a fractional skip',
      { selector: {}, skip: 1.5 },
      'invalid_non_neg_integer',
      '1.5 is not an integer greater than or equal to zero',
    ],
    [
      'a sort that is not an array',
      { selector: {}, sort: { a: 'asc' } },
      'invalid_sort_json',
      'Sort must be an array of sort specs, not: {[{<<"a">>,<<"asc">>}]}',
    ],
    [
      'a sort with a bad direction',
      { selector: {}, sort: [{ a: 'up' }] },
      'invalid_sort_field',
      'Invalid sort field: {[{<<"a">>,<<"up">>}]}',
    ],
    [
      'a sort with two keys in one spec',
      { selector: {}, sort: [{ a: 'asc', b: 'asc' }] },
      'invalid_sort_field',
      'Invalid sort field: {[{<<"a">>,<<"asc">>},{<<"b">>,<<"asc">>}]}',
    ],
    [
      'a mixed sort',
      { selector: {}, sort: [{ a: 'asc' }, { b: 'desc' }] },
      'unsupported_mixed_sort',
      'Sorts currently only support a single direction for all fields.',
    ],
    [
      'fields that are not an array',
      { selector: {}, fields: 'a' },
      'invalid_fields',
      'Fields must be an array of strings, not: <<"a">>',
    ],
    [
      'a field that is not a string',
      { selector: {}, fields: ['a', 1] },
      'invalid_field',
      'Invalid JSON for field spec: 1',
    ],
    [
      'a partition',
      { selector: {}, partition: 'p' },
      'invalid_value',
      'Invalid value for partition: <<"p">>',
    ],
    ['r of zero', { selector: {}, r: 0 }, 'invalid_pos_integer', '0 is not an integer greater than zero'],
    [
      'conflicts not a boolean',
      { selector: {}, conflicts: 'yes' },
      'invalid_boolean',
      'Invalid boolean value: <<"yes">>',
    ],
    [
      'a bad stale',
      { selector: {}, stale: 'later' },
      'invalid_value',
      'Invalid value for stale: <<"later">>',
    ],
    [
      'update not a boolean',
      { selector: {}, update: 'lazy' },
      'invalid_boolean',
      'Invalid boolean value: <<"lazy">>',
    ],
    ['stable not a boolean', { selector: {}, stable: 1 }, 'invalid_boolean', 'Invalid boolean value: 1'],
    [
      'execution_stats not a boolean',
      { selector: {}, execution_stats: null },
      'invalid_boolean',
      'Invalid boolean value: null',
    ],
    [
      'an unknown key',
      { selector: {}, allow_fallback: false },
      'invalid_key',
      'Invalid key allow_fallback for this request.',
    ],
  ])('refuses %s with CouchDB’s 400', (_what, body, error, reason) => {
    expect(failure(() => parseFindRequest(body))).toEqual({ error, reason, status: 400 });
  });

  it('refuses a selector with a bad operator, and a field path with an empty segment', () => {
    expect(failure(() => parseFindRequest({ selector: { a: { $nope: 1 } } }))).toMatchObject({ status: 400 });
    expect(failure(() => parseFindRequest({ selector: {}, fields: ['a..b'] }))).toMatchObject({
      status: 400,
    });
  });

  it('reports a bad option before an unknown key, in mango_opts order (selector first)', () => {
    expect(failure(() => parseFindRequest({ zzz: 1, limit: -1, selector: 3 })).error).toBe(
      'invalid_selector_json',
    );
    expect(failure(() => parseFindRequest({ zzz: 1, limit: -1, selector: {} })).error).toBe(
      'invalid_non_neg_integer',
    );
  });
});

describe('normal form of the selector (mango_selector:normalize, shown by _explain)', () => {
  it.each([
    [{ year: { $gt: 2010 } }, { year: { $gt: 2010 } }],
    [{ a: 1, b: 'x' }, { $and: [{ a: { $eq: 1 } }, { b: { $eq: 'x' } }] }],
    [{ a: { b: { c: 1 } } }, { 'a.b.c': { $eq: 1 } }],
    [{ a: { $gt: 1, $lt: 5 } }, { $and: [{ a: { $gt: 1 } }, { a: { $lt: 5 } }] }],
    [{ $not: { a: { $gt: 1 } } }, { a: { $lte: 1 } }],
    [{ $nor: [{ a: 1 }, { b: { $in: [1] } }] }, { $and: [{ a: { $ne: 1 } }, { b: { $nin: [1] } }] }],
    [
      { $not: { $or: [{ a: 1 }, { b: { $exists: true } }] } },
      { $and: [{ a: { $ne: 1 } }, { b: { $exists: false } }] },
    ],
    [{ a: { $not: { $regex: '^x' } } }, { a: { $not: { $regex: '^x' } } }],
    [{ tags: { $elemMatch: { $gte: 80 } } }, { tags: { $elemMatch: { '': { $gte: 80 } } } }],
    [{ a: {} }, { a: { $eq: {} } }],
    [{}, {}],
  ])('normalizes %j to %j', (selector, normal) => {
    expect(plan({ selector }).selector).toEqual(normal);
  });
});

describe('choosing the index', () => {
  it('falls back to _all_docs with CouchDB’s warning when no index serves the query (mango_cursor:no_index_warning)', () => {
    const result = plan({ selector: { type: 'sale' } });
    expect(result.index.name).toBe('_all_docs');
    expect(result.warnings).toEqual([NO_INDEX_WARNING]);
    expect(NO_INDEX_WARNING).toBe('No matching index found, create an index to optimize query time.');
  });

  it('uses a JSON index whose fields the selector requires', () => {
    const result = plan({ selector: { type: 'sale' } }, [byType]);
    expect(result.index).toBe(byType);
    expect(result.warnings).toEqual([]);
  });

  it('does not use an index on a field the selector does not constrain', () => {
    expect(plan({ selector: { other: 1 } }, [byType]).index.name).toBe('_all_docs');
    expect(plan({ selector: {} }, [byType]).index.name).toBe('_all_docs');
  });

  it('does not use an index whose second field the selector leaves free (every column must be required)', () => {
    expect(plan({ selector: { type: 'sale' } }, [byTypeDate]).index.name).toBe('_all_docs');
  });

  it('counts any operator but $exists: false as requiring the field (has_required_fields)', () => {
    expect(plan({ selector: { type: { $regex: '^s' } } }, [byType]).index).toBe(byType);
    expect(plan({ selector: { type: { $ne: 'x' } } }, [byType]).index).toBe(byType);
    expect(plan({ selector: { type: { $exists: false } } }, [byType]).index.name).toBe('_all_docs');
  });

  it('sees through $or only when every branch requires the field', () => {
    expect(plan({ selector: { $or: [{ type: 'a' }, { type: 'b' }] } }, [byType]).index).toBe(byType);
    expect(plan({ selector: { $or: [{ type: 'a' }, { other: 'b' }] } }, [byType]).index.name).toBe(
      '_all_docs',
    );
  });

  it('does not need _id in the selector for an index on _id (mango_idx_view:is_usable)', () => {
    const byId = index(['_id'], 'by-id');
    expect(plan({ selector: { x: 1 } }, [byId]).index).toBe(byId);
  });

  it('prefers the index covering more of the selector’s indexable fields, then fewer columns, then ddoc order (choose_best_index)', () => {
    const selector = { type: 'sale', date: { $gt: '2024' } };
    expect(plan({ selector }, [byType, byTypeDate]).index).toBe(byTypeDate);
    const wide = index(['type', 'date', 'x'], 'wide');
    expect(plan({ selector: { ...selector, x: { $exists: true } } }, [byType, wide]).index).toBe(wide);
    const a = index(['type'], 'a-index');
    const z = index(['type'], 'z-index');
    expect(plan({ selector: { type: 'sale' } }, [z, a]).index).toBe(a);
    expect(plan({ selector: { type: 'sale', other: 1 } }, [byType, wide]).index).toBe(byType);
  });

  it('prefers fewer columns when both cover the same fields', () => {
    const narrow = index(['date'], 'narrow');
    const withType = index(['date', 'type'], 'date-type');
    expect(plan({ selector: { date: 1, type: 2 } }, [withType, narrow]).index).toBe(withType);
    expect(plan({ selector: { date: 1, type: { $regex: 'x' } } }, [withType, narrow]).index).toBe(narrow);
  });

  it('uses a partial index only when use_index names it (find.rst: is_partial)', () => {
    const open = index(['type'], 'open', { partial_filter_selector: { open: true } });
    expect(plan({ selector: { type: 'job' } }, [open]).index.name).toBe('_all_docs');
    expect(plan({ selector: { type: 'job' }, use_index: 'open' }, [open]).index).toBe(open);
  });

  it('uses the index use_index names over a better one', () => {
    const result = plan({ selector: { type: 'sale', date: 1 }, use_index: ['by-type', 'by-type'] }, [
      byType,
      byTypeDate,
    ]);
    expect(result.index).toBe(byType);
    expect(result.warnings).toEqual([]);
  });

  it('warns and falls back when use_index names a missing or unusable index (mango_cursor:invalid_index_warning)', () => {
    const missing = plan({ selector: { type: 'sale' }, use_index: 'nope' }, [byType]);
    expect(missing.index).toBe(byType);
    expect(missing.warnings).toEqual([
      '_design/nope was not used because it does not contain a valid index for this query.',
    ]);
    const unusable = plan({ selector: { type: 'sale' }, use_index: ['_design/by-date', 'by-date'] }, [
      byDate,
    ]);
    expect(unusable.warnings).toEqual([
      '_design/by-date, by-date was not used because it is not a valid index for this query.',
      NO_INDEX_WARNING,
    ]);
  });
});

describe('sorting', () => {
  it('refuses a sort no index serves with no_usable_index (mango_idx:get_usable_indexes)', () => {
    expect(failure(() => plan({ selector: { type: 'sale' }, sort: ['date'] }))).toEqual({
      error: 'no_usable_index',
      reason: 'No index exists for this sort, try indexing by the sort fields.',
      status: 400,
    });
  });

  it('sorts with an index on the sort field, even when the selector does not name it (sort fields are exempt)', () => {
    const result = plan({ selector: { total: { $gt: 0 } }, sort: [{ date: 'desc' }] }, [byDate]);
    expect(result.index).toBe(byDate);
    expect(result.direction).toBe('rev');
  });

  it('sorts on a later column when the columns before it are pinned by $eq (can_use_sort, is_constant_field)', () => {
    expect(plan({ selector: { type: 'sale' }, sort: ['date'] }, [byTypeDate]).index).toBe(byTypeDate);
    expect(
      failure(() => plan({ selector: { type: { $gt: 'a' } }, sort: ['date'] }, [byTypeDate])).error,
    ).toBe('no_usable_index');
  });

  it('needs the sort fields as consecutive columns in order', () => {
    const sort = [{ type: 'asc' }, { date: 'asc' }];
    expect(plan({ selector: { type: 'a', date: 1 }, sort }, [byTypeDate]).index).toBe(byTypeDate);
    expect(
      failure(() => plan({ selector: { type: 'a', date: 1 }, sort: ['date', 'type'] }, [byTypeDate])).error,
    ).toBe('no_usable_index');
  });

  it('sorts on _id with _all_docs when the selector narrows _id (mango_idx_special:is_usable)', () => {
    expect(plan({ selector: { _id: { $gt: 'a' } }, sort: ['_id'] }).index.name).toBe('_all_docs');
    expect(failure(() => plan({ selector: { x: 1 }, sort: ['_id'] })).error).toBe('no_usable_index');
  });

  it('refuses use_index naming an index that cannot serve the sort when none can', () => {
    expect(
      failure(() => plan({ selector: { type: 'a' }, sort: ['date'], use_index: 'by-type' }, [byType])).error,
    ).toBe('no_usable_index');
  });
});

describe('key ranges', () => {
  it('pins an $eq and scans [v]..[v] inclusive', () => {
    expect(plan({ selector: { type: 'sale' } }, [byType]).range).toEqual({
      start: { key: ['sale'], inclusive: true },
      end: { key: ['sale'], inclusive: true },
    });
  });

  it('starts after an exclusive $gt and stops before an exclusive $lt', () => {
    expect(plan({ selector: { date: { $gt: 1, $lt: 9 } } }, [byDate]).range).toEqual({
      start: { key: [1], inclusive: false },
      end: { key: [9], inclusive: false },
    });
  });

  it('leaves an end open: the empty prefix is above every key', () => {
    expect(plan({ selector: { date: { $gte: 5 } } }, [byDate]).range).toEqual({
      start: { key: [5], inclusive: true },
      end: { key: [], inclusive: true },
    });
  });

  it('pins leading columns, then ranges over the next one', () => {
    const selector = { type: 'sale', date: { $gte: '2024-01', $lt: '2024-02' } };
    expect(plan({ selector }, [byTypeDate]).range).toEqual({
      start: { key: ['sale', '2024-01'], inclusive: true },
      end: { key: ['sale', '2024-02'], inclusive: false },
    });
  });

  it('ANDs the conditions on one field (mango_idx_view:range): the tighter bound wins, equal bounds pin', () => {
    expect(plan({ selector: { date: { $gt: 1, $gte: 3, $lte: 7, $lt: 8 } } }, [byDate]).range).toEqual({
      start: { key: [3], inclusive: true },
      end: { key: [7], inclusive: true },
    });
    expect(plan({ selector: { date: { $gte: 3, $lte: 3 } } }, [byDate]).range?.start).toEqual({
      key: [3],
      inclusive: true,
    });
  });

  it('scans nothing when the conditions contradict each other', () => {
    expect(plan({ selector: { date: { $gt: 5, $lt: 3 } } }, [byDate]).range).toBeNull();
    expect(plan({ selector: { date: { $gt: 5, $eq: 5 } } }, [byDate]).range).toBeNull();
    expect(plan({ selector: { type: 'a', $and: [{ type: 'b' }] } }, [byType]).range).toBeNull();
  });

  it('scans nothing for a selector that is only an empty $or or $and (mango_cursor:maybe_noop_range)', () => {
    expect(plan({ selector: { $or: [] } }).range).toBeNull();
    expect(plan({ selector: { $and: [] } }).range).toBeNull();
    expect(plan({ selector: { a: 1, $or: [] } }).range).not.toBeNull();
  });

  it('does not turn $in, $or or $ne into a range: they filter each document', () => {
    const all = { start: { key: [], inclusive: true }, end: { key: [], inclusive: true } };
    expect(plan({ selector: { type: { $in: ['a', 'b'] } } }, [byType]).range).toEqual(all);
    expect(plan({ selector: { $or: [{ type: 'a' }, { type: 'b' }] } }, [byType]).range).toEqual(all);
    expect(plan({ selector: { type: { $ne: 'a' } } }, [byType]).range).toEqual(all);
  });

  it('scans _all_docs whole: it orders ids by code point, the selector compares them by collation', () => {
    expect(plan({ selector: { _id: { $gt: 'a' } } }).range).toEqual({
      start: { key: [], inclusive: true },
      end: { key: [], inclusive: true },
    });
  });

  it('says when the range alone decides the selector', () => {
    expect(plan({ selector: { type: 'sale' } }, [byType]).exact).toBe(true);
    expect(plan({ selector: { type: 'sale', date: { $gt: 1 } } }, [byTypeDate]).exact).toBe(true);
    expect(plan({ selector: { type: { $gt: 'a' }, date: 1 } }, [byTypeDate]).exact).toBe(false);
    expect(plan({ selector: { type: 'sale', total: 3 } }, [byType]).exact).toBe(false);
    expect(plan({ selector: { type: { $in: ['a'] } } }, [byType]).exact).toBe(false);
    expect(plan({ selector: { x: 1 } }).exact).toBe(false);
  });

  describe('the range holds every matching document (checked against the selector matcher)', () => {
    const value = fc.oneof(
      fc.constantFrom(null, true, false),
      fc.integer({ min: -3, max: 3 }),
      fc.constantFrom('a', 'b', 'B', 'é'),
    );
    const op = fc.constantFrom('$eq', '$gt', '$gte', '$lt', '$lte', '$ne', '$in');
    const condition = fc.tuple(fc.constantFrom('type', 'date'), op, value).map(([field, name, arg]) => ({
      [field]: { [name]: name === '$in' ? [arg] : arg },
    }));
    const selector = fc.array(condition, { minLength: 1, maxLength: 4 }).map((parts) => ({ $and: parts }));
    const doc = fc.record({ type: value, date: value });

    it('no matching document lies outside the range; with exact, every document inside matches', () => {
      fc.assert(
        fc.property(selector, fc.array(doc, { maxLength: 20 }), (sel, docs) => {
          const result = plan({ selector: sel }, [byTypeDate, byType, byDate]);
          const matcher = compileSelector(sel);
          const columns = result.index.def.fields.map((field) => Object.keys(field)[0] ?? '');
          for (const d of docs) {
            const key = columns.map((column) => d[column as 'type' | 'date']);
            const inRange =
              result.range !== null && (result.index.type === 'special' || keyInRange(key, result.range));
            if (matcher.matches(d)) expect(inRange).toBe(true);
            if (result.exact && inRange && result.index.type === 'json')
              expect(matcher.matches(d)).toBe(true);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('_explain', () => {
  const movies = index(['year'], 'by-year');

  it('answers in CouchDB’s shape (find.rst example: selector year > 2010, sort year, fields, limit 2)', () => {
    const result = plan(
      {
        selector: { year: { $gt: 2010 } },
        fields: ['_id', '_rev', 'year', 'title'],
        sort: [{ year: 'asc' }],
        limit: 2,
        skip: 0,
      },
      [movies],
    );
    expect(result.explain).toEqual({
      dbname: 'shop',
      index: {
        ddoc: '_design/by-year',
        name: 'by-year',
        type: 'json',
        partitioned: false,
        def: { fields: [{ year: 'asc' }] },
      },
      partitioned: false,
      selector: { year: { $gt: 2010 } },
      opts: {
        use_index: [],
        bookmark: 'nil',
        limit: 2,
        skip: 0,
        sort: { year: 'asc' },
        fields: ['_id', '_rev', 'year', 'title'],
        partition: '',
        r: 1,
        conflicts: false,
        stale: false,
        update: true,
        stable: false,
        execution_stats: false,
      },
      limit: 2,
      skip: 0,
      fields: ['_id', '_rev', 'year', 'title'],
      mrargs: {
        include_docs: true,
        view_type: 'map',
        reduce: false,
        partition: null,
        start_key: [2010],
        end_key: ['<MAX>'],
        direction: 'fwd',
        stable: false,
        update: true,
        conflicts: 'undefined',
      },
      covering: false,
    });
  });

  it('builds CouchDB’s view keys: values up to the first open bound, then "<MAX>" (mango_idx_view start_key/end_key)', () => {
    const explain = plan({ selector: { type: 'sale', date: { $lte: 5 } } }, [byTypeDate]).explain;
    expect([explain.mrargs.start_key, explain.mrargs.end_key]).toEqual([['sale'], ['sale', 5, '<MAX>']]);
  });

  it('swaps the keys for a descending sort (mango_cursor_view:apply_opts)', () => {
    const explain = plan({ selector: { year: { $gt: 2010 } }, sort: [{ year: 'desc' }] }, [movies]).explain;
    expect(explain.mrargs).toMatchObject({ direction: 'rev', start_key: ['<MAX>'], end_key: [2010] });
  });

  it('shows null keys when nothing can match (mango_cursor_view:base_args)', () => {
    const explain = plan({ selector: { year: { $gt: 5, $lt: 1 } } }, [movies]).explain;
    expect([explain.mrargs.start_key, explain.mrargs.end_key]).toEqual([null, null]);
  });

  it('maps r, conflicts and stale onto mrargs (mango_cursor_view:apply_opts)', () => {
    const explain = plan({ selector: { year: 1 }, r: 2, conflicts: true, stale: 'ok' }, [movies]).explain;
    expect(explain.mrargs).toMatchObject({
      include_docs: false,
      conflicts: true,
      stable: true,
      update: false,
    });
  });

  it('explains _all_docs with bare id keys (mango_idx_special:start_key/end_key)', () => {
    const explain = plan({ selector: { _id: { $gte: 'a', $lt: 'm' } } }).explain;
    expect(explain.index).toEqual({
      ddoc: null,
      name: '_all_docs',
      type: 'special',
      def: { fields: [{ _id: 'asc' }] },
    });
    expect([explain.mrargs.start_key, explain.mrargs.end_key]).toEqual(['a', 'm']);
    expect(plan({ selector: { x: 1 } }).explain.mrargs).toMatchObject({ start_key: '', end_key: '<MAX>' });
  });

  it('is covering when the fields and the selector stay within the index columns and _id (RFC 018)', () => {
    expect(plan({ selector: { year: { $gt: 1 } }, fields: ['_id', 'year'] }, [movies]).covering).toBe(true);
    expect(plan({ selector: { year: { $gt: 1 } }, fields: ['title'] }, [movies]).covering).toBe(false);
    expect(plan({ selector: { year: { $gt: 1 } } }, [movies]).covering).toBe(false);
    expect(plan({ selector: { year: { $gt: 1 }, t: 1 }, fields: ['year'] }, [movies]).explain.covering).toBe(
      false,
    );
  });
});
