/**
 * The web page's comparison of versions (ui/diff.js): pure functions, tested here in Node. The
 * page is plain JavaScript without types, so the module is imported by URL and typed below.
 */
import { beforeAll, describe, expect, it } from 'vitest';

type Body = Record<string, unknown>;
type Version = { rev: string; doc: Body };
interface Row {
  path: string[];
  field: string;
  values: unknown[];
  base: unknown;
  differs: boolean;
  changed: boolean[];
  contested: boolean;
}
interface DiffModule {
  bodyOf(doc: Body): Body;
  sameValue(a: unknown, b: unknown): boolean;
  labelOf(index: number): string;
  compareVersions(leaves: Version[], ancestor: Version | null): Row[];
  compareAttachments(
    leaves: Version[],
    ancestor: Version | null,
  ): { stubs: unknown[]; differs: boolean; changed: boolean[] };
  suggestMerge(rows: Row[]): Body;
  withValue(merged: Body, path: string[], value: unknown): Body;
  valueAt(body: unknown, path: string[]): unknown;
  sourcesOf(row: Row, merged: Body): number[];
  withMergedFields(rows: Row[], merged: Body, versionCount: number): Row[];
}

let diff: DiffModule;

beforeAll(async () => {
  diff = (await import(new URL('../../ui/diff.js', import.meta.url).href)) as DiffModule;
});

const version = (rev: string, body: Body): Version => ({ rev, doc: { _id: 'd', _rev: rev, ...body } });

describe('ui/diff.js', () => {
  it('compares what people wrote, not the bookkeeping', () => {
    const doc = {
      _id: 'd',
      _rev: '2-a',
      _revisions: {},
      _attachments: {},
      _conflicts: [],
      name: 'x',
      _other: 1,
    };
    expect(diff.bodyOf(doc)).toEqual({ name: 'x', _other: 1 });
  });

  it('equates JSON values whatever the order of their keys, but not of array items', () => {
    expect(diff.sameValue({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(diff.sameValue([1, 2], [2, 1])).toBe(false);
    expect(diff.sameValue({ a: undefined }, {})).toBe(false);
    expect(diff.sameValue(null, {})).toBe(false);
    expect(diff.sameValue([], {})).toBe(false);
    expect(diff.sameValue('1', 1)).toBe(false);
  });

  it('keeps a field named __proto__ as a field through the comparison and the merge', () => {
    // As JSON.parse reads it: an own field, not the object's prototype.
    const a = version('2-a', JSON.parse('{"__proto__": {"x": 1}, "n": 1}') as Body);
    const b = version('2-b', JSON.parse('{"__proto__": {"x": 2}, "n": 1}') as Body);
    const rows = diff.compareVersions([a, b], null);
    const merged = diff.withValue(diff.suggestMerge(rows), ['__proto__'], { x: 2 });
    expect(JSON.stringify(merged)).toBe('{"__proto__":{"x":2},"n":1}');
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(JSON.stringify(diff.bodyOf(a.doc))).toBe('{"__proto__":{"x":1},"n":1}');
  });

  it('names versions A to Z, then by number', () => {
    expect([0, 1, 25, 26].map(diff.labelOf)).toEqual(['A', 'B', 'Z', '27']);
  });

  it('marks against the ancestor which version changed each field, and which fields are contested', () => {
    const base = version('1-o', { name: 'Ada', price: 10, colour: 'red', gone: true });
    const a = version('2-a', { name: 'Ada', price: 12, colour: 'blue', gone: true });
    const b = version('2-b', { name: 'Ada', price: 10, colour: 'green', added: 'x' });
    const rows = diff.compareVersions([a, b], base);
    expect(rows.map((row) => row.field)).toEqual(['name', 'price', 'colour', 'gone', 'added']);
    const byField = Object.fromEntries(rows.map((row) => [row.field, row]));
    expect(byField.name).toMatchObject({ differs: false, changed: [false, false], contested: false });
    expect(byField.price).toMatchObject({
      base: 10,
      differs: true,
      changed: [true, false],
      contested: false,
    });
    expect(byField.colour).toMatchObject({ differs: true, changed: [true, true], contested: true });
    expect(byField.gone).toMatchObject({
      values: [true, undefined],
      changed: [false, true],
      contested: false,
    });
    expect(byField.added).toMatchObject({
      values: [undefined, 'x'],
      changed: [false, true],
      contested: false,
    });
    // One-sided changes are taken, deletions included; the contested field stays the winner's.
    expect(diff.suggestMerge(rows)).toEqual({ name: 'Ada', price: 12, colour: 'blue', added: 'x' });
  });

  it('without an ancestor, every difference is contested and the merge starts as the winner', () => {
    const rows = diff.compareVersions(
      [version('1-a', { n: 1, same: 0 }), version('1-b', { n: 2, same: 0 })],
      null,
    );
    expect(rows).toEqual([
      {
        path: ['n'],
        field: 'n',
        values: [1, 2],
        base: undefined,
        differs: true,
        changed: [false, false],
        contested: true,
      },
      {
        path: ['same'],
        field: 'same',
        values: [0, 0],
        base: undefined,
        differs: false,
        changed: [false, false],
        contested: false,
      },
    ]);
    expect(diff.suggestMerge(rows)).toEqual({ n: 1, same: 0 });
  });

  it('two versions that made the same change agree', () => {
    const base = version('1-o', { n: 1 });
    const rows = diff.compareVersions([version('2-a', { n: 2 }), version('2-b', { n: 2 })], base);
    expect(rows[0]).toMatchObject({ differs: false, changed: [true, true], contested: false });
  });

  it('tells which versions a merged value comes from', () => {
    const rows = diff.compareVersions(
      [version('1-a', { n: 1 }), version('1-b', { n: 2 }), version('1-c', { n: 1 })],
      null,
    );
    const row = rows[0]!;
    expect(diff.sourcesOf(row, { n: 1 })).toEqual([0, 2]);
    expect(diff.sourcesOf(row, diff.withValue({ n: 1 }, ['n'], 2))).toEqual([1]);
    expect(diff.sourcesOf(row, { n: 3 })).toEqual([]);
    expect(diff.withValue({ n: 1, m: 2 }, ['n'], undefined)).toEqual({ m: 2 });
  });

  it('adds rows for fields only the merged body has', () => {
    const rows = diff.compareVersions([version('1-a', { n: 1 }), version('1-b', { n: 2 })], null);
    const all = diff.withMergedFields(rows, { n: 1, extra: true }, 2);
    expect(all.map((row) => row.field)).toEqual(['n', 'extra']);
    expect(all[1]).toMatchObject({ values: [undefined, undefined], differs: false });
  });

  it('compares the fields inside objects one by one, by their dotted path', () => {
    const address = { street: '1 Main St', zip: '10001', geo: { lat: 1, lng: 2 } };
    const base = version('1-o', { name: 'Ada', address });
    const a = version('2-a', { name: 'Ada', address: { ...address, zip: '10002' } });
    const b = version('2-b', { name: 'Ada B', address: { ...address, geo: { lat: 1, lng: 3 } } });
    const rows = diff.compareVersions([a, b], base);
    expect(rows.map((row) => row.field)).toEqual([
      'name',
      'address.street',
      'address.zip',
      'address.geo.lat',
      'address.geo.lng',
    ]);
    const byField = Object.fromEntries(rows.map((row) => [row.field, row]));
    expect(byField['address.zip']).toMatchObject({
      path: ['address', 'zip'],
      values: ['10002', '10001'],
      base: '10001',
      changed: [true, false],
      contested: false,
    });
    expect(byField['address.street']).toMatchObject({ differs: false });
    // Each side's change inside the same object is taken: no whole-object choice to make.
    expect(diff.suggestMerge(rows)).toEqual({
      name: 'Ada B',
      address: { street: '1 Main St', zip: '10002', geo: { lat: 1, lng: 3 } },
    });
    const merged = diff.withValue(diff.suggestMerge(rows), ['address', 'zip'], '10001');
    expect(diff.valueAt(merged, ['address', 'zip'])).toBe('10001');
    expect(diff.sourcesOf(byField['address.zip']!, merged)).toEqual([1]);
    // The value it was made from is untouched.
    expect(diff.valueAt(diff.suggestMerge(rows), ['address', 'zip'])).toBe('10002');
  });

  it('compares whole a field that is not an object with keys in every version, and lists', () => {
    const a = version('1-a', { address: { zip: '1' }, tags: ['a', 'b'], empty: {} });
    const b = version('1-b', { address: 'unknown', tags: ['a'], empty: {} });
    const rows = diff.compareVersions([a, b], null);
    expect(rows.map((row) => row.field)).toEqual(['address', 'tags', 'empty']);
    expect(rows[0]!.values).toEqual([{ zip: '1' }, 'unknown']);
    // Typed in the JSON editor: a field inside one compared whole is covered by its row.
    const all = diff.withMergedFields(rows, { address: { zip: '2' }, more: { x: 1 } }, 2);
    expect(all.map((row) => row.field)).toEqual(['address', 'tags', 'empty', 'more.x']);
  });

  it('compares attachments by digest', () => {
    const stub = (digest: string) => ({ content_type: 'text/plain', digest, length: 1, stub: true });
    const withFile = (rev: string, digest: string) => ({
      rev,
      doc: { _attachments: { 'a.txt': stub(digest) } },
    });
    const same = diff.compareAttachments([withFile('2-a', 'md5-x'), withFile('2-b', 'md5-x')], null);
    expect(same).toMatchObject({ differs: false, changed: [false, false] });
    const base = withFile('1-o', 'md5-x');
    const other = diff.compareAttachments([withFile('2-a', 'md5-x'), withFile('2-b', 'md5-y')], base);
    expect(other).toMatchObject({ differs: true, changed: [false, true] });
    const none = diff.compareAttachments([withFile('2-a', 'md5-x'), version('2-b', {})], base);
    expect(none).toMatchObject({ differs: true, changed: [false, true] });
  });
});
