/**
 * `GET /{db}/_changes?filter=ddoc/name` and `filter=_view&view=ddoc/view` over real HTTP: the
 * normal, longpoll and continuous feeds, CouchDB's 404 and 400 errors, and the `req` object a
 * filter function gets (its query parameters, `userCtx`, `info`…).
 */
import { describe, expect, it } from 'vitest';
import { ADMIN, type TestServer, useServerPerFile } from './harness.js';
import { jsonLines, openLive } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
type Row = { seq: number; id: string; changes: { rev: string }[]; deleted?: true };
type Changes = { results: Row[]; last_seq: number; pending: number };

const APP = {
  _id: '_design/app',
  filters: {
    by_type: 'function (doc, req) { return doc.type === req.query.type; }',
    // Every member of req this server fills, checked from inside the sandbox.
    req_shape: `function (doc, req) {
      return doc.owner === req.userCtx.name && req.userCtx.db === req.info.db_name &&
        req.userCtx.roles.indexOf('_admin') >= 0 && req.method === 'GET' &&
        req.path.join('/') === req.info.db_name + '/_changes' && req.query.limit === '10' &&
        req.query.descending === false && !req.headers.authorization && req.headers.host !== undefined &&
        typeof req.peer === 'string';
    }`,
  },
  views: { sales: { map: 'function (doc) { if (doc.type === "sale") emit(doc._id, null); }' } },
};

async function write(...docs: Json[]): Promise<void> {
  const res = await t.fetch(`/${db}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs }) });
  expect(res.status).toBe(201);
}

async function changes(query: string): Promise<Changes> {
  const res = await t.fetch(`/${db}/_changes?${query}`);
  expect(res.status, query).toBe(200);
  return (await res.json()) as Changes;
}

const ids = (body: Changes) => body.results.map((row) => row.id);

describe('normal feed', () => {
  it('runs the filter function with the request’s query parameters as req.query', async () => {
    await write(APP, { _id: 's1', type: 'sale' }, { _id: 'r1', type: 'return' }, { _id: 's2', type: 'sale' });
    expect(ids(await changes('filter=app/by_type&type=sale'))).toEqual(['s1', 's2']);
    expect(ids(await changes('filter=app/by_type&type=return'))).toEqual(['r1']);
  });

  it('gives req CouchDB’s members: userCtx with the database, info, method, path, headers without credentials', async () => {
    await write(APP, { _id: 'mine', owner: ADMIN.name }, { _id: 'theirs', owner: 'someone' });
    expect(ids(await changes('filter=app/req_shape&limit=10&descending=false'))).toEqual(['mine']);
  });

  it('filter=_view passes what the view’s map emits for', async () => {
    await write(APP, { _id: 's1', type: 'sale' }, { _id: 'r1', type: 'return' });
    expect(ids(await changes('filter=_view&view=app/sales'))).toEqual(['s1']);
  });
});

describe('errors, before any 200', () => {
  it('404 with CouchDB’s reasons for a missing design document, filter or view', async () => {
    await write(APP);
    // couch_changes:open_ddoc and couch_util:get_nested_json_value.
    for (const [query, reason] of [
      ['filter=nope/by_type', 'missing'],
      ['filter=app/nope', 'missing json key: nope'],
      ['filter=_view&view=app/nope', 'missing json key: nope'],
      ['filter=app/nope&feed=continuous', 'missing json key: nope'],
      ['filter=app/nope&feed=longpoll', 'missing json key: nope'],
    ]) {
      const res = await t.fetch(`/${db}/_changes?${query}`);
      expect(res.status, query).toBe(404);
      expect(await res.json(), query).toEqual({ error: 'not_found', reason });
    }
  });

  it('400 with CouchDB’s reasons for a malformed filter or view', async () => {
    // couch_changes:configure_filter.
    for (const [query, reason] of [
      ['filter=app', '`filter` must be of the form `designname/filtername`'],
      ['filter=_nope', 'unknown builtin filter name'],
      ['filter=_view', '`view` filter parameter is not provided.'],
      ['filter=_view&view=app', '`view` must be of the form `designname/viewname`'],
      ['filter=app/by_type&feed=continuous&key=notjson', 'Query parameter `key` is not valid JSON'],
    ]) {
      const res = await t.fetch(`/${db}/_changes?${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json(), query).toEqual({ error: 'bad_request', reason });
    }
  });
});

describe('live feeds', () => {
  it('a longpoll whose writes are all filtered out keeps waiting for one that passes', async () => {
    await write(APP);
    const live = await openLive(
      t.url,
      `/${db}/_changes?feed=longpoll&since=now&heartbeat=20&filter=app/by_type&type=sale`,
    );
    expect(live.status).toBe(200);
    await write({ _id: 'r1', type: 'return' });
    // Still open after the write that did not pass: heartbeats keep coming.
    const seen = live.received.length;
    await live.until((text) => (text.slice(seen).match(/\n/g) ?? []).length >= 3);
    await write({ _id: 's1', type: 'sale' });
    const body = JSON.parse(await live.ended) as Changes;
    expect(ids(body)).toEqual(['s1']);
  });

  it('a continuous feed sends only the writes that pass, as they happen', async () => {
    await write(APP, { _id: 'old-sale', type: 'sale' }, { _id: 'old-return', type: 'return' });
    const live = await openLive(t.url, `/${db}/_changes?feed=continuous&filter=app/by_type&type=sale`);
    expect(live.status).toBe(200);
    await live.until((text) => jsonLines(text).length === 1);
    await write({ _id: 'new-return', type: 'return' });
    await write({ _id: 'new-sale', type: 'sale' });
    await live.until((text) => jsonLines(text).length === 2);
    expect((jsonLines(live.received) as Row[]).map((row) => row.id)).toEqual(['old-sale', 'new-sale']);
    live.destroy();
  });
});
