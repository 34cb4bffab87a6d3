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
type Listing = { total_rows: unknown; offset: unknown; update_seq?: unknown; rows: Json[] };

/** A JSON-encoded query value, as clients send keys. */
const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));

async function send(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await t.fetch(path, {
    method,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    headers,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: JSON.parse(text) as Json };
}

async function localDocs(query = ''): Promise<Listing> {
  const res = await send('GET', `/${db}/_local_docs${query}`);
  expect(res.status, query).toBe(200);
  return res.body as unknown as Listing;
}

const idsOf = (listing: Listing) => listing.rows.map((row) => row.id);

describe('GET|POST /{db}/_local_docs', () => {
  // Raw code-point order: `_local/B` < `_local/a` < `_local/é`.
  const locals = ['_local/B', '_local/a', '_local/b', '_local/c', '_local/d', '_local/é'];

  beforeEach(async () => {
    for (const [n, id] of locals.entries()) {
      expect((await send('PUT', `/${db}/${id}`, { n })).status).toBe(201);
    }
    await send('PUT', `/${db}/_local/b`, { _rev: '0-1', n: 2, edited: true });
    await send('PUT', `/${db}/_local/gone`, {});
    await send('DELETE', `/${db}/_local/gone`);
    await send('POST', `/${db}/_bulk_docs`, { docs: [{ _id: 'doc' }, { _id: '_design/d' }] });
  });

  it('lists only local documents, in raw id order, with null total_rows and offset as CouchDB', async () => {
    const res = await send('GET', `/${db}/_local_docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.text.startsWith('{"total_rows":null,"offset":null,"rows":[')).toBe(true);
    const listing = res.body as unknown as Listing;
    expect(idsOf(listing)).toEqual(locals);
    expect(listing.rows[0]).toEqual({ id: '_local/B', key: '_local/B', value: { rev: '0-1' } });
    expect(listing.rows[2]).toEqual({ id: '_local/b', key: '_local/b', value: { rev: '0-2' } });
    expect(listing.update_seq).toBeUndefined();
  });

  it('takes startkey/endkey (and start_key/end_key), key and inclusive_end', async () => {
    const range = `startkey=${q('_local/a')}&endkey=${q('_local/c')}`;
    expect(idsOf(await localDocs(`?${range}`))).toEqual(['_local/a', '_local/b', '_local/c']);
    expect(idsOf(await localDocs(`?start_key=${q('_local/a')}&end_key=${q('_local/c')}`))).toEqual([
      '_local/a',
      '_local/b',
      '_local/c',
    ]);
    expect(idsOf(await localDocs(`?${range}&inclusive_end=false`))).toEqual(['_local/a', '_local/b']);
    expect(idsOf(await localDocs(`?key=${q('_local/c')}`))).toEqual(['_local/c']);
    expect(idsOf(await localDocs(`?key=${q('_local/none')}`))).toEqual([]);
  });

  it('walks backwards with descending and pages with limit and skip; offset stays null', async () => {
    expect(idsOf(await localDocs('?descending=true'))).toEqual([...locals].reverse());
    const backwards = `descending=true&startkey=${q('_local/c')}&endkey=${q('_local/a')}`;
    expect(idsOf(await localDocs(`?${backwards}`))).toEqual(['_local/c', '_local/b', '_local/a']);
    const page = await localDocs('?limit=2&skip=2');
    expect(page.offset).toBeNull();
    expect(idsOf(page)).toEqual(['_local/b', '_local/c']);
    expect((await localDocs('?limit=0')).rows).toEqual([]);
  });

  it('includes documents, and a null update_seq, on request', async () => {
    const listing = await localDocs(`?include_docs=true&update_seq=true&key=${q('_local/b')}`);
    expect(listing.update_seq).toBeNull();
    expect(listing.rows).toEqual([
      {
        id: '_local/b',
        key: '_local/b',
        value: { rev: '0-2' },
        doc: { _id: '_local/b', _rev: '0-2', n: 2, edited: true },
      },
    ]);
  });

  it('answers keys (GET parameter and POST body) in order: missing, deleted and non-local ones not found', async () => {
    const keys = ['_local/c', '_local/none', '_local/gone', 'doc', '_local/a', '_local/c'];
    const viaGet = await localDocs(`?keys=${q(keys)}&include_docs=true`);
    const viaPost = await send('POST', `/${db}/_local_docs?include_docs=true`, { keys });
    expect(viaPost.status).toBe(200);
    for (const listing of [viaGet, viaPost.body as unknown as Listing]) {
      expect(listing).toMatchObject({ total_rows: null, offset: null });
      expect(listing.rows.map((row) => row.key)).toEqual(keys);
      expect(listing.rows[0]).toEqual({
        id: '_local/c',
        key: '_local/c',
        value: { rev: '0-1' },
        doc: { _id: '_local/c', _rev: '0-1', n: 3 },
      });
      for (const missing of [1, 2, 3]) {
        expect(listing.rows[missing]).toEqual({ key: keys[missing], error: 'not_found' });
      }
      expect(listing.rows[5]).toEqual(listing.rows[0]);
    }
    const paged = await send('POST', `/${db}/_local_docs?skip=1&limit=2`, { keys });
    expect((paged.body.rows as Json[]).map((row) => row.key)).toEqual(keys.slice(1, 3));
  });

  it('answers POST without keys like GET', async () => {
    const res = await send('POST', `/${db}/_local_docs`, {});
    expect(res.status).toBe(200);
    expect(idsOf(res.body as unknown as Listing)).toEqual(locals);
  });

  it('refuses bad parameters and bodies as _all_docs does', async () => {
    for (const query of [
      '?startkey=abc',
      `?startkey=${q(1)}`,
      '?keys=%22a%22',
      '?limit=-1',
      '?skip=x',
      '?descending=yes',
    ]) {
      expect((await send('GET', `/${db}/_local_docs${query}`)).status, query).toBe(400);
    }
    // A reversed range lists nothing, as CouchDB 3's _all_docs does (its 400 is for views).
    const reversed = await send(
      'GET',
      `/${db}/_local_docs?startkey=${q('_local/c')}&endkey=${q('_local/a')}`,
    );
    expect(reversed).toMatchObject({ status: 200, body: { rows: [] } });
    const keysAndRange = await send('GET', `/${db}/_local_docs?keys=${q(['_local/a'])}&key=${q('_local/a')}`);
    expect(keysAndRange).toMatchObject({ status: 400, body: { error: 'query_parse_error' } });
    expect((await send('POST', `/${db}/_local_docs`, { keys: 'a' })).status).toBe(400);
    expect((await send('POST', `/${db}/_local_docs`, { keys: [1] })).status).toBe(400);
    const text = await send('POST', `/${db}/_local_docs`, '{"keys":[]}', { 'content-type': 'text/plain' });
    expect(text.status).toBe(415);
  });

  it('answers other methods with 405, and a missing database with 404', async () => {
    const put = await send('PUT', `/${db}/_local_docs`, {});
    expect(put).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(put.headers.get('allow')).toBe('GET,POST');
    const missing = await send('GET', '/no-such-db/_local_docs');
    expect(missing).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});

describe('_local_docs over many local documents', () => {
  // More than one storage page (512 rows) and, with their bodies, far more than one 64 KB write.
  const count = 1200;
  const id = (n: number) => `_local/cp-${String(n).padStart(5, '0')}`;
  const ids = Array.from({ length: count }, (_, n) => id(n));

  beforeEach(async () => {
    const docs = ids.map((_id, n) => ({ _id, n, history: 'x'.repeat(200) }));
    expect((await send('POST', `/${db}/_bulk_docs`, { docs })).status).toBe(201);
  });

  it('streams every row once, in order, in chunks rather than one sized body', async () => {
    const res = await raw(t.url, `/${db}/_local_docs?include_docs=true`);
    expect(res.status).toBe(200);
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(res.headers['content-length']).toBeUndefined();
    const listing = res.json as Listing;
    expect(idsOf(listing)).toEqual(ids);
    expect(listing.rows[count - 1]!.doc).toMatchObject({ _id: id(count - 1), _rev: '0-1', n: count - 1 });
  });

  it('pages across storage reads with skip, limit and descending', async () => {
    expect(idsOf(await localDocs('?skip=500&limit=600'))).toEqual(ids.slice(500, 1100));
    const backwards = await localDocs(`?descending=true&startkey=${q(id(1000))}&limit=700`);
    expect(idsOf(backwards)).toEqual(ids.slice(301, 1001).reverse());
  });
});
