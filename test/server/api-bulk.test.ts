import { beforeEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer, useServerPerFile } from './harness.js';
import { raw } from './http-client.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
const HASH_A = 'a'.repeat(32);
const HASH_B = 'b'.repeat(32);
const HASH_C = 'c'.repeat(32);

async function post(path: string, body: unknown, init: RequestInit = {}) {
  const res = await t.fetch(path, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...init,
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, body: json as never };
}

async function bulk(docs: unknown[], extra: Json = {}) {
  return post(`/${db}/_bulk_docs`, { docs, ...extra });
}

describe('POST /_bulk_docs', () => {
  it('answers 201 with one result per doc, in order, including per-doc conflicts', async () => {
    const created = await bulk([{ _id: 'a' }, { _id: 'b', x: 1 }, {}]);
    expect(created.status).toBe(201);
    const results = created.body as Json[];
    expect(results).toHaveLength(3);
    expect(results[0]).toMatchObject({ ok: true, id: 'a', rev: expect.stringMatching(/^1-/) });
    expect(results[1]).toMatchObject({ ok: true, id: 'b' });
    expect(results[2]).toMatchObject({ ok: true, id: expect.stringMatching(/^[0-9a-f]{32}$/) });

    const second = await bulk([
      { _id: 'a' },
      { _id: 'b', _rev: results[1]!.rev, x: 2 },
      { _id: 'a', _rev: '1-ffffffffffffffffffffffffffffffff' },
      { _id: 'c', _rev: '1-ffffffffffffffffffffffffffffffff' },
    ]);
    expect(second.status).toBe(201);
    const [conflict, ok, staleRev, unknown] = second.body as Json[];
    expect(conflict).toEqual({ id: 'a', error: 'conflict', reason: 'Document update conflict.' });
    expect(ok).toMatchObject({ ok: true, id: 'b', rev: expect.stringMatching(/^2-/) });
    // A failure row is {id, error, reason}, never with the rev the client sent: CouchDB's
    // chttpd_db.erl, update_doc_result_to_json/2 for interactive edits.
    expect(staleRev).toEqual({ id: 'a', error: 'conflict', reason: 'Document update conflict.' });
    expect(unknown).toEqual({ id: 'c', error: 'conflict', reason: 'Document update conflict.' });
  });

  it('deletes with _deleted and routes _local ids to local storage', async () => {
    const [a] = (await bulk([{ _id: 'a' }])).body as Json[];
    const res = await bulk([
      { _id: 'a', _rev: a!.rev, _deleted: true },
      { _id: '_local/cp', seq: 3 },
    ]);
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject([
      { ok: true, id: 'a' },
      { ok: true, id: '_local/cp', rev: '0-1' },
    ]);
    expect((await t.fetch(`/${db}/a`)).status).toBe(404);
    expect(await (await t.fetch(`/${db}/_local/cp`)).json()).toEqual({
      _id: '_local/cp',
      _rev: '0-1',
      seq: 3,
    });
  });

  it('with new_edits=false stores the given revisions and answers only errors', async () => {
    const res = await bulk(
      [
        { _id: 'r', _rev: `2-${HASH_B}`, _revisions: { start: 2, ids: [HASH_B, HASH_A] }, v: 2 },
        { _id: 'r', _rev: `2-${HASH_C}`, _revisions: { start: 2, ids: [HASH_C, HASH_A] }, v: 3 },
        { _id: 's', _rev: `1-${HASH_A}`, v: 1 },
        { _id: '_local/cp', _rev: '0-5', history: [] },
      ],
      { new_edits: false },
    );
    expect(res.status).toBe(201);
    expect(res.body).toEqual([]);
    const doc = (await (await t.fetch(`/${db}/r?conflicts=true`)).json()) as Json;
    expect(doc._rev).toBe(`2-${HASH_C}`);
    expect(doc._conflicts).toEqual([`2-${HASH_B}`]);
    expect(await (await t.fetch(`/${db}/_local/cp`)).json()).toMatchObject({ _rev: '0-6' });
    // Known revisions again: still no errors, no new seq.
    const seq = ((await (await t.fetch(`/${db}`)).json()) as Json).update_seq;
    const again = await bulk([{ _id: 's', _rev: `1-${HASH_A}`, v: 1 }], { new_edits: false });
    expect(again.body).toEqual([]);
    expect(((await (await t.fetch(`/${db}`)).json()) as Json).update_seq).toEqual(seq);
  });

  it('with new_edits=false refuses a doc without _rev for the whole request', async () => {
    const res = await bulk([{ _id: 'ok', _rev: `1-${HASH_A}` }, { _id: 'norev' }], { new_edits: false });
    expect(res.status).toBe(400);
    expect((res.body as Json).error).toBe('bad_request');
    expect((await t.fetch(`/${db}/ok`)).status).toBe(404);
  });

  it('answers 400 when docs is missing or not an array, or new_edits is not a boolean', async () => {
    for (const body of [
      {},
      { docs: {} },
      { docs: 'x' },
      { docs: [], new_edits: 'false' },
      [],
      'null',
      '"docs"',
    ]) {
      const res = await post(`/${db}/_bulk_docs`, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect((res.body as Json).error).toBe('bad_request');
    }
  });

  it('answers 400 for malformed JSON and an empty body', async () => {
    const res = await post(`/${db}/_bulk_docs`, '{"docs": [');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'bad_request', reason: 'invalid UTF-8 JSON' });
    const empty = await raw(t.url, `/${db}/_bulk_docs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status).toBe(400);
  });

  it('answers 415 for text/plain and form bodies', async () => {
    for (const type of [
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
    ]) {
      const res = await post(`/${db}/_bulk_docs`, '{"docs":[]}', { headers: { 'content-type': type } });
      expect(res.status, type).toBe(415);
      expect(res.body).toEqual({
        error: 'bad_content_type',
        reason: 'Content-Type must be application/json',
      });
    }
    const charset = await post(`/${db}/_bulk_docs`, '{"docs":[]}', {
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(charset.status).toBe(201);
  });

  it('ignores X-Couch-Full-Commit and answers 404 for a missing database', async () => {
    const res = await post(
      `/${db}/_bulk_docs`,
      { docs: [{ _id: 'x' }] },
      {
        headers: { 'x-couch-full-commit': 'false' },
      },
    );
    expect(res.status).toBe(201);
    expect((await post('/none/_bulk_docs', { docs: [] })).status).toBe(404);
  });
});

describe('size limits', () => {
  it('answers 413 document_too_large for a doc over maxDocumentSize, in _bulk_docs and PUT', async () => {
    const small = await startServer({ maxDocumentSize: 1000 });
    try {
      await small.fetch(`/${db}`, { method: 'PUT' });
      const big = { _id: 'big', blob: 'x'.repeat(2000) };
      const res = await small.fetch(`/${db}/_bulk_docs`, {
        method: 'POST',
        body: JSON.stringify({ docs: [{ _id: 'fine' }, big] }),
      });
      expect(res.status).toBe(413);
      expect(((await res.json()) as Json).error).toBe('document_too_large');
      expect((await small.fetch(`/${db}/fine`)).status).toBe(404);

      const put = await small.fetch(`/${db}/big`, { method: 'PUT', body: JSON.stringify(big) });
      expect(put.status).toBe(413);
      expect(((await put.json()) as Json).error).toBe('document_too_large');

      // Many small docs adding up to more than one document's limit are fine.
      const many = Array.from({ length: 20 }, (_, i) => ({ _id: `d${i}`, blob: 'y'.repeat(200) }));
      const ok = await small.fetch(`/${db}/_bulk_docs`, {
        method: 'POST',
        body: JSON.stringify({ docs: many }),
      });
      expect(ok.status).toBe(201);
    } finally {
      await small.stop();
    }
  });

  it('answers 413 too_large for a request body over maxRequestSize, and keeps serving', async () => {
    const small = await startServer({ maxRequestSize: 10_000 });
    try {
      await small.fetch(`/${db}`, { method: 'PUT' });
      const body = JSON.stringify({ docs: [{ _id: 'huge', blob: 'z'.repeat(20_000) }] });
      const res = await raw(small.url, `/${db}/_bulk_docs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect(res.status).toBe(413);
      expect(res.json).toMatchObject({ error: 'too_large' });
      const put = await raw(small.url, `/${db}/att/file.bin`, {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: Buffer.alloc(20_000),
      });
      expect(put.status).toBe(413);
      expect((await small.fetch(`/${db}`)).status).toBe(200);
    } finally {
      await small.stop();
    }
  });

  it('answers 413 for more than 10,000 documents in _bulk_docs or entries in _bulk_get, writing nothing', async () => {
    const docs = Array.from({ length: 10_001 }, (_, i) => ({ _id: `many-${i}` }));
    const tooMany = await bulk(docs);
    expect(tooMany.status).toBe(413);
    expect(tooMany.body).toEqual({ error: 'max_bulk_docs_count_exceeded', reason: '10000' });
    const gets = await post(`/${db}/_bulk_get`, { docs: docs.map(({ _id }) => ({ id: _id })) });
    expect(gets.status).toBe(413);
    expect(gets.body).toEqual({ error: 'max_bulk_get_count_exceeded', reason: '10000' });
    expect(((await (await t.fetch(`/${db}/many-0`)).json()) as Json).error).toBe('not_found');
    expect((await bulk(docs.slice(0, 10_000))).status).toBe(201);
  });

  it('answers 413 for a body of millions of tiny values instead of running out of memory', async () => {
    // 21 MB of `{}`: under the request limit, but tens of bytes of heap per three bytes once parsed.
    const body = `{"docs":[${'{},'.repeat(7_000_000)}{}]}`;
    const res = await post(`/${db}/_bulk_docs`, body);
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ error: 'too_large' });
    expect((await t.fetch(`/${db}`)).status).toBe(200);
  });
});

describe('POST /_bulk_get (JSON)', () => {
  beforeEach(async () => {
    await bulk(
      [
        { _id: 'a', _rev: `2-${HASH_B}`, _revisions: { start: 2, ids: [HASH_B, HASH_A] }, v: 'b' },
        { _id: 'a', _rev: `2-${HASH_C}`, _revisions: { start: 2, ids: [HASH_C, HASH_A] }, v: 'c' },
        { _id: 'b', _rev: `1-${HASH_A}`, v: 1 },
      ],
      { new_edits: false },
    );
  });

  it('answers one result per entry, in request order, with errors in CouchDB’s shape', async () => {
    const res = await post(`/${db}/_bulk_get?revs=true`, {
      docs: [
        { id: 'b' },
        { id: 'a', rev: `2-${HASH_B}` },
        { id: 'nope' },
        { id: 'a', rev: `5-${HASH_A}` },
        { id: 'b' },
      ],
    });
    expect(res.status).toBe(200);
    const { results } = res.body as { results: { id: string; docs: Json[] }[] };
    expect(results.map((r) => r.id)).toEqual(['b', 'a', 'nope', 'a', 'b']);
    expect(results[0]!.docs).toEqual([
      { ok: { _id: 'b', _rev: `1-${HASH_A}`, v: 1, _revisions: { start: 1, ids: [HASH_A] } } },
    ]);
    expect(results[1]!.docs).toEqual([
      { ok: { _id: 'a', _rev: `2-${HASH_B}`, v: 'b', _revisions: { start: 2, ids: [HASH_B, HASH_A] } } },
    ]);
    expect(results[2]!.docs).toEqual([
      { error: { id: 'nope', rev: 'undefined', error: 'not_found', reason: 'missing' } },
    ]);
    expect(results[3]!.docs).toEqual([
      { error: { id: 'a', rev: `5-${HASH_A}`, error: 'not_found', reason: 'missing' } },
    ]);
    expect(results[4]).toEqual(results[0]);
  });

  it('answers all leaves for an entry without rev, and the leaves below with latest=true', async () => {
    const all = await post(`/${db}/_bulk_get`, { docs: [{ id: 'a' }] });
    const [entry] = (all.body as { results: { docs: { ok: Json }[] }[] }).results;
    expect(entry!.docs.map((d) => d.ok._rev).sort()).toEqual([`2-${HASH_B}`, `2-${HASH_C}`]);
    const latest = await post(`/${db}/_bulk_get?latest=true`, { docs: [{ id: 'a', rev: `1-${HASH_A}` }] });
    const [below] = (latest.body as { results: { docs: { ok: Json }[] }[] }).results;
    expect(below!.docs.map((d) => d.ok._rev).sort()).toEqual([`2-${HASH_B}`, `2-${HASH_C}`]);
  });

  it('answers an entry without id with bad_request', async () => {
    const res = await post(`/${db}/_bulk_get`, { docs: [{ rev: `1-${HASH_A}` }, { id: 'b' }] });
    expect(res.status).toBe(200);
    const { results } = res.body as { results: { id: unknown; docs: Json[] }[] };
    expect(results).toHaveLength(2);
    expect(results[0]!.docs[0]).toMatchObject({ error: { id: null, error: 'bad_request' } });
    expect(results[1]!.docs[0]).toHaveProperty('ok');
  });

  it('refuses rev, open_revs, atts_since, new_edits and w in the query with 400', async () => {
    for (const param of ['rev=1-a', 'open_revs=all', 'atts_since=[]', 'new_edits=false', 'w=2']) {
      const res = await post(`/${db}/_bulk_get?${param}`, { docs: [{ id: 'b' }] });
      expect(res.status, param).toBe(400);
      expect((res.body as Json).error).toBe('bad_request');
    }
  });

  it('answers 400 without a docs list and 415 for other media types', async () => {
    for (const body of [{}, { docs: 'b' }, []]) {
      expect((await post(`/${db}/_bulk_get`, body)).status, JSON.stringify(body)).toBe(400);
    }
    const res = await post(`/${db}/_bulk_get`, '{"docs":[]}', { headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
  });

  it('inlines attachment data with attachments=true and per-entry atts_since', async () => {
    const res = await t.fetch(`/${db}/att`, {
      method: 'PUT',
      body: JSON.stringify({ _attachments: { 'a.txt': { content_type: 'text/plain', data: 'aGk=' } } }),
    });
    const { rev } = (await res.json()) as { rev: string };
    const inlined = await post(`/${db}/_bulk_get?attachments=true`, { docs: [{ id: 'att' }] });
    const doc = (inlined.body as { results: { docs: { ok: Json }[] }[] }).results[0]!.docs[0]!.ok;
    expect((doc._attachments as Record<string, Json>)['a.txt']).toMatchObject({ data: 'aGk=' });
    const stubs = await post(`/${db}/_bulk_get`, { docs: [{ id: 'att', rev }] });
    const stubDoc = (stubs.body as { results: { docs: { ok: Json }[] }[] }).results[0]!.docs[0]!.ok;
    expect((stubDoc._attachments as Record<string, Json>)['a.txt']).toMatchObject({ stub: true });
  });
});

describe('POST /_revs_diff', () => {
  it('lists only missing revs, with possible_ancestors', async () => {
    await bulk([{ _id: 'a', _rev: `2-${HASH_B}`, _revisions: { start: 2, ids: [HASH_B, HASH_A] } }], {
      new_edits: false,
    });
    const res = await post(`/${db}/_revs_diff`, {
      a: [`1-${HASH_A}`, `2-${HASH_B}`, `3-${HASH_C}`],
      nope: [`1-${HASH_A}`],
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      a: { missing: [`3-${HASH_C}`], possible_ancestors: [`2-${HASH_B}`] },
      nope: { missing: [`1-${HASH_A}`] },
    });
    expect((await post(`/${db}/_revs_diff`, { a: [`2-${HASH_B}`] })).body).toEqual({});
    expect((await post(`/${db}/_revs_diff`, {})).body).toEqual({});
  });

  it('answers the older _missing_revs form', async () => {
    const res = await post(`/${db}/_missing_revs`, { x: [`1-${HASH_A}`] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ missing_revs: { x: [`1-${HASH_A}`] } });
  });

  it('answers 400 for a non-object body or non-array revs, 415 for other types', async () => {
    for (const body of ['[]', '"x"', '{"a":"1-x"}', '{"a":[1]}', '{oops']) {
      expect((await post(`/${db}/_revs_diff`, body)).status, body).toBe(400);
    }
    expect(
      (await post(`/${db}/_revs_diff`, '{}', { headers: { 'content-type': 'text/plain' } })).status,
    ).toBe(415);
  });
});

describe('GET|POST /_all_docs', () => {
  const ids = ['_design/d', 'a', 'b', 'c', 'd', 'e'];

  beforeEach(async () => {
    await bulk(ids.map((_id, i) => ({ _id, n: i })));
  });

  type Rows = { total_rows: number; offset: number; update_seq?: unknown; rows: Json[] };
  const allDocs = async (query = '') => {
    const res = await t.fetch(`/${db}/_all_docs${query}`);
    expect(res.status, query).toBe(200);
    return (await res.json()) as Rows;
  };

  it('lists live docs in raw id order with total_rows and offset', async () => {
    const body = await allDocs();
    expect(body.total_rows).toBe(6);
    expect(body.offset).toBe(0);
    expect(body.rows.map((row) => row.id)).toEqual(ids);
    expect(body.rows[1]).toEqual({ id: 'a', key: 'a', value: { rev: expect.stringMatching(/^1-/) } });
    expect(body.update_seq).toBeUndefined();
  });

  it('takes JSON-encoded startkey/endkey (and start_key/end_key), inclusive_end', async () => {
    const q = (v: string) => encodeURIComponent(JSON.stringify(v));
    expect((await allDocs(`?startkey=${q('b')}&endkey=${q('d')}`)).rows.map((r) => r.id)).toEqual([
      'b',
      'c',
      'd',
    ]);
    expect((await allDocs(`?start_key=${q('b')}&end_key=${q('d')}`)).rows.map((r) => r.id)).toEqual([
      'b',
      'c',
      'd',
    ]);
    expect(
      (await allDocs(`?startkey=${q('b')}&endkey=${q('d')}&inclusive_end=false`)).rows.map((r) => r.id),
    ).toEqual(['b', 'c']);
    expect((await allDocs(`?key=${q('c')}`)).rows.map((r) => r.id)).toEqual(['c']);
  });

  it('walks backwards with descending, and pages with limit/skip', async () => {
    const q = (v: string) => encodeURIComponent(JSON.stringify(v));
    expect((await allDocs('?descending=true')).rows.map((r) => r.id)).toEqual([...ids].reverse());
    expect(
      (await allDocs(`?descending=true&startkey=${q('d')}&endkey=${q('b')}`)).rows.map((r) => r.id),
    ).toEqual(['d', 'c', 'b']);
    const page = await allDocs('?limit=2&skip=2');
    expect(page.offset).toBe(2);
    expect(page.rows.map((r) => r.id)).toEqual(['b', 'c']);
    expect((await allDocs('?limit=0')).rows).toEqual([]);
  });

  it('includes docs and the update_seq on request', async () => {
    const body = await allDocs('?include_docs=true&update_seq=true&limit=2');
    expect(body.update_seq).toBeDefined();
    expect(body.rows[1]!.doc).toMatchObject({ _id: 'a', n: 1 });
  });

  it('answers keys (GET JSON param and POST body) in order, with missing and deleted rows', async () => {
    const a = (await (await t.fetch(`/${db}/a`)).json()) as Json;
    await t.fetch(`/${db}/a?rev=${a._rev}`, { method: 'DELETE' });
    const keys = ['c', 'zz', 'a', 'c'];
    const viaGet = await allDocs(`?keys=${encodeURIComponent(JSON.stringify(keys))}&include_docs=true`);
    const viaPost = await post(`/${db}/_all_docs?include_docs=true`, { keys });
    expect(viaPost.status).toBe(200);
    for (const body of [viaGet, viaPost.body as Rows]) {
      expect(body.rows.map((row) => row.key)).toEqual(keys);
      expect(body.rows[0]).toMatchObject({ id: 'c', doc: { n: 3 } });
      expect(body.rows[1]).toEqual({ key: 'zz', error: 'not_found' });
      expect(body.rows[2]).toMatchObject({ id: 'a', value: { deleted: true }, doc: null });
      expect(body.rows[3]).toEqual(body.rows[0]);
    }
  });

  it('answers POST without keys like GET, and refuses bad keys', async () => {
    expect(((await post(`/${db}/_all_docs`, {})).body as Rows).rows).toHaveLength(6);
    expect((await post(`/${db}/_all_docs`, { keys: 'a' })).status).toBe(400);
    expect((await post(`/${db}/_all_docs`, { keys: [1] })).status).toBe(400);
    expect(
      (await post(`/${db}/_all_docs`, '{"keys":[]}', { headers: { 'content-type': 'text/plain' } })).status,
    ).toBe(415);
  });

  it('refuses keys that are not JSON strings with 400', async () => {
    for (const query of [
      '?startkey=abc',
      '?startkey=1',
      '?endkey=%5B%5D',
      '?keys=%22a%22',
      '?limit=-1',
      '?skip=x',
      '?descending=yes',
    ]) {
      const res = await t.fetch(`/${db}/_all_docs${query}`);
      expect(res.status, query).toBe(400);
    }
  });
});
