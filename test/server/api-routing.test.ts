/**
 * What a path names, segment by segment: a path that goes on past a resource is never read as
 * that resource, local documents take no attachments, and CouchDB's endpoints Settee lacks
 * answer 501 `not_implemented` (after the access check), never a misleading 404.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { UNIMPLEMENTED_ROUTES } from '../../src/server/routes/unimplemented.js';
import { type TestServer, useServerPerFile } from './harness.js';
import { raw } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
const JSON_TYPE = { 'content-type': 'application/json' };

async function send(method: string, path: string, body?: unknown, auth = true) {
  return raw(t.url, path, {
    method,
    auth,
    headers: JSON_TYPE,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

// chttpd_db.erl, db_req: `[_, <<"_local">>]` and `[_, <<"_local/">>]` are "Invalid _local
// document id."; `[_, <<"_local">> | _Rest]` with more than an id is "_local documents do not
// accept attachments.", whatever the method. Paths under another `_x` endpoint fall through to
// db_attachment_req on the document `_x`: not found to read or delete, an illegal id to write.
const NOT_LOCAL_ATTACHMENTS = '_local documents do not accept attachments.';
const INVALID_LOCAL = 'Invalid _local document id.';
const RESERVED = 'Only reserved document ids may start with underscore.';

describe('paths that go on past a resource', () => {
  const table: [string, string, number, string, string?][] = [
    ['DELETE', '_local/y/foo.txt', 400, 'bad_request', NOT_LOCAL_ATTACHMENTS],
    ['GET', '_local/y/foo.txt', 400, 'bad_request', NOT_LOCAL_ATTACHMENTS],
    ['PUT', '_local/y/foo.txt', 400, 'bad_request', NOT_LOCAL_ATTACHMENTS],
    ['GET', '_local/y/a/b', 400, 'bad_request', NOT_LOCAL_ATTACHMENTS],
    ['DELETE', '_local%2Fy/foo.txt', 400, 'bad_request', NOT_LOCAL_ATTACHMENTS],
    ['GET', '_local', 400, 'bad_request', INVALID_LOCAL],
    ['DELETE', '_local/', 400, 'bad_request', INVALID_LOCAL],
    ['GET', '_local%2F', 400, 'bad_request', INVALID_LOCAL],
    ['GET', '_all_docs/x', 404, 'not_found'],
    ['DELETE', '_all_docs/x', 404, 'not_found'],
    ['PUT', '_all_docs/x', 400, 'illegal_docid', RESERVED],
    ['GET', '_changes/x', 404, 'not_found'],
    ['GET', '_security/x', 404, 'not_found'],
    ['PUT', '_security/x', 400, 'illegal_docid', RESERVED],
    ['POST', '_bulk_docs/x', 404, 'not_found'],
    ['GET', '_revs_limit/x', 404, 'not_found'],
  ];

  it.each(table)('%s /{db}/%s → %i %s, and nothing changes', async (method, path, status, error, reason) => {
    expect((await send('PUT', `/${db}/_local/y`, { keep: true })).status).toBe(201);
    const before = (await send('GET', `/${db}/_local/y`)).json;
    const res = await send(
      method,
      `/${db}/${path}`,
      method === 'GET' || method === 'DELETE' ? undefined : {},
    );
    expect(res.status, res.text).toBe(status);
    expect(res.json).toMatchObject({ error, ...(reason ? { reason } : {}) });
    expect((await send('GET', `/${db}/_local/y`)).json).toEqual(before);
    const listing = (await send('GET', `/${db}/_all_docs`)).json as { rows: unknown[] };
    expect(listing.rows).toEqual([]);
  });

  // Server endpoints keep their whole path: `/_session/x` is no session, `/_uuids/x` no uuids.
  it.each(['/_session/x', '/_uuids/x', '/_up/x', '/_all_dbs/x'])('GET %s → 404', async (path) => {
    const res = await send('GET', path);
    expect(res.status).toBe(404);
    expect(res.json).toMatchObject({ error: 'not_found' });
  });

  it('a DELETE of a local document with more path leaves the document alone', async () => {
    await send('PUT', `/${db}/_local/y`, { v: 1 });
    expect((await send('DELETE', `/${db}/_local/y/foo.txt`)).status).toBe(400);
    expect((await send('GET', `/${db}/_local/y`)).json).toEqual({ _id: '_local/y', _rev: '0-1', v: 1 });
  });
});

describe('local documents and attachments', () => {
  it('a PUT with _attachments is accepted and stores the document without them', async () => {
    const data = Buffer.from('hello').toString('base64');
    const put = await send('PUT', `/${db}/_local/x`, {
      v: 1,
      _attachments: { 'a.txt': { content_type: 'text/plain', data } },
    });
    expect(put.status, put.text).toBe(201);
    expect(put.json).toEqual({ ok: true, id: '_local/x', rev: '0-1' });
    expect((await send('GET', `/${db}/_local/x`)).json).toEqual({ _id: '_local/x', _rev: '0-1', v: 1 });
    const att = await send('GET', `/${db}/_local/x/a.txt`);
    expect(att.status).toBe(400);
    expect(att.json).toEqual({ error: 'bad_request', reason: NOT_LOCAL_ATTACHMENTS });
  });

  it('a _bulk_docs write of a local document with _attachments keeps it without them', async () => {
    const data = Buffer.from('hello').toString('base64');
    const res = await send('POST', `/${db}/_bulk_docs`, {
      docs: [{ _id: '_local/b', v: 2, _attachments: { 'a.txt': { content_type: 'text/plain', data } } }],
    });
    expect(res.json).toEqual([{ ok: true, id: '_local/b', rev: '0-1' }]);
    expect((await send('GET', `/${db}/_local/b`)).json).toEqual({ _id: '_local/b', _rev: '0-1', v: 2 });
  });
});

/** A concrete request for each unimplemented route (`{db}` → this test's database). */
function concrete(path: string): string {
  return path
    .replace('{db}', db)
    .replace('{ddoc}', 'app')
    .replace('{view}', 'by_name')
    .replace('/…', '/some/thing');
}

describe('endpoints Settee does not have yet', () => {
  const cases = UNIMPLEMENTED_ROUTES.flatMap((route) =>
    route.methods.split(' ').map((method) => ({ method, route })),
  );

  it('cover what CouchDB offers beyond Settee', () => {
    const paths = new Set(UNIMPLEMENTED_ROUTES.map((route) => route.path));
    for (const path of [
      '/{db}/_design/{ddoc}/_show/…',
      '/{db}/_design/{ddoc}/_list/…',
      '/{db}/_design/{ddoc}/_update/…',
      '/{db}/_design/{ddoc}/_rewrite/…',
      '/{db}/_purge',
      '/{db}/_purged_infos_limit',
      '/{db}/_compact/{ddoc}',
      '/_node/…',
      '/_config/…',
      '/_stats/…',
      '/_cluster_setup',
      '/_membership',
      '/_reshard/…',
      '/_search_analyze',
    ]) {
      expect(paths, path).toContain(path);
    }
  });

  it.each(cases)('$method $route.path → 501 naming the feature', async ({ method, route }) => {
    const urls = [concrete(route.path)];
    // A server feature answers 501 at its root too (`/_node`, `/_reshard`).
    if (route.path.startsWith('/_') && route.path.endsWith('/…')) urls.push(route.path.slice(0, -2));
    for (const url of urls) {
      const res = await send(method, url, method === 'GET' || method === 'DELETE' ? undefined : {});
      expect(res.status, `${method} ${url}: ${res.text}`).toBe(501);
      expect(res.json).toEqual({
        error: 'not_implemented',
        reason: `${route.feature} is not implemented in Settee yet.`,
      });
    }
  });

  it('a design document function is not read as an attachment', async () => {
    await send('PUT', `/${db}/_design/app`, { views: { by_name: { map: 'function (doc) {}' } } });
    const view = await send('GET', `/${db}/_design/app/_view/by_name?key=%22x%22`);
    expect(view.status).toBe(200);
    expect(view.json).toEqual({ total_rows: 0, offset: 0, rows: [] });
    const show = await send('GET', `/${db}/_design/app/_show/page`);
    expect(show.json).toMatchObject({ error: 'not_implemented', reason: expect.stringContaining('_show') });
    // An attachment of a design document is still one.
    const ddoc = (await send('GET', `/${db}/_design/app`)).json as Json;
    const put = await raw(t.url, `/${db}/_design/app/readme.txt?rev=${String(ddoc._rev)}`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain' },
      body: 'hi',
    });
    expect(put.status).toBe(201);
    expect((await raw(t.url, `/${db}/_design/app/readme.txt`)).text).toBe('hi');
  });

  it('a method the endpoint does not serve gets 405', async () => {
    const res = await send('DELETE', `/${db}/_find`);
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
  });

  describe('access comes first', () => {
    const members = 'members-only';
    beforeAll(async () => {
      await send('PUT', `/${members}`);
      await send('PUT', `/${members}/_security`, {
        admins: { names: [], roles: [] },
        members: { names: ['someone'], roles: [] },
      });
    });

    it('an anonymous caller gets 401, not 501, on a members-only database and on the server', async () => {
      for (const [method, path] of [
        ['POST', `/${members}/_find`],
        ['GET', `/${members}/_design/app/_view/by_name`],
        ['POST', `/${members}/_purge`],
        ['GET', '/_node/_local/_stats'],
        ['GET', '/_dbs_info'],
      ] as const) {
        const res = await send(method, path, method === 'POST' ? {} : undefined, false);
        expect(res.status, `${method} ${path}`).toBe(401);
        expect(res.json).toMatchObject({ error: 'unauthorized' });
      }
    });

    it('a missing database is 404 before 501', async () => {
      const res = await send('POST', '/no-such-db/_find', {});
      expect(res.status).toBe(404);
    });
  });
});
