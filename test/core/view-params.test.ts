/*
 * Facts from CouchDB (apache/couchdb, read with the search tool):
 * - src/couch_mrview/src/couch_mrview_http.erl `parse_param`: parameter names and aliases
 *   (startkey/start_key, startkey_docid/start_key_doc_id, …), `key` sets start and end key,
 *   `stale`, `stable`, `update`; `parse_boolean` (case-blind, "Invalid boolean parameter: ~p"),
 *   `parse_int` ("Invalid value for integer: ~p"), `parse_pos_int` ("Invalid value for positive
 *   integer: ~p"); `parse_body_and_query`: body members (decoded) first, query string on top.
 * - src/couch_mrview/src/couch_mrview_util.erl `validate_args`, `determine_group_level`,
 *   `check_range`, `get_view_keys`, and `key_opts`/`skey_opts`/`ekey_opts`/`reverse_key_default`
 *   for the (key, doc id) bounds.
 * - src/chttpd/src/chttpd_view.erl: `queries` refused at the view endpoint, required at
 *   `/queries`; src/chttpd/test/eunit/chttpd_view_test.erl: parameter order matters for
 *   `key`/`startkey`, one-key `keys` reduces without `group`, "Multi-key fetches…".
 * - couch_ejson_compare.erl `less_json_ids`: view rows sort by key collation, then doc id bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { collate } from '../../src/core/mango/index.js';
import {
  compareDocIds,
  keyRanges,
  parseViewQueries,
  parseViewQuery,
  rowInRange,
  rowPosition,
  scanBounds,
  validateViewQuery,
  type ViewQuery,
  type ViewRow,
} from '../../src/core/views/index.js';

function failure(action: () => unknown): SetteeError {
  try {
    action();
  } catch (err) {
    expect(err).toBeInstanceOf(SetteeError);
    return err as SetteeError;
  }
  throw new Error('expected a failure');
}

/** The reason of a 400 query_parse_error. */
function parseError(action: () => unknown): string {
  const err = failure(action);
  expect(err.toJSON().error).toBe('query_parse_error');
  expect(err.status).toBe(400);
  return err.reason;
}

const MAP = { hasReduce: false };
const REDUCE = { hasReduce: true };
const validated = (query: Record<string, string>, view = MAP, body?: unknown) =>
  validateViewQuery(parseViewQuery(query, body), view);

describe('parseViewQuery', () => {
  it('defaults as #mrargs does: forward, inclusive end, no skip, update, sorted', () => {
    expect(parseViewQuery({})).toEqual({
      inclusiveEnd: true,
      descending: false,
      skip: 0,
      includeDocs: false,
      attachments: false,
      attEncodingInfo: false,
      update: 'true',
      stable: false,
      updateSeq: false,
      sorted: true,
    });
  });

  it('decodes JSON keys, under either spelling, and keeps doc ids as strings', () => {
    const q = parseViewQuery({
      start_key: '["a",1]',
      endkey: '{"z":null}',
      startkey_docid: 'doc"1',
      end_key_doc_id: 'doc2',
    });
    expect(q).toMatchObject({
      startkey: ['a', 1],
      endkey: { z: null },
      startkeyDocId: 'doc"1',
      endkeyDocId: 'doc2',
    });
    expect(parseViewQuery({ startkey: 'null' }).startkey).toBeNull();
  });

  it('lets key set both ends, in parameter order (chttpd_view_test t_view_with_key_and_start_key)', () => {
    expect(parseViewQuery({ key: '"a"', startkey: '"b"' })).toMatchObject({ startkey: 'b', endkey: 'a' });
    expect(parseViewQuery({ startkey: '"b"', key: '"a"' })).toMatchObject({ startkey: 'a', endkey: 'a' });
  });

  it('reads one key in keys as key, two or more as keys', () => {
    expect(parseViewQuery({ keys: '["a"]' })).toMatchObject({ startkey: 'a', endkey: 'a' });
    expect(parseViewQuery({ keys: '["a"]' }).keys).toBeUndefined();
    expect(parseViewQuery({ keys: '["b","a","b"]' }).keys).toEqual(['b', 'a', 'b']);
    expect(parseError(() => parseViewQuery({ keys: '"a"' }))).toBe('`keys` must be an array of strings.');
  });

  it('reads booleans in any case and refuses others with the value quoted', () => {
    expect(parseViewQuery({ descending: 'TRUE', inclusive_end: 'False' })).toMatchObject({
      descending: true,
      inclusiveEnd: false,
    });
    expect(parseError(() => parseViewQuery({ include_docs: 'yes' }))).toBe(
      'Invalid boolean parameter: "yes"',
    );
  });

  it('reads limit, skip and group_level as integers that are not negative', () => {
    expect(parseViewQuery({ limit: '10', skip: '+2', group_level: '0' })).toMatchObject({
      limit: 10,
      skip: 2,
      groupLevel: 0,
    });
    expect(parseError(() => parseViewQuery({ limit: '-1' }))).toBe(
      'Invalid value for positive integer: "-1"',
    );
    expect(parseError(() => parseViewQuery({ skip: 'abc' }))).toBe('Invalid value for integer: "abc"');
    expect(parseError(() => parseViewQuery({ group_level: '1.5' }))).toBe('Invalid value for integer: "1.5"');
  });

  it('reads update, stable and the older stale', () => {
    expect(parseViewQuery({ update: 'lazy', stable: 'true' })).toMatchObject({
      update: 'lazy',
      stable: true,
    });
    expect(parseViewQuery({ stale: 'ok' })).toMatchObject({ update: 'false', stable: true });
    expect(parseViewQuery({ stale: 'update_after' })).toMatchObject({ update: 'lazy', stable: true });
    expect(parseError(() => parseViewQuery({ update: 'maybe' }))).toBe('Invalid value for `update`.');
    expect(parseError(() => parseViewQuery({ stable: 'ok' }))).toBe('Invalid value for `stable`.');
    expect(parseError(() => parseViewQuery({ stale: 'later' }))).toBe('Invalid value for `stale`.');
  });

  it('answers JSON that does not parse with a bad_request', () => {
    const err = failure(() => parseViewQuery({ startkey: 'abc' }));
    expect(err.toJSON()).toEqual({ error: 'bad_request', reason: 'invalid UTF-8 JSON' });
  });

  it('ignores parameters it does not know, as CouchDB keeps them aside', () => {
    expect(parseViewQuery({ callback: 'f', nonsense: 'x' })).toEqual(parseViewQuery({}));
  });

  it('takes a POST body of decoded members, with the query string on top', () => {
    const q = parseViewQuery(
      { limit: '3' },
      { keys: ['a', 'b'], limit: 10, group: true, startkey_docid: 'x' },
    );
    expect(q).toMatchObject({ keys: ['a', 'b'], limit: 3, group: true, startkeyDocId: 'x' });
    expect(parseViewQuery({}, { key: 'not_exist' })).toMatchObject({
      startkey: 'not_exist',
      endkey: 'not_exist',
    });
  });

  it('refuses a body that is no object, keys that are no array, and queries at this endpoint', () => {
    expect(failure(() => parseViewQuery({}, [1])).error).toBe('bad_request');
    expect(failure(() => parseViewQuery({}, { keys: 'a' })).toJSON()).toEqual({
      error: 'bad_request',
      reason: '`keys` member must be a array.',
    });
    expect(failure(() => parseViewQuery({}, { queries: [] })).reason).toBe(
      'The `queries` parameter is no longer supported at this endpoint',
    );
    expect(parseError(() => parseViewQuery({}, { startkey_docid: 5 }))).toBe(
      '`start_key_docid` must be a string.',
    );
  });
});

describe('parseViewQueries (POST …/_view/{view}/queries)', () => {
  it('applies each query over the query string, each with its own grouping and keys', () => {
    const queries = parseViewQueries(
      { descending: 'true', group: 'true' },
      {
        queries: [{ keys: ['a', 'c'] }, { limit: 1, skip: 1, group_level: 1 }],
      },
    );
    expect(queries).toHaveLength(2);
    expect(queries[0]).toMatchObject({ descending: true, keys: ['a', 'c'] });
    expect(queries[0]?.group).toBeUndefined();
    expect(queries[1]).toMatchObject({ descending: true, limit: 1, skip: 1, groupLevel: 1 });
    expect(queries[1]?.keys).toBeUndefined();
  });

  it('requires an array of queries', () => {
    expect(failure(() => parseViewQueries({}, {})).reason).toBe(
      'POST body must include `queries` parameter.',
    );
    expect(failure(() => parseViewQueries({}, { queries: {} })).reason).toBe(
      '`queries` member must be a array.',
    );
  });
});

describe('validateViewQuery', () => {
  it('reduces a view with a reduce function unless reduce=false, and groups as asked', () => {
    expect(validated({}, REDUCE)).toMatchObject({ reduce: true, grouping: 'all' });
    expect(validated({ group: 'true' }, REDUCE)).toMatchObject({ reduce: true, grouping: 'exact' });
    expect(validated({ group_level: '2' }, REDUCE).grouping).toBe(2);
    expect(validated({ group: 'true', group_level: '1' }, REDUCE).grouping).toBe(1);
    expect(validated({ group_level: '0' }, REDUCE).grouping).toBe('all');
    expect(validated({ reduce: 'false' }, REDUCE)).toMatchObject({ reduce: false });
    expect(validated({}, MAP)).toMatchObject({ reduce: false });
  });

  it('refuses grouping without reducing, but takes level 0 and group=false', () => {
    const reason = 'Invalid use of grouping on a map view.';
    expect(parseError(() => validated({ group: 'true' }, MAP))).toBe(reason);
    expect(parseError(() => validated({ group_level: '1' }, MAP))).toBe(reason);
    expect(parseError(() => validated({ group: 'true', reduce: 'false' }, REDUCE))).toBe(reason);
    expect(validated({ group: 'false', group_level: '0' }, MAP).reduce).toBe(false);
  });

  it('refuses reduce=true on a map view, and group=false with a level', () => {
    expect(parseError(() => validated({ reduce: 'true' }, MAP))).toBe(
      'Reduce is invalid for map-only views.',
    );
    expect(parseError(() => validated({ group: 'false', group_level: '1' }, REDUCE))).toBe(
      "Can't specify group=false and group_level>0 at the same time",
    );
  });

  it('refuses include_docs and conflicts when reducing, takes them with reduce=false', () => {
    expect(parseError(() => validated({ include_docs: 'true' }, REDUCE))).toBe(
      '`include_docs` is invalid for reduce',
    );
    expect(parseError(() => validated({ conflicts: 'false' }, REDUCE))).toBe(
      '`conflicts` is invalid for reduce views.',
    );
    expect(validated({ include_docs: 'true', conflicts: 'true', reduce: 'false' }, REDUCE).includeDocs).toBe(
      true,
    );
  });

  it('takes keys with a reducing view only grouped exactly (one key is a key)', () => {
    const reason = 'Multi-key fetches for reduce views must use `group=true`';
    expect(parseError(() => validated({ keys: '["a","b"]' }, REDUCE))).toBe(reason);
    expect(parseError(() => validated({ keys: '["a","b"]', group_level: '1' }, REDUCE))).toBe(reason);
    expect(validated({ keys: '["a","b"]', group: 'true' }, REDUCE).grouping).toBe('exact');
    expect(validated({ keys: '["a"]' }, REDUCE).grouping).toBe('all');
  });

  it('refuses keys beside key, startkey or endkey', () => {
    const reason = '`keys` is incompatible with `key`, `start_key` and `end_key`';
    expect(parseError(() => validated({ keys: '["a","b"]', start_key: '"b"' }))).toBe(reason);
    expect(parseError(() => validated({ key: '"a"', keys: '["a","b"]' }))).toBe(reason);
    expect(validated({ keys: '[]', startkey: '"b"' }).keys).toEqual([]);
  });

  it('refuses a start after the end in the direction of the scan', () => {
    const forward =
      'No rows can match your key range, reverse your start_key and end_key or set descending=true';
    const backward =
      'No rows can match your key range, reverse your start_key and end_key or set descending=false';
    expect(parseError(() => validated({ startkey: '"b"', endkey: '"a"' }))).toBe(forward);
    expect(parseError(() => validated({ key: '"a"', startkey: '"b"' }))).toBe(forward);
    expect(parseError(() => validated({ keys: '["a"]', startkey: '"b"' }))).toBe(forward);
    expect(parseError(() => validated({ startkey: '"a"', endkey: '"b"', descending: 'true' }))).toBe(
      backward,
    );
    expect(validated({ startkey: '"b"', endkey: '"a"', descending: 'true' }).descending).toBe(true);
  });

  it('compares doc ids when the keys collate equal, but lets identical keys pass', () => {
    // 'é' and 'e\u0301' collate equal (ICU) without being the same term.
    const forward = { startkey: '"é"', endkey: '"e\\u0301"' };
    expect(validated(forward).startkey).toBe('é');
    expect(() => validated({ ...forward, startkey_docid: 'b', endkey_docid: 'a' })).toThrow(SetteeError);
    expect(validated({ key: '"x"', startkey_docid: 'b', endkey_docid: 'a' }).startkeyDocId).toBe('b');
  });
});

/** Rows in view order: by key collation, then doc id. */
const ROWS: ViewRow[] = [
  ['a', 'd1'],
  ['b', 'd1'],
  ['b', 'd2'],
  ['b', 'd3'],
  ['c', 'd1'],
  ['c', 'd2'],
  ['d', 'd1'],
].map(([key, id]) => ({ key, id: id as string, value: null }));

/** The rows a query selects, as "key/id", in scan order. */
function selected(query: Record<string, string>): string[][] {
  const q = validated(query);
  const scan = q.descending ? [...ROWS].reverse() : ROWS;
  return keyRanges(q).map((range) => scan.filter((row) => rowInRange(row, range)).map(label));
}
const label = (row: ViewRow) => `${String(row.key)}/${row.id}`;

describe('key ranges', () => {
  it('reads from startkey to endkey, both included', () => {
    expect(selected({ startkey: '"b"', endkey: '"c"' })).toEqual([['b/d1', 'b/d2', 'b/d3', 'c/d1', 'c/d2']]);
    expect(selected({})).toEqual([ROWS.map(label)]);
  });

  it('leaves out every row of the end key with inclusive_end=false', () => {
    expect(selected({ startkey: '"b"', endkey: '"c"', inclusive_end: 'false' })).toEqual([
      ['b/d1', 'b/d2', 'b/d3'],
    ]);
    expect(selected({ key: '"b"', inclusive_end: 'false' })).toEqual([[]]);
  });

  it('starts within the start key at startkey_docid, ends within the end key at endkey_docid', () => {
    expect(selected({ startkey: '"b"', startkey_docid: 'd2', endkey: '"c"', endkey_docid: 'd1' })).toEqual([
      ['b/d2', 'b/d3', 'c/d1'],
    ]);
    // ekey_opts: with inclusive_end=false an end doc id ends the range just before it.
    expect(selected({ startkey: '"b"', endkey: '"c"', endkey_docid: 'd2', inclusive_end: 'false' })).toEqual([
      ['b/d1', 'b/d2', 'b/d3', 'c/d1'],
    ]);
  });

  it('ignores the doc ids without their key (skey_opts, ekey_opts)', () => {
    expect(selected({ startkey_docid: 'd3', endkey_docid: 'd1' })).toEqual([ROWS.map(label)]);
  });

  it('reads backwards with descending, doc ids backwards too', () => {
    expect(selected({ startkey: '"c"', endkey: '"b"', descending: 'true' })).toEqual([
      ['c/d2', 'c/d1', 'b/d3', 'b/d2', 'b/d1'],
    ]);
    expect(
      selected({
        startkey: '"c"',
        startkey_docid: 'd1',
        endkey: '"b"',
        endkey_docid: 'd2',
        descending: 'true',
      }),
    ).toEqual([['c/d1', 'b/d3', 'b/d2']]);
    expect(selected({ startkey: '"c"', endkey: '"b"', descending: 'true', inclusive_end: 'false' })).toEqual([
      ['c/d2', 'c/d1'],
    ]);
    expect(
      selected({
        startkey: '"c"',
        endkey: '"b"',
        endkey_docid: 'd2',
        descending: 'true',
        inclusive_end: 'false',
      }),
    ).toEqual([['c/d2', 'c/d1', 'b/d3']]);
  });

  it('looks keys up one by one, in the order given, repeats included', () => {
    expect(selected({ keys: '["c","a","zz","c"]' })).toEqual([
      ['c/d1', 'c/d2'],
      ['a/d1'],
      [],
      ['c/d1', 'c/d2'],
    ]);
    expect(selected({ keys: '["c","b"]', descending: 'true' })).toEqual([
      ['c/d2', 'c/d1'],
      ['b/d3', 'b/d2', 'b/d1'],
    ]);
    // A key is the range from it to itself: inclusive_end=false leaves nothing (key_opts).
    expect(selected({ keys: '["c","b"]', inclusive_end: 'false' })).toEqual([[], []]);
  });

  it('tells the scan where to stop: positions run before, inside, after', () => {
    const [range] = keyRanges(
      validated({ startkey: '"b"', startkey_docid: 'd2', endkey: '"c"', endkey_docid: 'd1' }),
    );
    expect(ROWS.map((row) => rowPosition(row, range!))).toEqual([
      'before',
      'before',
      'inside',
      'inside',
      'inside',
      'after',
      'after',
    ]);
  });

  it('gives key bounds for the storage scan, excluding the end key only when all its rows are out', () => {
    const bounds = (query: Record<string, string>) => keyRanges(validated(query)).map(scanBounds);
    expect(bounds({ startkey: '"b"', endkey: '"c"' })).toEqual([
      { descending: false, start: 'b', end: 'c', inclusiveEnd: true },
    ]);
    expect(bounds({ startkey: '"b"', endkey: '"c"', inclusive_end: 'false' })[0]?.inclusiveEnd).toBe(false);
    expect(bounds({ endkey: '"c"', endkey_docid: 'd2', inclusive_end: 'false' })[0]?.inclusiveEnd).toBe(true);
    expect(bounds({ endkey: '"b"', descending: 'true', inclusive_end: 'false' })).toEqual([
      { descending: true, end: 'b', inclusiveEnd: false },
    ]);
    expect(bounds({})).toEqual([{ descending: false, inclusiveEnd: true }]);
    expect(bounds({ keys: '["x","y"]' }).map((b) => b.start)).toEqual(['x', 'y']);
  });

  it('orders doc ids by their UTF-8 bytes, not by UTF-16 code units', () => {
    // U+FFFF is 3 bytes (EF BF BF), U+1F600 is 4 bytes (F0 9F 98 80): the emoji is greater,
    // though its first UTF-16 unit (0xD83D) is smaller than 0xFFFF.
    expect(compareDocIds('\uffff', '😀')).toBeLessThan(0);
    expect(compareDocIds('😀', '\uffff')).toBeGreaterThan(0);
    expect(compareDocIds('a', 'ab')).toBeLessThan(0);
    expect(compareDocIds('b', 'b')).toBe(0);
    const byBytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareDocIds(a, b))).toBe(Math.sign(byBytes(a, b)));
      }),
    );
  });

  it('selects one contiguous run of the sorted rows, whatever the bounds (property)', () => {
    const key = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom('a', 'b', 'c'), fc.constant(null));
    const id = fc.constantFrom('d1', 'd2', 'd3');
    const rowsArb = fc.array(fc.record({ key, id, value: fc.constant(null) }), { maxLength: 30 });
    const queryArb = fc.record(
      {
        startkey: key,
        endkey: key,
        startkeyDocId: id,
        endkeyDocId: id,
        descending: fc.boolean(),
        inclusiveEnd: fc.boolean(),
      },
      { requiredKeys: ['descending', 'inclusiveEnd'] },
    );
    fc.assert(
      fc.property(rowsArb, queryArb, (rows, partial) => {
        const q = { ...parseViewQuery({}), ...partial } as ViewQuery;
        const direction = q.descending ? -1 : 1;
        const sorted = [...rows].sort(
          (a, b) => direction * (collate(a.key, b.key) || compareDocIds(a.id, b.id)),
        );
        const [range] = keyRanges(q);
        const positions = sorted.map((row) => rowPosition(row, range!));
        const order = { before: 0, inside: 1, after: 2 };
        for (let i = 1; i < positions.length; i++) {
          expect(order[positions[i]!]).toBeGreaterThanOrEqual(order[positions[i - 1]!]);
        }
      }),
    );
  });
});
