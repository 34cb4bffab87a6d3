/**
 * Design-document filters on the embedded changes feed: `filter: 'ddoc/name'` (a JavaScript
 * filter function with `query_params`) and `filter: '_view'` (what a view's map emits for), run
 * in the real QuickJS sandbox over real SQLite files.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { ChangeRow, ChangesOptions, NewDoc, WriteOk } from '../../src/core/api.js';
import type { ErrorName } from '../../src/core/errors.js';
import type { Database } from '../../src/database/database.js';
import { DesignWorkerPool } from '../../src/design/pool.js';
import type { DesignRunner, FilterRequest, MapRequest } from '../../src/design/runner.js';
import { expectError, rev, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();
const pool = new DesignWorkerPool();
afterAll(() => pool.close());

const APP = {
  _id: '_design/app',
  filters: {
    by_type: 'function (doc, req) { return doc.type === req.query.type; }',
    picky: 'function (doc) { if (doc.bad) throw new Error("no"); return true; }',
    tombstones: 'function (doc) { return doc._deleted === true; }',
  },
  views: {
    sales: {
      map: 'function (doc) { if (doc.bad) throw new Error("no"); if (doc.type === "sale") emit(doc.total, 1); }',
    },
  },
};

/** The real sandbox, counting the batches it is handed (a spy around it, not a stand-in). */
function countingRunner() {
  const calls = { filter: 0, map: 0 };
  const runner: DesignRunner = {
    filter: (request: FilterRequest) => {
      calls.filter++;
      return pool.filter(request);
    },
    map: (request: MapRequest) => {
      calls.map++;
      return pool.map(request);
    },
    reduce: (request) => pool.reduce(request),
  };
  return { runner, calls };
}

async function withApp(db: Database, ...docs: NewDoc[]): Promise<WriteOk[]> {
  const results = await db.bulkDocs([APP, ...docs]);
  return results.slice(1) as WriteOk[];
}

const ids = (rows: ChangeRow[]) => rows.map((row) => row.id);

/** Each of these feeds fails with that error and reason. */
async function expectRefusals(db: Database, cases: [ChangesOptions, ErrorName, string][]): Promise<void> {
  for (const [options, error, reason] of cases) await expectError(db.changes(options), error, reason);
}

describe('filter: ddoc/name', () => {
  it('passes what the function returns true for, with query_params as req.query, one sandbox call per page', async () => {
    const { runner, calls } = countingRunner();
    const db = await dbs.open({ design: runner });
    // 600 documents and the design document: two pages of the SQLite changes scan (512 a page).
    const docs = Array.from({ length: 600 }, (_, i) => ({
      _id: `d${String(i).padStart(3, '0')}`,
      type: i % 3 === 0 ? 'sale' : 'return',
    }));
    await withApp(db, ...docs);
    const { results } = await db.changes({ filter: 'app/by_type', query_params: { type: 'sale' } });
    expect(ids(results)).toEqual(docs.filter((doc) => doc.type === 'sale').map((doc) => doc._id));
    expect(calls.filter).toBe(2);
  });

  it('lists only the leaves that pass with style=all_docs', async () => {
    const db = await dbs.open({ design: pool });
    await withApp(db);
    await db.bulkDocs(
      [
        { _id: 'c', _rev: rev(1, 'a'), type: 'sale' },
        { _id: 'c', _rev: rev(1, 'b'), type: 'return' },
      ],
      { newEdits: false },
    );
    const { results } = await db.changes({
      filter: 'app/by_type',
      query_params: { type: 'sale' },
      style: 'all_docs',
    });
    expect(results.find((row) => row.id === 'c')!.changes).toEqual([{ rev: rev(1, 'a') }]);
  });

  it('leaves out a document the function throws for, and only that one', async () => {
    // CouchDB fails the whole request instead: couch_query_servers:filter_docs matches the
    // query server's answer against `[true, Passes]`, which a throw does not give. Settee keeps
    // excluding just that document, as the issue asks of map functions too: one bad document
    // must not stop every replication that reads the feed, over and over, at the same place.
    const db = await dbs.open({ design: pool });
    await withApp(db, { _id: 'a' }, { _id: 'b', bad: true }, { _id: 'c' });
    expect(ids((await db.changes({ filter: 'app/picky' })).results)).toEqual(['_design/app', 'a', 'c']);
  });

  it('hands a deletion to the function as its tombstone, with _deleted: true', async () => {
    // CouchDB opens each revision for a filter with `deleted` (couch_changes:open_revs), so a
    // function sees tombstones: the body they were written with, and `_deleted: true`.
    const db = await dbs.open({ design: pool });
    const [, removed, withBody] = await withApp(
      db,
      { _id: 'kept' },
      { _id: 'removed' },
      { _id: 'with-body', type: 'sale' },
    );
    await db.remove('removed', removed!.rev);
    await db.bulkDocs([{ _id: 'with-body', _rev: withBody!.rev, _deleted: true, type: 'sale' }]);
    const tombstones = await db.changes({ filter: 'app/tombstones' });
    expect(ids(tombstones.results)).toEqual(['removed', 'with-body']);
    expect(tombstones.results.every((row) => row.deleted)).toBe(true);
    const sales = await db.changes({ filter: 'app/by_type', query_params: { type: 'sale' } });
    expect(ids(sales.results)).toEqual(['with-body']);
  });

  it('refuses what CouchDB refuses: missing design document or function 404, bad names 400', async () => {
    const db = await dbs.open({ design: pool });
    await withApp(db, { _id: '_design/bare' });
    await expectRefusals(db, [
      // couch_changes:open_ddoc throws {not_found, missing}; check_member_exists goes through
      // couch_util:get_nested_json_value: {not_found, <<"missing json key: ", Key>>}.
      [{ filter: 'nope/by_type' }, 'not_found', 'missing'],
      [{ filter: 'bare/by_type' }, 'not_found', 'missing json key: filters'],
      [{ filter: 'app/nope' }, 'not_found', 'missing json key: nope'],
      // Names every object inherits are no members of a design document.
      [{ filter: 'app/constructor' }, 'not_found', 'missing json key: constructor'],
      [{ filter: 'app/__proto__' }, 'not_found', 'missing json key: __proto__'],
      // couch_changes:configure_filter's 400s.
      [{ filter: 'app' }, 'bad_request', '`filter` must be of the form `designname/filtername`'],
      [{ filter: 'a/b/c' }, 'bad_request', '`filter` must be of the form `designname/filtername`'],
      [{ filter: '_nope' }, 'bad_request', 'unknown builtin filter name'],
      // couch_replicator_filters:parse's reason: a feed has one filter.
      [
        { filter: 'app/by_type', selector: { type: 'sale' } },
        'bad_request',
        '`selector`, `filter` and `doc_ids` are mutually exclusive',
      ],
    ]);
  });
});

describe("filter: '_view'", () => {
  it('passes the documents the map function emits for (and not one it throws for), one sandbox call per page', async () => {
    const { runner, calls } = countingRunner();
    const db = await dbs.open({ design: runner });
    await withApp(
      db,
      { _id: 's1', type: 'sale', total: 3 },
      { _id: 'r1', type: 'return' },
      { _id: 's2', type: 'sale', bad: true },
      { _id: 's3', type: 'sale' },
    );
    const { results } = await db.changes({ filter: '_view', view: 'app/sales' });
    expect(ids(results)).toEqual(['s1', 's3']);
    expect(calls.map).toBe(1);
  });

  it('refuses a missing or malformed view as CouchDB does', async () => {
    const db = await dbs.open({ design: pool });
    await withApp(db, { _id: '_design/bare' });
    await expectRefusals(db, [
      [{ filter: '_view' }, 'bad_request', '`view` filter parameter is not provided.'],
      [{ filter: '_view', view: 'app' }, 'bad_request', '`view` must be of the form `designname/viewname`'],
      [{ filter: '_view', view: 'bare/sales' }, 'not_found', 'missing json key: views'],
      [{ filter: '_view', view: 'app/nope' }, 'not_found', 'missing json key: nope'],
      [{ filter: '_view', view: 'app/constructor' }, 'not_found', 'missing json key: constructor'],
      [{ filter: '_view', view: 'app/__proto__' }, 'not_found', 'missing json key: __proto__'],
    ]);
  });
});

describe('live feeds', () => {
  it('go on filtering as writes come, with the function they started with', async () => {
    // CouchDB opens the design document once per request (couch_changes:handle_db_changes calls
    // configure_filter before the feed starts), so an edit does not reach a running feed.
    const db = await dbs.open({ design: pool });
    await withApp(db, { _id: 'old-sale', type: 'sale' });
    const stop = new AbortController();
    const feed = db.changesFeed({
      live: true,
      signal: stop.signal,
      since: 'now',
      filter: 'app/by_type',
      query_params: { type: 'sale' },
    });
    await feed.prepare();
    const iterator = feed[Symbol.asyncIterator]();
    const first = iterator.next();
    const app = await db.get('_design/app');
    // Edited to pass everything: the running feed must still leave the return out.
    await db.bulkDocs([{ ...app, filters: { ...APP.filters, by_type: 'function () { return true; }' } }]);
    await db.bulkDocs([{ _id: 'return', type: 'return' }]);
    await db.bulkDocs([{ _id: 'new-sale', type: 'sale' }]);
    expect((await first).value?.id).toBe('new-sale');
    stop.abort();
    await iterator.return?.();
    // A feed started now uses the edited function.
    expect(
      ids((await db.changes({ filter: 'app/by_type', query_params: { type: 'sale' } })).results),
    ).toContain('return');
  });

  it('longpoll waits through writes the filter leaves out, until one passes', async () => {
    const db = await dbs.open({ design: pool });
    await withApp(db, { _id: 'old-sale', type: 'sale' });
    const since = db.updateSeq();
    const answer = db.changes({
      longpoll: true,
      since,
      timeout: 30_000,
      filter: 'app/by_type',
      query_params: { type: 'sale' },
    });
    await db.bulkDocs([{ _id: 'return-1', type: 'return' }]);
    await db.bulkDocs([{ _id: 'return-2', type: 'return' }]);
    await db.bulkDocs([{ _id: 'sale-1', type: 'sale' }]);
    expect(ids((await answer).results)).toEqual(['sale-1']);
  });
});
