/**
 * `fields` projection (apache/couchdb src/mango/src/mango_fields.erl extract/2: each field read
 * with mango_doc:get_field and written with set_field; not_found and bad_path leave it out) and
 * `_find` bookmarks (mango_json_bookmark.erl: the last row's key and id; an unreadable bookmark
 * is `invalid_bookmark`, "Invalid bookmark value: " and the value as JSON, from mango_error.erl).
 */
import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { decodeBookmark, encodeBookmark, project } from '../../src/core/mango/index.js';

const doc = {
  _id: 'sale-1',
  _rev: '1-abc',
  till: { id: 't1', place: { city: 'Lyon' } },
  lines: [{ sku: 'a' }, { sku: 'b' }],
  'odd.key': 7,
  total: 0,
  note: null,
};

describe('project', () => {
  it('returns the whole document without fields', () => {
    expect(project(doc, null)).toBe(doc);
  });

  it('keeps only the fields asked for, _id included only when asked (find.rst "Filtering Fields")', () => {
    expect(project(doc, ['total'])).toEqual({ total: 0 });
    expect(project(doc, ['_id', 'total'])).toEqual({ _id: 'sale-1', total: 0 });
  });

  it('keeps falsy values: 0 and null are values, not missing', () => {
    expect(project(doc, ['total', 'note'])).toEqual({ total: 0, note: null });
  });

  it('omits missing fields and paths through a scalar (not_found, bad_path)', () => {
    expect(project(doc, ['nothing', 'total.x', 'till.none'])).toEqual({});
  });

  it('nests dotted paths and merges siblings', () => {
    expect(project(doc, ['till.place.city', 'till.id'])).toEqual({
      till: { place: { city: 'Lyon' }, id: 't1' },
    });
  });

  it('reads an array element by its index', () => {
    expect(project(doc, ['lines.1.sku'])).toEqual({ lines: { 1: { sku: 'b' } } });
  });

  it('reads a key containing a dot when the dot is escaped', () => {
    expect(project(doc, ['odd\\.key'])).toEqual({ 'odd.key': 7 });
  });

  it('a parent then its child keeps the parent whole', () => {
    expect(project(doc, ['till', 'till.id'])).toEqual({ till: doc.till });
  });
});

describe('bookmarks', () => {
  it('round-trips the last row’s key and id, any JSON key', () => {
    for (const key of [['till-1', 12], 'x', null, { a: [1, 'é'] }]) {
      const text = encodeBookmark({ key, id: 'sale-9' });
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeBookmark(text)).toEqual({ key, id: 'sale-9' });
    }
  });

  it.each([['not base64 !'], ['bmls'], [encodeBookmark({ key: 1, id: 'x' }).slice(0, -3)], ['nil']])(
    'refuses %s with invalid_bookmark and CouchDB’s reason',
    (text) => {
      try {
        decodeBookmark(text);
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(SetteeError);
        expect(err).toMatchObject({
          error: 'invalid_bookmark',
          status: 400,
          reason: `Invalid bookmark value: ${JSON.stringify(text)}`,
        });
      }
    },
  );

  it('refuses a bookmark whose JSON lacks the id', () => {
    const text = Buffer.from(JSON.stringify({ key: 1 })).toString('base64url');
    expect(() => decodeBookmark(text)).toThrow(/Invalid bookmark value/);
  });
});
