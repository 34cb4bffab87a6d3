/**
 * Mango over HTTP (`_find`, `_explain`, `_index`), `_design_docs` and `_view_cleanup`, on a real
 * server. Shapes and status codes are CouchDB's: src/mango/src/mango_httpd.erl (handle_index_req
 * answers POST `_index` with 200 for both `created` and `exists`, DELETE with `{"ok":true}`,
 * `_bulk_delete` with `{"success","fail"}`; handle_find_req streams `{"docs":[…],"bookmark"}`),
 * src/couch_mrview/src/couch_mrview_http.erl (handle_cleanup_req: 202 `{"ok":true}`;
 * handle_design_docs_req: `_all_docs` in the `_design` namespace) and couch_mrview.erl
 * get_total_rows (`total_rows` of `_design_docs` counts design documents).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type TestServer, useServerPerFile } from './harness.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await t.fetch(path, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function write(...docs: Json[]): Promise<void> {
  const { status } = await call('POST', `/${db}/_bulk_docs`, { docs });
  expect(status).toBe(201);
}

const SALES = [
  { _id: 's1', till: 't1', at: '2026-12-01', total: 10 },
  { _id: 's2', till: 't1', at: '2026-12-03', total: 30 },
  { _id: 's3', till: 't2', at: '2026-12-02', total: 20 },
  { _id: 's4', till: 't1', at: '2026-12-02', total: 5 },
];

describe('POST /{db}/_index and GET /{db}/_index', () => {
  it('creates an index (200 created), then answers exists for the same definition', async () => {
    const body = { index: { fields: ['till', 'at'] }, ddoc: 'sales', name: 'by-till' };
    expect(await call('POST', `/${db}/_index`, body)).toEqual({
      status: 200,
      body: { result: 'created', id: '_design/sales', name: 'by-till' },
    });
    expect(await call('POST', `/${db}/_index`, body)).toEqual({
      status: 200,
      body: { result: 'exists', id: '_design/sales', name: 'by-till' },
    });
    const { status, body: list } = await call('GET', `/${db}/_index`);
    expect(status).toBe(200);
    expect(list.total_rows).toBe(2);
    const indexes = list.indexes as Json[];
    expect(indexes.map((index) => [index.ddoc, index.name, index.type])).toEqual([
      [null, '_all_docs', 'special'],
      ['_design/sales', 'by-till', 'json'],
    ]);
    expect(indexes[1]!.def).toMatchObject({ fields: [{ till: 'asc' }, { at: 'asc' }] });
  });

  it('pages the list with limit and skip; total_rows counts every index', async () => {
    for (const field of ['a', 'b', 'c']) await call('POST', `/${db}/_index`, { index: { fields: [field] } });
    const page = await call('GET', `/${db}/_index?skip=1&limit=2`);
    expect(page.body.total_rows).toBe(4);
    expect((page.body.indexes as Json[]).map((index) => index.type)).toEqual(['json', 'json']);
    expect((await call('GET', `/${db}/_index?skip=9`)).body.indexes).toEqual([]);
    expect((await call('GET', `/${db}/_index?limit=0`)).status).toBe(400);
    expect((await call('GET', `/${db}/_index?limit=x`)).status).toBe(400);
  });

  it('refuses bad definitions with 400 and stores nothing', async () => {
    for (const bad of [{}, { index: {} }, { index: { fields: 'till' } }, [], 'x']) {
      const { status, body } = await call('POST', `/${db}/_index`, bad);
      expect(status, JSON.stringify(bad)).toBe(400);
      expect(typeof body.error).toBe('string');
      expect(typeof body.reason).toBe('string');
    }
    expect((await call('GET', `/${db}/_index`)).body.total_rows).toBe(1);
    expect((await call('GET', `/${db}/_design_docs`)).body.rows).toEqual([]);
  });

  it('refuses a body that is not JSON (400) or not sent as JSON (415)', async () => {
    expect((await call('POST', `/${db}/_index`, '{"index":')).status).toBe(400);
    const typed = await call(
      'POST',
      `/${db}/_index`,
      { index: { fields: ['a'] } },
      { 'content-type': 'text/plain' },
    );
    expect(typed).toMatchObject({ status: 415, body: { error: 'bad_content_type' } });
  });
});

describe('DELETE /{db}/_index/{ddoc}/json/{name} and _bulk_delete', () => {
  beforeEach(async () => {
    await call('POST', `/${db}/_index`, { index: { fields: ['a'] }, ddoc: 'one', name: 'a' });
    await call('POST', `/${db}/_index`, { index: { fields: ['b'] }, ddoc: 'one', name: 'b' });
  });

  it('deletes by design document name, with or without _design/; then 404', async () => {
    expect(await call('DELETE', `/${db}/_index/one/json/a`)).toEqual({ status: 200, body: { ok: true } });
    expect(await call('DELETE', `/${db}/_index/_design/one/json/b`)).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect((await call('GET', `/${db}/_index`)).body.total_rows).toBe(1);
    expect((await call('DELETE', `/${db}/_index/one/json/a`)).status).toBe(404);
  });

  it('finds nothing for another index type or a malformed path (404), and allows only DELETE (405)', async () => {
    expect((await call('DELETE', `/${db}/_index/one/text/a`)).status).toBe(404);
    expect((await call('DELETE', `/${db}/_index/one`)).status).toBe(404);
    const get = await t.fetch(`/${db}/_index/one/json/a`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('DELETE');
    expect((await call('GET', `/${db}/_index`)).body.total_rows).toBe(3);
  });

  it('_bulk_delete removes every index of each design document and reports each', async () => {
    await call('POST', `/${db}/_index`, { index: { fields: ['c'] }, ddoc: 'two', name: 'c' });
    const { status, body } = await call('POST', `/${db}/_index/_bulk_delete`, {
      docids: ['one', '_design/nope'],
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      success: [{ id: '_design/one', ok: true }],
      fail: [{ id: '_design/nope', error: 'not_found' }],
    });
    const left = (await call('GET', `/${db}/_index`)).body.indexes as Json[];
    expect(left.map((index) => index.ddoc)).toEqual([null, '_design/two']);
    expect((await call('POST', `/${db}/_index/_bulk_delete`, { docids: 'one' })).status).toBe(400);
  });
});

describe('POST /{db}/_find and _explain', () => {
  beforeEach(async () => {
    await write(...SALES);
  });

  it('answers with an index: selector, sort, fields, limit, then the bookmark for the next page', async () => {
    await call('POST', `/${db}/_index`, { index: { fields: ['till', 'at'] } });
    const query = {
      selector: { till: 't1', at: { $gte: '2026-12-02' } },
      sort: [{ till: 'asc' }, { at: 'asc' }],
      fields: ['_id', 'total'],
      limit: 1,
    };
    const first = await call('POST', `/${db}/_find`, query);
    expect(first.status).toBe(200);
    expect(first.body.docs).toEqual([{ _id: 's4', total: 5 }]);
    expect(first.body.warning).toBeUndefined();
    expect(typeof first.body.bookmark).toBe('string');
    const next = await call('POST', `/${db}/_find`, { ...query, bookmark: first.body.bookmark });
    expect(next.body.docs).toEqual([{ _id: 's2', total: 30 }]);
    const skipped = await call('POST', `/${db}/_find`, { ...query, limit: 25, skip: 1 });
    expect(skipped.body.docs).toEqual([{ _id: 's2', total: 30 }]);
  });

  it('answers without an index with CouchDB’s warning, and with execution_stats when asked', async () => {
    const { status, body } = await call('POST', `/${db}/_find`, {
      selector: { total: { $gt: 8 } },
      execution_stats: true,
    });
    expect(status).toBe(200);
    expect((body.docs as Json[]).map((doc) => doc._id).sort()).toEqual(['s1', 's2', 's3']);
    expect(body.warning).toMatch(/no matching index found/i);
    expect(body.execution_stats).toMatchObject({ results_returned: 3, total_docs_examined: 4 });
  });

  it('a sort no index serves is CouchDB’s 400 no_usable_index', async () => {
    const { status, body } = await call('POST', `/${db}/_find`, {
      selector: { total: { $gt: 0 } },
      sort: ['total'],
    });
    expect(status).toBe(400);
    expect(body.error).toBe('no_usable_index');
  });

  it('refuses bad requests with 400: no selector, a bad operator, a bad limit, a non-object body', async () => {
    for (const bad of [
      {},
      { selector: { a: { $nope: 1 } } },
      { selector: {}, limit: -1 },
      { selector: 'x' },
      [],
    ]) {
      const { status, body } = await call('POST', `/${db}/_find`, bad);
      expect(status, JSON.stringify(bad)).toBe(400);
      expect(Object.keys(body).sort(), JSON.stringify(bad)).toEqual(['error', 'reason']);
    }
    expect((await call('POST', `/${db}/_find`, 'nope')).status).toBe(400);
    expect((await t.fetch(`/${db}/_find`)).status).toBe(405);
  });

  it('_explain names the index the query would use and its range', async () => {
    await call('POST', `/${db}/_index`, { index: { fields: ['till'] }, ddoc: 'tills', name: 'till' });
    const { status, body } = await call('POST', `/${db}/_explain`, { selector: { till: 't2' } });
    expect(status).toBe(200);
    expect(body.dbname).toBe(db);
    expect(body.index).toMatchObject({ ddoc: '_design/tills', name: 'till', type: 'json' });
    expect(body.selector).toEqual({ till: { $eq: 't2' } });
    expect((await call('POST', `/${db}/_explain`, { selector: 1 })).status).toBe(400);
  });
});

describe('GET|POST /{db}/_design_docs', () => {
  beforeEach(async () => {
    await write({ _id: 'a' }, { _id: '_design/b' }, { _id: '_design/d' }, { _id: 'z' });
  });

  it('lists design documents only; total_rows counts them', async () => {
    const { status, body } = await call('GET', `/${db}/_design_docs`);
    expect(status).toBe(200);
    expect(body.total_rows).toBe(2);
    expect((body.rows as Json[]).map((row) => row.id)).toEqual(['_design/b', '_design/d']);
  });

  it('takes _all_docs’ parameters: descending, startkey, limit, include_docs, POST keys', async () => {
    const rows = async (query: string) =>
      ((await call('GET', `/${db}/_design_docs${query}`)).body.rows as Json[]).map((row) => row.id);
    expect(await rows('?descending=true')).toEqual(['_design/d', '_design/b']);
    expect(await rows('?startkey="_design/c"')).toEqual(['_design/d']);
    expect(await rows('?descending=true&startkey="_design/c"')).toEqual(['_design/b']);
    expect(await rows('?limit=1&skip=1')).toEqual(['_design/d']);
    const docs = (await call('GET', `/${db}/_design_docs?include_docs=true&limit=1`)).body.rows as Json[];
    expect((docs[0]!.doc as Json)._id).toBe('_design/b');
    const posted = await call('POST', `/${db}/_design_docs`, { keys: ['_design/d'] });
    expect((posted.body.rows as Json[]).map((row) => row.id)).toEqual(['_design/d']);
    expect((await call('GET', `/${db}/_design_docs?limit=x`)).status).toBe(400);
  });
});

describe('POST /{db}/_view_cleanup', () => {
  it('answers 202 {"ok":true} once the unused indexes are gone; queries go on', async () => {
    await write(...SALES);
    await call('POST', `/${db}/_index`, { index: { fields: ['till'] }, ddoc: 'gone', name: 'till' });
    expect((await call('POST', `/${db}/_find`, { selector: { till: 't2' } })).body.docs).toHaveLength(1);
    await call('DELETE', `/${db}/_index/gone/json/till`);
    expect(await call('POST', `/${db}/_view_cleanup`, {})).toEqual({ status: 202, body: { ok: true } });
    expect((await call('POST', `/${db}/_find`, { selector: { till: 't2' } })).body.docs).toHaveLength(1);
    const typed = await call('POST', `/${db}/_view_cleanup`, 'x', { 'content-type': 'text/plain' });
    expect(typed.status).toBe(415);
  });
});

describe('who may query', () => {
  const PASSWORD = 'pw';
  const as = (name: string) => ({
    authorization: `Basic ${Buffer.from(`${name}:${PASSWORD}`).toString('base64')}`,
  });

  beforeEach(async () => {
    for (const name of ['reader', 'outsider']) {
      await call('PUT', `/_users/org.couchdb.user:${name}`, {
        name,
        type: 'user',
        roles: [],
        password: PASSWORD,
      });
    }
    await call('PUT', `/${db}/_security`, {
      admins: { names: [], roles: [] },
      members: { names: ['reader'], roles: [] },
    });
    await write(...SALES);
  });

  async function asUser(user: string | null, method: string, path: string, body?: unknown) {
    const res = await fetch(t.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...(user ? as(user) : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as Json };
  }

  it('members find, explain and list indexes; only database admins create or delete them', async () => {
    const find = await asUser('reader', 'POST', `/${db}/_find`, { selector: { till: 't2' } });
    expect(find.status).toBe(200);
    expect((await asUser('reader', 'POST', `/${db}/_explain`, { selector: {} })).status).toBe(200);
    expect((await asUser('reader', 'GET', `/${db}/_index`)).status).toBe(200);
    const create = await asUser('reader', 'POST', `/${db}/_index`, { index: { fields: ['till'] } });
    expect(create).toMatchObject({ status: 403, body: { error: 'forbidden' } });
    expect((await asUser('reader', 'POST', `/${db}/_view_cleanup`, {})).status).toBe(403);
    expect((await asUser('outsider', 'POST', `/${db}/_find`, { selector: {} })).status).toBe(403);
    expect((await asUser(null, 'POST', `/${db}/_find`, { selector: {} })).status).toBe(401);
    expect((await call('GET', `/${db}/_index`)).body.total_rows).toBe(1);
  });
});
