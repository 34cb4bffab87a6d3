/**
 * `_bulk_docs` and `_all_docs` answers as CouchDB gives them, beside PouchDB (a real client on
 * leveldb) where the embedded API should agree with it.
 */
import { describe, expect, it } from 'vitest';
import { usePouchServer } from '../interop/pouch-harness.js';
import { raw } from './http-client.js';

const pouch = usePouchServer('settee-bulk-validation-');
let dbCount = 0;

type Json = Record<string, unknown>;
const HASH_A = 'a'.repeat(32);
const HASH_B = 'b'.repeat(32);
const HASH_C = 'c'.repeat(32);
const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));

async function freshDb(): Promise<string> {
  const name = `bulk${++dbCount}`;
  expect((await pouch.t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  return name;
}

async function send(method: string, path: string, body?: unknown) {
  return raw(pouch.t.url, path, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function updateSeq(db: string): Promise<unknown> {
  return ((await send('GET', `/${db}`)).json as Json).update_seq;
}

describe('POST /{db}/_bulk_docs refuses a batch with an invalid document as a whole', () => {
  // chttpd_db.erl, db_req for _bulk_docs: every document goes through
  // couch_db:doc_from_json_obj_validate (and validate_revs) in one lists:map before
  // fabric:update_docs, so the first invalid one throws the request's 400 and nothing is written.
  const cases: [string, string, string, Json][] = [
    [
      'an id with a leading underscore',
      'illegal_docid',
      'Only reserved document ids may start with underscore.',
      { _id: '_invalid' },
    ],
    ['a number for an id', 'illegal_docid', 'Document id must be a string', { _id: 5 }],
    [
      'an unknown special field',
      'doc_validation',
      'Bad special document member: _zing',
      { _id: 'z', _zing: 1 },
    ],
  ];

  it.each(cases)('%s → 400 %s, nothing written', async (_what, error, reason, bad) => {
    const db = await freshDb();
    const batch = [{ _id: 'before' }, bad, { _id: 'after' }];
    const res = await send('POST', `/${db}/_bulk_docs`, { docs: batch });
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ error, reason });
    expect(((await send('GET', `/${db}/_all_docs`)).json as Json).rows).toEqual([]);
    expect(await updateSeq(db)).toBe(0);
    // PouchDB's bulkDocs also fails the whole call and writes nothing (its statuses differ:
    // pouchdb-errors gives doc_validation a 500).
    const local = pouch.local(`pouch${dbCount}`);
    const refused = await local.bulkDocs(batch as never).then(
      (results) => ({ results }),
      (err: { name?: string }) => ({ err }),
    );
    expect(refused).toHaveProperty('err');
    expect((await local.info()).doc_count).toBe(0);
  });

  it('with new_edits=false, writes a document whose _rev disagrees with _revisions by _revisions', async () => {
    const db = await freshDb();
    // couch_doc.erl, transfer_fields: `_rev` is ignored once `_revisions` gave the revision.
    const doc = {
      _id: 'd',
      _rev: `2-${HASH_C}`,
      _revisions: { start: 2, ids: [HASH_B, HASH_A] },
      v: 1,
    };
    const res = await send('POST', `/${db}/_bulk_docs`, { docs: [doc], new_edits: false });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toEqual([]);
    expect((await send('GET', `/${db}/d?revs=true`)).json).toEqual({
      _id: 'd',
      _rev: `2-${HASH_B}`,
      v: 1,
      _revisions: { start: 2, ids: [HASH_B, HASH_A] },
    });
    expect(((await send('GET', `/${db}/d?open_revs=all`)).json as unknown[]).length).toBe(1);
    // PouchDB writes the same document the same way.
    const local = pouch.local(`pouch-revs${dbCount}`);
    await local.bulkDocs([doc as never], { new_edits: false });
    expect((await local.get('d'))._rev).toBe(`2-${HASH_B}`);
  });
});

describe('GET|POST /{db}/_all_docs', () => {
  async function seeded(): Promise<string> {
    const db = await freshDb();
    await send('POST', `/${db}/_bulk_docs`, { docs: [{ _id: 'a' }, { _id: 'b' }, { _id: 'c' }] });
    return db;
  }
  const idsOf = (res: { json: unknown }) => ((res.json as Json).rows as Json[]).map((row) => row.key);

  it('keys with key, startkey or endkey is 400 query_parse_error', async () => {
    const db = await seeded();
    // couch_mrview_util.erl, validate_args.
    const expected = {
      error: 'query_parse_error',
      reason: '`keys` is incompatible with `key`, `start_key` and `end_key`',
    };
    for (const range of [`key=${q('a')}`, `startkey=${q('a')}`, `endkey=${q('b')}`, `start_key=${q('a')}`]) {
      const get = await send('GET', `/${db}/_all_docs?keys=${q(['a'])}&${range}`);
      expect(get.status, range).toBe(400);
      expect(get.json, range).toEqual(expected);
      const post = await send('POST', `/${db}/_all_docs?${range}`, { keys: ['a'] });
      expect(post.status, range).toBe(400);
      expect(post.json, range).toEqual(expected);
    }
  });

  it('keys with descending=true lists the keys reversed', async () => {
    const db = await seeded();
    // fabric_view_all_docs.erl reverses `keys` when the direction is not fwd.
    const get = await send('GET', `/${db}/_all_docs?keys=${q(['c', 'nope', 'a'])}&descending=true`);
    expect(get.status).toBe(200);
    expect(idsOf(get)).toEqual(['a', 'nope', 'c']);
    const post = await send('POST', `/${db}/_all_docs?descending=true`, { keys: ['b', 'a'] });
    expect(idsOf(post)).toEqual(['a', 'b']);
  });

  it('startkey after endkey is 200 with no rows; "No rows can match" is for views', async () => {
    const db = await seeded();
    // CouchDB 3's own chttpd_all_docs_range_test: "This currently returns 200 with empty rows".
    const res = await send('GET', `/${db}/_all_docs?startkey=${q('c')}&endkey=${q('a')}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ total_rows: 3, rows: [] });
    const reversed = await send(
      'GET',
      `/${db}/_all_docs?startkey=${q('a')}&endkey=${q('c')}&descending=true`,
    );
    expect(reversed.status).toBe(200);
    expect(idsOf(reversed)).toEqual([]);
    const descending = await send(
      'GET',
      `/${db}/_all_docs?startkey=${q('c')}&endkey=${q('a')}&descending=true`,
    );
    expect(idsOf(descending)).toEqual(['c', 'b', 'a']);
  });
});
