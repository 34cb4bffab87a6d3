/**
 * CommonJS modules through the embedded Database: map functions requiring `views/lib/…` (and a
 * change of `views.lib` rebuilding the views, as CouchDB's view signature holds `views.lib`:
 * couch_mrview_util:ddoc_to_mrst), filter functions requiring from their design document, and
 * `_view` filters. Real SQLite files, the real sandbox in its worker thread, no mocks.
 */
import { describe, expect, it } from 'vitest';
import type { ChangeRow, Doc, NewDoc } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { designViews } from '../../src/database/queries/view-definitions.js';
import { useTempDatabases } from '../database/helpers.js';

const dbs = useTempDatabases();

const KINDS_V1 = 'exports.kind = function (doc) { return doc.type.toUpperCase(); };';
const KINDS_V2 = 'exports.kind = function (doc) { return "kind:" + doc.type; };';
const BY_KIND = "function (doc) { if (doc.type) emit(require('views/lib/kinds').kind(doc), null); }";

function app(kinds: string): NewDoc {
  return {
    _id: '_design/app',
    lib: { wanted: 'exports.wanted = function (doc, req) { return doc.type === req.query.type; };' },
    filters: { wanted: "function (doc, req) { return require('lib/wanted').wanted(doc, req); }" },
    views: { lib: { kinds }, by_kind: { map: BY_KIND } },
  };
}

async function withDocs(db: Database, ddoc: NewDoc): Promise<void> {
  await db.bulkDocs([ddoc, { _id: 'a', type: 'sale' }, { _id: 'b', type: 'refund' }, { _id: 'c' }]);
}

const keys = async (db: Database) => (await db.query('app/by_kind')).rows.map((row) => [row.key, row.id]);
const ids = (rows: ChangeRow[]) => rows.map((row) => row.id);

describe('map functions and views.lib', () => {
  it('builds a view whose map function requires views/lib/…', async () => {
    const db = await dbs.open();
    await withDocs(db, app(KINDS_V1));
    expect(await keys(db)).toEqual([
      ['REFUND', 'b'],
      ['SALE', 'a'],
    ]);
  });

  it('rebuilds the views when views.lib changes, even with the same map functions', async () => {
    const db = await dbs.open();
    await withDocs(db, app(KINDS_V1));
    expect(await keys(db)).toHaveLength(2);
    const before = (await db.designDocInfo('app')).view_index.signature;
    const current = await db.get('_design/app');
    await db.put({ ...app(KINDS_V2), _rev: current._rev });
    expect(await keys(db)).toEqual([
      ['kind:refund', 'b'],
      ['kind:sale', 'a'],
    ]);
    expect((await db.designDocInfo('app')).view_index.signature).not.toBe(before);
  });

  it('keeps the signature of views without a lib, and ignores the key order of a lib', () => {
    const ddoc = (views: Record<string, unknown>) =>
      ({ _id: '_design/s', _rev: '1-a', views: { v: { map: BY_KIND }, ...views } }) as Doc;
    const signature = (views: Record<string, unknown>) => designViews(ddoc(views)).indexes[0]!.signature;
    expect(signature({ lib: {} })).toBe(signature({}));
    expect(signature({ lib: { a: '1', b: { c: '2' } } })).toBe(signature({ lib: { b: { c: '2' }, a: '1' } }));
    expect(signature({ lib: { a: '1' } })).not.toBe(signature({ lib: { a: '2' } }));
    expect(signature({ lib: { a: '1' } })).not.toBe(signature({}));
  });

  it('leaves out of a view the documents whose map fails on a missing module', async () => {
    const db = await dbs.open();
    const ddoc = app(KINDS_V1);
    (ddoc.views as Record<string, unknown>).missing = {
      map: "function (doc) { emit(require('views/lib/gone')) }",
    };
    await withDocs(db, ddoc);
    expect((await db.query('app/missing')).rows).toEqual([]);
  });
});

describe('filter functions', () => {
  it('runs a changes filter that requires a module of its design document', async () => {
    const db = await dbs.open();
    await withDocs(db, app(KINDS_V1));
    const { results } = await db.changes({ filter: 'app/wanted', query_params: { type: 'refund' } });
    expect(ids(results)).toEqual(['b']);
  });

  it('runs a _view filter whose map function requires views/lib/…', async () => {
    const db = await dbs.open();
    await withDocs(db, app(KINDS_V1));
    const { results } = await db.changes({ filter: '_view', view: 'app/by_kind' });
    expect(ids(results)).toEqual(['a', 'b']);
  });
});
