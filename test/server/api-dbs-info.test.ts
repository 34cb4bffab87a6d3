/**
 * Databases a page at a time: `GET /_all_dbs` and `GET /_dbs_info` with `_all_docs`' range
 * parameters, and `POST /_dbs_info` for named databases — what the web console's list pages with.
 *
 * CouchDB's facts, from apache/couchdb src/chttpd/src/chttpd_misc.erl:
 * - handle_all_dbs_info_req serves both GET listings from one `all_docs` over the shards database,
 *   with couch_mrview_http:parse_params (start_key/startkey, end_key/endkey, limit, skip,
 *   descending, inclusive_end); `_dbs_info` rows are `{key, info}` and a database gone meanwhile
 *   (`database_does_not_exist`) is left out.
 * - handle_dbs_info_req (POST): `keys` must exist ("`keys` member must exist."), at most
 *   `max_db_number_for_dbs_info_req` (?MAX_DB_NUM_FOR_DBS_INFO, 100) of them, else
 *   `{bad_request, too_many_keys}`; a name that is no database is `{key, error: not_found}`.
 * - chttpd_auth_request.erl: `/_dbs_info` falls to server_authorization_check → require_admin.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DBS_INFO_KEYS } from '../../src/server/routes/dbs-info.js';
import { startServer, type TestServer } from './harness.js';

let t: TestServer;
const NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];

beforeAll(async () => {
  t = await startServer();
  for (const name of NAMES) expect((await t.fetch(`/${name}`, { method: 'PUT' })).status).toBe(201);
  const docs = [{ _id: 'one' }, { _id: 'two' }];
  const bulk = await t.fetch('/bravo/_bulk_docs', { method: 'POST', body: JSON.stringify({ docs }) });
  expect(bulk.status).toBe(201);
});

afterAll(async () => {
  await t?.stop();
});

const q = (value: string) => encodeURIComponent(JSON.stringify(value));

async function json(path: string, init?: RequestInit): Promise<{ status: number; body: unknown }> {
  const res = await t.fetch(path, init);
  return { status: res.status, body: await res.json() };
}

/** The user databases of a listing (`_replicator` and `_users` sort before them). */
async function names(path: string): Promise<string[]> {
  const { status, body } = await json(path);
  expect(status).toBe(200);
  return (body as string[]).filter((name) => !name.startsWith('_'));
}

describe('GET /_all_dbs, a page at a time', () => {
  it('pages by start_key and limit, and takes startkey, end_key, skip, descending, inclusive_end', async () => {
    expect(await names('/_all_dbs')).toEqual(NAMES);
    expect((await json(`/_all_dbs?start_key=${q('bravo')}&limit=2`)).body).toEqual(['bravo', 'charlie']);
    expect((await json(`/_all_dbs?startkey=${q('c')}&limit=1&skip=1`)).body).toEqual(['delta']);
    expect((await json(`/_all_dbs?start_key=${q('b')}&end_key=${q('delta')}`)).body).toEqual([
      'bravo',
      'charlie',
      'delta',
    ]);
    expect(
      (await json(`/_all_dbs?start_key=${q('b')}&end_key=${q('delta')}&inclusive_end=false`)).body,
    ).toEqual(['bravo', 'charlie']);
    expect((await json(`/_all_dbs?descending=true&start_key=${q('delta')}&limit=3`)).body).toEqual([
      'delta',
      'charlie',
      'bravo',
    ]);
    expect(
      (
        await json(
          `/_all_dbs?descending=true&start_key=${q('delta')}&end_key=${q('charlie')}&inclusive_end=false`,
        )
      ).body,
    ).toEqual(['delta']);
    // A range that runs backwards holds nothing.
    expect((await json(`/_all_dbs?start_key=${q('echo')}&end_key=${q('alpha')}`)).body).toEqual([]);
  });

  it('refuses bad parameters with a 400 and CouchDB’s error shape', async () => {
    for (const query of ['limit=-1', 'limit=x', 'start_key=notjson', 'descending=maybe', `start_key=1`]) {
      const { status, body } = await json(`/_all_dbs?${query}`);
      expect({ query, status, error: (body as { error: string }).error }).toEqual({
        query,
        status: 400,
        error: 'bad_request',
      });
    }
  });
});

describe('GET /_dbs_info', () => {
  it('answers {key, info} for each database of the page, info as GET /{db} has it', async () => {
    const { status, body } = await json(`/_dbs_info?start_key=${q('bravo')}&limit=2`);
    expect(status).toBe(200);
    const rows = body as { key: string; info: Record<string, unknown> }[];
    expect(rows.map((row) => row.key)).toEqual(['bravo', 'charlie']);
    const bravo = (await json('/bravo')).body as Record<string, unknown>;
    expect(rows[0]!.info).toMatchObject({
      db_name: 'bravo',
      doc_count: 2,
      update_seq: bravo.update_seq,
      sizes: bravo.sizes,
    });
    expect(rows[1]!.info).toMatchObject({ db_name: 'charlie', doc_count: 0 });
  });

  it('is for server admins only', async () => {
    const res = await fetch(`${t.url}/_dbs_info`);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: 'unauthorized' });
  });
});

describe('POST /_dbs_info', () => {
  const post = (body: unknown) => json('/_dbs_info', { method: 'POST', body: JSON.stringify(body) });

  it('answers each name in the order given, not_found for one that is no database', async () => {
    const { status, body } = await post({ keys: ['delta', 'nope', 'alpha', 'Not a name', 7] });
    expect(status).toBe(200);
    const rows = body as { key: unknown; info?: { db_name: string }; error?: string }[];
    expect(rows.map((row) => [row.key, row.info?.db_name ?? row.error])).toEqual([
      ['delta', 'delta'],
      ['nope', 'not_found'],
      ['alpha', 'alpha'],
      ['Not a name', 'not_found'],
      [7, 'not_found'],
    ]);
  });

  it('refuses a body without keys, keys that are not an array, and more keys than allowed', async () => {
    expect(await post({})).toEqual({
      status: 400,
      body: { error: 'bad_request', reason: '`keys` member must exist.' },
    });
    expect((await post({ keys: 'alpha' })).status).toBe(400);
    const many = Array.from({ length: MAX_DBS_INFO_KEYS + 1 }, (_, i) => `db${i}`);
    expect(await post({ keys: many })).toEqual({
      status: 400,
      body: { error: 'bad_request', reason: 'too_many_keys' },
    });
    expect((await post({ keys: many.slice(0, MAX_DBS_INFO_KEYS) })).status).toBe(200);
    const text = await t.fetch('/_dbs_info', {
      method: 'POST',
      body: 'keys=alpha',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
  });
});
