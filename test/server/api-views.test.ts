/**
 * Views over HTTP on a real server. The framing is CouchDB's (src/couch_mrview/src/
 * couch_mrview_http.erl, view_cb): the header `{"total_rows":N,"offset":M,"rows":[` then
 * `\r\n`, rows joined by `,\r\n`, closed by `\r\n]}`, and couch_httpd.erl end_json_response adds
 * a final `\n`; a reduced answer has no total_rows or offset; `update_seq` follows offset.
 * multi_query_view wraps the answers in `{"results":[` … `\r\n]}`, each one after `\r\n` or
 * `,\r\n`. handle_info_req answers `{"name", "view_index"}`.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { type TestServer, useServerPerFile } from './harness.js';
import { raw } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;

const DDOC = {
  views: {
    by_till: { map: 'function (doc) { if (doc.till) emit([doc.till, doc.at], doc.total); }', reduce: '_sum' },
    ids: { map: 'function (doc) { emit(doc._id, null); }' },
  },
};

const SALES = [
  { _id: 's1', till: 't1', at: 1, total: 10 },
  { _id: 's2', till: 't1', at: 3, total: 30 },
  { _id: 's3', till: 't2', at: 2, total: 20 },
];

beforeEach(async () => {
  const res = await t.fetch(`/${db}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs: [{ _id: '_design/sales', ...DDOC }, ...SALES] }),
  });
  expect(res.status).toBe(201);
});

async function text(path: string, init: RequestInit = {}): Promise<{ status: number; body: string }> {
  const res = await t.fetch(path, init);
  return { status: res.status, body: await res.text() };
}

async function json(path: string, init: RequestInit = {}): Promise<{ status: number; body: Json }> {
  const { status, body } = await text(path, init);
  return { status, body: JSON.parse(body) as Json };
}

const post = (body: unknown): RequestInit => ({ method: 'POST', body: JSON.stringify(body) });

describe('GET /{db}/_design/{ddoc}/_view/{view}', () => {
  it('frames map rows as CouchDB does', async () => {
    const { status, body } = await text(`/${db}/_design/sales/_view/ids`);
    expect(status).toBe(200);
    expect(body).toBe(
      '{"total_rows":3,"offset":0,"rows":[\r\n' +
        '{"id":"s1","key":"s1","value":null},\r\n' +
        '{"id":"s2","key":"s2","value":null},\r\n' +
        '{"id":"s3","key":"s3","value":null}\r\n]}\n',
    );
  });

  it('adds update_seq when asked, and frames an empty answer', async () => {
    const { body } = await text(`/${db}/_design/sales/_view/ids?update_seq=true&startkey="x"`);
    expect(body).toBe('{"total_rows":3,"offset":3,"update_seq":4,"rows":[\r\n\r\n]}\n');
  });

  it('takes CouchDB’s parameters: ranges over compound keys, descending, skip, limit, include_docs', async () => {
    const rows = async (query: string) =>
      ((await json(`/${db}/_design/sales/_view/by_till?reduce=false&${query}`)).body.rows as Json[]).map(
        (row) => row.id,
      );
    expect(await rows('startkey=["t1"]&endkey=["t1",{}]')).toEqual(['s1', 's2']);
    expect(await rows('descending=true&limit=2')).toEqual(['s3', 's2']);
    expect(await rows('skip=1&limit=1')).toEqual(['s2']);
    const withDocs = (await json(`/${db}/_design/sales/_view/ids?include_docs=true&key="s3"`)).body;
    expect(withDocs.rows).toEqual([
      { id: 's3', key: 's3', value: null, doc: expect.objectContaining({ _id: 's3', total: 20 }) },
    ]);
  });

  it('reduces, groups and groups by level; a reduced answer has no total_rows', async () => {
    expect((await text(`/${db}/_design/sales/_view/by_till`)).body).toBe(
      '{"rows":[\r\n{"key":null,"value":60}\r\n]}\n',
    );
    const level = await json(`/${db}/_design/sales/_view/by_till?group_level=1`);
    expect(level.body.rows).toEqual([
      { key: ['t1'], value: 40 },
      { key: ['t2'], value: 20 },
    ]);
    const exact = await json(`/${db}/_design/sales/_view/by_till?group=true&limit=1`);
    expect(exact.body.rows).toEqual([{ key: ['t1', 1], value: 10 }]);
  });

  it('answers errors as JSON before the first byte: 404 for a missing ddoc or view, 400 for a bad parameter', async () => {
    expect(await json(`/${db}/_design/nope/_view/ids`)).toMatchObject({
      status: 404,
      body: { error: 'not_found' },
    });
    expect(await json(`/${db}/_design/sales/_view/nope`)).toMatchObject({
      status: 404,
      body: { error: 'not_found', reason: 'missing_named_view' },
    });
    for (const query of [
      'limit=-1',
      'startkey=nope',
      'group=true&reduce=false',
      'reduce=true&group_level=x',
    ]) {
      const { status, body } = await json(`/${db}/_design/sales/_view/by_till?${query}`);
      expect(status, query).toBe(400);
      expect(Object.keys(body).sort(), query).toEqual(['error', 'reason']);
    }
    expect((await json(`/${db}/_design/sales/_view/ids`, { method: 'PUT' })).status).toBe(405);
  });

  it('streams a large answer as it reads it (chunked, no Content-Length)', async () => {
    const docs = Array.from({ length: 3000 }, (_, i) => ({
      _id: `big${String(i).padStart(5, '0')}`,
      pad: 'x',
    }));
    await t.fetch(`/${db}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs }) });
    const res = await raw(t.url, `/${db}/_design/sales/_view/ids`);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    const body = JSON.parse(res.text) as { total_rows: number; rows: unknown[] };
    expect(body.rows).toHaveLength(3003);
    expect(body.total_rows).toBe(3003);
  });
});

describe('POST /{db}/_design/{ddoc}/_view/{view}', () => {
  it('takes keys (in their order) and parameters from the body', async () => {
    const { status, body } = await json(
      `/${db}/_design/sales/_view/ids`,
      post({ keys: ['s3', 'nope', 's1'] }),
    );
    expect(status).toBe(200);
    expect((body.rows as Json[]).map((row) => row.id)).toEqual(['s3', 's1']);
    const reduced = await json(
      `/${db}/_design/sales/_view/by_till`,
      post({ keys: [['t2', 2]], group: true }),
    );
    expect(reduced.body.rows).toEqual([{ key: ['t2', 2], value: 20 }]);
  });

  it('refuses a bad body with 400: keys not an array, queries here, no JSON', async () => {
    for (const body of [{ keys: 's1' }, { queries: [] }]) {
      expect((await json(`/${db}/_design/sales/_view/ids`, post(body))).status, JSON.stringify(body)).toBe(
        400,
      );
    }
    expect((await json(`/${db}/_design/sales/_view/ids`, { method: 'POST', body: '{' })).status).toBe(400);
  });
});

describe('POST /{db}/_design/{ddoc}/_view/{view}/queries', () => {
  it('answers each query in turn, framed as CouchDB’s results', async () => {
    const { status, body } = await text(
      `/${db}/_design/sales/_view/by_till/queries`,
      post({ queries: [{}, { reduce: false, keys: [['t2', 2]] }] }),
    );
    expect(status).toBe(200);
    expect(body).toBe(
      '{"results":[\r\n' +
        '{"rows":[\r\n{"key":null,"value":60}\r\n]},\r\n' +
        '{"total_rows":3,"offset":2,"rows":[\r\n{"id":"s3","key":["t2",2],"value":20}\r\n]}' +
        '\r\n]}\n',
    );
  });

  it('checks every query before answering: one bad query is a 400 for all', async () => {
    const { status, body } = await json(
      `/${db}/_design/sales/_view/by_till/queries`,
      post({ queries: [{}, { group_level: -1 }] }),
    );
    expect(status).toBe(400);
    expect(body.error).toBe('query_parse_error');
    expect((await json(`/${db}/_design/sales/_view/by_till/queries`, post({}))).status).toBe(400);
    expect((await json(`/${db}/_design/nope/_view/by_till/queries`, post({ queries: [{}] }))).status).toBe(
      404,
    );
  });
});

describe('GET /{db}/_design/{ddoc}/_info', () => {
  it('describes the design document’s index', async () => {
    await json(`/${db}/_design/sales/_view/ids`);
    const { status, body } = await json(`/${db}/_design/sales/_info`);
    expect(status).toBe(200);
    expect(body).toMatchObject({
      name: 'sales',
      view_index: { language: 'javascript', update_seq: 4, updater_running: false, compact_running: false },
    });
    expect(typeof (body.view_index as Json).signature).toBe('string');
    expect((await json(`/${db}/_design/nope/_info`)).status).toBe(404);
  });
});

describe('GET /_active_tasks', () => {
  it('shows an index build under way as an indexer task with CouchDB’s fields', async () => {
    // A map function slow enough that the build spans many pages of changes.
    const slow =
      'function (doc) { var until = Date.now() + 3; while (Date.now() < until) {} emit(doc._id, 1); }';
    await t.fetch(`/${db}/_design/slow`, {
      method: 'PUT',
      body: JSON.stringify({ views: { v: { map: slow } } }),
    });
    const docs = Array.from({ length: 400 }, (_, i) => ({ _id: `d${i}` }));
    await t.fetch(`/${db}/_bulk_docs`, { method: 'POST', body: JSON.stringify({ docs }) });
    let done = false;
    const query = json(`/${db}/_design/slow/_view/v?limit=1`).finally(() => (done = true));
    let seen: Json | undefined;
    while (!done && !seen) {
      const tasks = (await (await t.fetch('/_active_tasks')).json()) as Json[];
      seen = tasks.find((task) => task.type === 'indexer' && task.database === db);
    }
    expect((await query).status).toBe(200);
    expect(seen).toMatchObject({
      type: 'indexer',
      database: db,
      design_document: '_design/slow',
      node: 'nonode@nohost',
    });
    expect(seen!.total_changes).toBeGreaterThan(0);
    expect(seen!.changes_done).toBeLessThanOrEqual(seen!.total_changes as number);
    expect(seen!.progress).toBeGreaterThanOrEqual(0);
    expect(typeof seen!.started_on).toBe('number');
    expect(typeof seen!.updated_on).toBe('number');
    const after = (await (await t.fetch('/_active_tasks')).json()) as Json[];
    expect(after.filter((task) => task.type === 'indexer')).toEqual([]);
  });
});
