import { describe, expect, it } from 'vitest';
import { type TestServer, useServerPerFile } from './harness.js';
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
const ILLEGAL_ID_REASON = 'Only reserved document ids may start with underscore.';

async function put(path: string, body: unknown, init: RequestInit = {}) {
  const res = await t.fetch(path, { method: 'PUT', body: JSON.stringify(body), ...init });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

async function get(path: string, init: RequestInit = {}) {
  const res = await t.fetch(path, init);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
}

/** Writes `doc` as a replicated revision (new_edits=false) with the given ancestry. */
async function replicate(id: string, start: number, ids: string[], body: Json = {}) {
  const res = await put(`/${db}/${encodeURIComponent(id)}?new_edits=false`, {
    ...body,
    _rev: `${start}-${ids[0]}`,
    _revisions: { start, ids },
  });
  expect(res.status).toBe(201);
}

describe('PUT, GET and DELETE a document', () => {
  it('creates with 201, ok, id, rev, ETag and Location', async () => {
    const res = await put(`/${db}/doc`, { a: 1 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ok: true, id: 'doc' });
    expect(res.body.rev).toMatch(/^1-[0-9a-f]{32}$/);
    expect(res.headers.get('etag')).toBe(`"${res.body.rev}"`);
    expect(res.headers.get('location')).toMatch(new RegExp(`/${db}/doc$`));
  });

  it('reads the winner with its ETag, and 304 for If-None-Match', async () => {
    const { body: created } = await put(`/${db}/doc`, { a: 1 });
    const res = await get(`/${db}/doc`);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ _id: 'doc', _rev: created.rev, a: 1 });
    expect(res.headers.get('etag')).toBe(`"${created.rev}"`);
    const cached = await t.fetch(`/${db}/doc`, { headers: { 'if-none-match': `"${created.rev}"` } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe('');
    const stale = await t.fetch(`/${db}/doc`, { headers: { 'if-none-match': '"1-other"' } });
    expect(stale.status).toBe(200);
  });

  it('answers HEAD with the ETag and no body', async () => {
    const { body: created } = await put(`/${db}/doc`, { a: 1 });
    const res = await raw(t.url, `/${db}/doc`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.etag).toBe(`"${created.rev}"`);
    expect(res.body.length).toBe(0);
    expect((await raw(t.url, `/${db}/nope`, { method: 'HEAD' })).status).toBe(404);
  });

  it('updates with the rev in the body, in ?rev= or in If-Match', async () => {
    let rev = (await put(`/${db}/doc`, { v: 0 })).body.rev as string;
    const inBody = await put(`/${db}/doc`, { _rev: rev, v: 1 });
    expect(inBody.status).toBe(201);
    rev = inBody.body.rev as string;
    expect(rev).toMatch(/^2-/);
    const inQuery = await put(`/${db}/doc?rev=${rev}`, { v: 2 });
    expect(inQuery.status).toBe(201);
    rev = inQuery.body.rev as string;
    const inHeader = await put(`/${db}/doc`, { v: 3 }, { headers: { 'if-match': `"${rev}"` } });
    expect(inHeader.status).toBe(201);
    expect(inHeader.body.rev).toMatch(/^4-/);
    expect((await get(`/${db}/doc`)).body).toMatchObject({ v: 3, _rev: inHeader.body.rev });
  });

  it('answers 409 conflict for a stale or absent rev', async () => {
    const first = (await put(`/${db}/doc`, { v: 0 })).body.rev as string;
    await put(`/${db}/doc`, { _rev: first, v: 1 });
    for (const attempt of [
      () => put(`/${db}/doc`, { _rev: first, v: 2 }),
      () => put(`/${db}/doc?rev=${first}`, { v: 2 }),
      () => put(`/${db}/doc`, { v: 2 }, { headers: { 'if-match': `"${first}"` } }),
      () => put(`/${db}/doc`, { v: 2 }),
    ]) {
      const res = await attempt();
      expect(res.status).toBe(409);
      expect(res.body).toEqual({ error: 'conflict', reason: 'Document update conflict.' });
    }
  });

  it('refuses a body rev that differs from ?rev= with 400', async () => {
    const rev = (await put(`/${db}/doc`, {})).body.rev as string;
    const res = await put(`/${db}/doc?rev=${rev}`, { _rev: '1-ffffffffffffffffffffffffffffffff' });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('bad_request');
  });

  it('deletes with ?rev= or If-Match; then GET is 404 deleted, unknown is 404 missing', async () => {
    const a = (await put(`/${db}/a`, {})).body.rev as string;
    const b = (await put(`/${db}/b`, {})).body.rev as string;
    const delA = await t.fetch(`/${db}/a?rev=${a}`, { method: 'DELETE' });
    expect(delA.status).toBe(200);
    const result = (await delA.json()) as Json;
    expect(result).toMatchObject({ ok: true, id: 'a' });
    expect(result.rev).toMatch(/^2-/);
    const delB = await t.fetch(`/${db}/b`, { method: 'DELETE', headers: { 'if-match': `"${b}"` } });
    expect(delB.status).toBe(200);
    expect(await get(`/${db}/a`)).toMatchObject({
      status: 404,
      body: { error: 'not_found', reason: 'deleted' },
    });
    expect(await get(`/${db}/nope`)).toMatchObject({
      status: 404,
      body: { error: 'not_found', reason: 'missing' },
    });
    // The tombstone is still readable by rev.
    const tomb = await get(`/${db}/a?rev=${result.rev}`);
    expect(tomb.status).toBe(200);
    expect(tomb.body).toEqual({ _id: 'a', _rev: result.rev, _deleted: true });
  });

  it('answers DELETE without a rev with 409, and of a missing doc with 404', async () => {
    await put(`/${db}/doc`, {});
    expect((await t.fetch(`/${db}/doc`, { method: 'DELETE' })).status).toBe(409);
    expect((await t.fetch(`/${db}/nope?rev=1-abc`, { method: 'DELETE' })).status).toBe(404);
  });

  it('re-creates a deleted document without a rev, continuing the tombstone branch', async () => {
    const rev = (await put(`/${db}/doc`, {})).body.rev as string;
    await t.fetch(`/${db}/doc?rev=${rev}`, { method: 'DELETE' });
    const again = await put(`/${db}/doc`, { back: true });
    expect(again.status).toBe(201);
    expect(again.body.rev).toMatch(/^3-/);
  });

  it('answers 404 on a missing database and 400 for bad bodies and ids', async () => {
    expect((await put('/nope/doc', {})).status).toBe(404);
    for (const body of ['[]', '"s"', '12', 'null', '{"a":']) {
      const res = await t.fetch(`/${db}/doc`, { method: 'PUT', body });
      expect(res.status, body).toBe(400);
    }
    const bad = await put(`/${db}/_bad`, {});
    expect(bad).toMatchObject({ status: 400, body: { error: 'illegal_docid' } });
    const res = await put(`/${db}/doc`, { _unknown: 1 });
    expect(res.status).toBe(400);
    expect(res.body.error).toBe('doc_validation');
  });

  it('answers GET ?rev= of an unknown revision with 404 missing', async () => {
    await put(`/${db}/doc`, {});
    const res = await get(`/${db}/doc?rev=1-${HASH_A}`);
    expect(res).toMatchObject({ status: 404, body: { error: 'not_found', reason: 'missing' } });
  });
});

describe('document ids in URLs', () => {
  it('reads _design/name with a literal slash and as _design%2Fname', async () => {
    const created = await put(`/${db}/_design/app`, { views: {} });
    expect(created.status).toBe(201);
    expect(created.body.id).toBe('_design/app');
    const viaEncoded = await get(`/${db}/_design%2Fapp`);
    expect(viaEncoded.body).toMatchObject({ _id: '_design/app', views: {} });
    const updated = await put(`/${db}/_design%2Fapp`, { _rev: created.body.rev, views: { v: 1 } });
    expect(updated.status).toBe(201);
    expect((await get(`/${db}/_design/app`)).body).toMatchObject({ views: { v: 1 } });
    const ids = (await get(`/${db}/_all_docs`)).body.rows as { id: string }[];
    expect(ids.map((row) => row.id)).toEqual(['_design/app']);
    const unicode = await put(`/${db}/_design/%E2%9C%93`, {});
    expect(unicode.status).toBe(201);
    expect(unicode.headers.get('location')).toMatch(new RegExp(`/${db}/_design/%E2%9C%93$`));
  });

  it('keeps +, spaces, unicode and %2F in ids', async () => {
    const cases: [string, string][] = [
      ['a+b', 'a+b'],
      ['c%2Bd', 'c+d'],
      ['with%20space', 'with space'],
      ['%C3%A9t%C3%A9%20%E2%9C%93', 'été ✓'],
      ['a%2Fb', 'a/b'],
      ['q%3Fx%3D1%26y', 'q?x=1&y'],
      ['hash%23tag', 'hash#tag'],
      ['per%25cent', 'per%cent'],
    ];
    for (const [path, id] of cases) {
      const res = await raw(t.url, `/${db}/${path}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ path }),
      });
      expect(res.status, path).toBeLessThan(410);
      expect((res.json as Json).id, path).toBe(id);
      expect(decodeURIComponent(String(res.headers.location).split(`/${db}/`)[1]!), path).toBe(id);
      const back = await raw(t.url, `/${db}/${encodeURIComponent(id)}`);
      expect(back.status, path).toBe(200);
      expect((back.json as Json)._id, path).toBe(id);
    }
    const ids = ((await get(`/${db}/_all_docs`)).body.rows as { id: string }[]).map((row) => row.id);
    expect(ids.sort()).toEqual(
      ['a+b', 'c+d', 'a/b', 'hash#tag', 'per%cent', 'q?x=1&y', 'with space', 'été ✓'].sort(),
    );
  });

  it('refuses ids starting with an underscore other than _design and _local', async () => {
    const res = await t.fetch(`/${db}`, { method: 'POST', body: '{"_id":"_hidden"}' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'illegal_docid', reason: ILLEGAL_ID_REASON });
  });
});

describe('PUT /{db}/_x: an unknown underscore segment is a document id (CouchDB)', () => {
  const illegal = { status: 400, body: { error: 'illegal_docid', reason: ILLEGAL_ID_REASON } };

  it('answers a PUT with 400 illegal_docid, whatever the body, and writes nothing', async () => {
    expect(await put(`/${db}/_hidden`, {})).toMatchObject(illegal);
    expect(await put(`/${db}/_hidden`, { _id: '_hidden', a: 1 })).toMatchObject(illegal);
    const notJson = await raw(t.url, `/${db}/_hidden`, { method: 'PUT', body: '{"a":' });
    expect({ status: notJson.status, body: notJson.json }).toMatchObject(illegal);
    expect(await put(`/${db}/_hidden/file.txt`, {})).toMatchObject(illegal);
    expect(await put(`/${db}/_hidden?new_edits=false`, { _rev: `1-${HASH_A}` })).toMatchObject(illegal);
    const info = await get(`/${db}`);
    expect(info.body).toMatchObject({ doc_count: 0, update_seq: 0 });
  });

  it('answers a read or a delete with 404 not_found, as CouchDB finds no such document', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await get(`/${db}/_hidden?rev=1-${HASH_A}`, { method });
      expect(res, method).toMatchObject({ status: 404, body: { error: 'not_found' } });
    }
    expect((await raw(t.url, `/${db}/_hidden`, { method: 'HEAD' })).status).toBe(404);
  });

  it('leaves known endpoints as they were, and a missing database still 404', async () => {
    expect(await put(`/${db}/_security`, { members: { names: [] } })).toMatchObject({ status: 200 });
    expect(await put(`/${db}/_revs_limit`, 7)).toMatchObject({ status: 200, body: { ok: true } });
    const changes = await put(`/${db}/_changes`, {});
    expect(changes).toMatchObject({ status: 405, body: { error: 'method_not_allowed' } });
    expect(await put(`/${db}/_design/app`, { views: {} })).toMatchObject({ status: 201 });
    expect(await put(`/${db}/_local/cp`, { seq: 1 })).toMatchObject({ status: 201 });
    expect(await put('/no-such-db/_hidden', {})).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});

describe('read options', () => {
  it('adds _revisions with revs=true and _revs_info with revs_info=true', async () => {
    const one = (await put(`/${db}/doc`, { v: 1 })).body.rev as string;
    const two = (await put(`/${db}/doc`, { _rev: one, v: 2 })).body.rev as string;
    const withRevs = (await get(`/${db}/doc?revs=true`)).body;
    expect(withRevs._revisions).toEqual({ start: 2, ids: [two.slice(2), one.slice(2)] });
    const withInfo = (await get(`/${db}/doc?revs_info=true`)).body;
    expect(withInfo._revs_info).toEqual([
      { rev: two, status: 'available' },
      { rev: one, status: expect.stringMatching(/^(available|missing)$/) },
    ]);
  });

  it('lists _conflicts and _deleted_conflicts; meta=true adds them all', async () => {
    await replicate('doc', 1, [HASH_A], { side: 'a' });
    await replicate('doc', 1, [HASH_B], { side: 'b' });
    await replicate('doc', 1, [HASH_C], { _deleted: true });
    const plain = (await get(`/${db}/doc`)).body;
    expect(plain._rev).toBe(`1-${HASH_B}`);
    expect(plain._conflicts).toBeUndefined();
    expect((await get(`/${db}/doc?conflicts=true`)).body._conflicts).toEqual([`1-${HASH_A}`]);
    expect((await get(`/${db}/doc?deleted_conflicts=true`)).body._deleted_conflicts).toEqual([`1-${HASH_C}`]);
    const meta = (await get(`/${db}/doc?meta=true`)).body;
    expect(meta._conflicts).toEqual([`1-${HASH_A}`]);
    expect(meta._deleted_conflicts).toEqual([`1-${HASH_C}`]);
    expect(meta._revs_info).toEqual([{ rev: `1-${HASH_B}`, status: 'available' }]);
  });

  it('answers rev=<inner>&latest=true with the leaf', async () => {
    await replicate('doc', 2, [HASH_B, HASH_A], { v: 2 });
    const res = await get(`/${db}/doc?rev=1-${HASH_A}&latest=true`);
    expect(res.status).toBe(200);
    expect(res.body._rev).toBe(`2-${HASH_B}`);
  });

  it('answers open_revs=all and a JSON list as JSON', async () => {
    await replicate('doc', 1, [HASH_A], { side: 'a' });
    await replicate('doc', 1, [HASH_B], { side: 'b' });
    const all = await t.fetch(`/${db}/doc?open_revs=all`, { headers: { accept: 'application/json' } });
    expect(all.status).toBe(200);
    const revs = ((await all.json()) as { ok: Json }[]).map((entry) => entry.ok._rev).sort();
    expect(revs).toEqual([`1-${HASH_A}`, `1-${HASH_B}`]);

    const list = encodeURIComponent(JSON.stringify([`1-${HASH_A}`, `1-${HASH_C}`]));
    const some = await get(`/${db}/doc?open_revs=${list}&revs=true`);
    expect(some.status).toBe(200);
    expect(some.body).toEqual([
      { ok: { _id: 'doc', _rev: `1-${HASH_A}`, side: 'a', _revisions: { start: 1, ids: [HASH_A] } } },
      { missing: `1-${HASH_C}` },
    ]);
  });

  it('answers open_revs on an unknown document', async () => {
    const all = await get(`/${db}/nope?open_revs=all`);
    expect(all.status).toBe(404);
    const list = encodeURIComponent(JSON.stringify([`1-${HASH_A}`]));
    const some = await get(`/${db}/nope?open_revs=${list}`);
    expect([200, 404]).toContain(some.status);
    if (some.status === 200) expect(some.body).toEqual([{ missing: `1-${HASH_A}` }]);
  });

  it('refuses a malformed open_revs with 400', async () => {
    await put(`/${db}/doc`, {});
    for (const value of ['[1,2]', '{"a":1}', '%5Bnot-json', '"1-abc"']) {
      const res = await raw(t.url, `/${db}/doc?open_revs=${value}`);
      expect(res.status, value).toBe(400);
    }
  });

  it('adds _local_seq with local_seq=true', async () => {
    await put(`/${db}/doc`, {});
    expect((await get(`/${db}/doc?local_seq=true`)).body._local_seq).toBeDefined();
  });
});

describe('new_edits=false PUT', () => {
  it('stores the revision and history as given and returns its rev', async () => {
    const res = await put(`/${db}/doc?new_edits=false`, {
      _rev: `3-${HASH_C}`,
      _revisions: { start: 3, ids: [HASH_C, HASH_B, HASH_A] },
      v: 3,
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ ok: true, id: 'doc', rev: `3-${HASH_C}` });
    const doc = (await get(`/${db}/doc?revs=true`)).body;
    expect(doc).toMatchObject({ _rev: `3-${HASH_C}`, v: 3 });
    expect(doc._revisions).toEqual({ start: 3, ids: [HASH_C, HASH_B, HASH_A] });
    // Writing it again is a silent success.
    const again = await put(`/${db}/doc?new_edits=false`, {
      _rev: `3-${HASH_C}`,
      _revisions: { start: 3, ids: [HASH_C, HASH_B, HASH_A] },
      v: 3,
    });
    expect(again.status).toBe(201);
  });

  it('refuses a replicated write without any rev with 400', async () => {
    const res = await put(`/${db}/doc?new_edits=false`, { v: 1 });
    expect(res.status).toBe(400);
  });
});

describe('attachments as resources', () => {
  const BYTES = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x0d, 0x0a, 0x2d, 0x2d]);

  async function putAtt(path: string, body: Buffer | string, type = 'application/octet-stream') {
    const res = await t.fetch(path, { method: 'PUT', body, headers: { 'content-type': type } });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Json };
  }

  it('PUTs raw bytes with ?rev and GETs them back with Content-Type and ETag', async () => {
    const rev = (await put(`/${db}/doc`, { x: 1 })).body.rev as string;
    const created = await putAtt(`/${db}/doc/pic.png?rev=${rev}`, BYTES, 'image/png');
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ ok: true, id: 'doc' });
    expect(created.body.rev).toMatch(/^2-/);

    const res = await t.fetch(`/${db}/doc/pic.png`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(BYTES);
    const etag = res.headers.get('etag')!;
    expect(etag).toMatch(/^"md5-[A-Za-z0-9+/]+=*"$/);
    expect((await t.fetch(`/${db}/doc/pic.png`, { headers: { 'if-none-match': etag } })).status).toBe(304);

    const doc = (await get(`/${db}/doc`)).body;
    expect(doc.x).toBe(1);
    expect(doc._attachments).toEqual({
      'pic.png': {
        content_type: 'image/png',
        digest: etag.slice(1, -1),
        length: BYTES.length,
        revpos: 2,
        stub: true,
      },
    });
  });

  it('creates the document when PUT without a rev', async () => {
    const created = await putAtt(`/${db}/fresh/a.txt`, 'hello', 'text/plain');
    expect(created.status).toBe(201);
    expect(created.body.rev).toMatch(/^1-/);
    expect(await (await t.fetch(`/${db}/fresh/a.txt`)).text()).toBe('hello');
  });

  it('answers a stale rev with 409', async () => {
    const rev = (await put(`/${db}/doc`, {})).body.rev as string;
    await put(`/${db}/doc`, { _rev: rev });
    expect((await putAtt(`/${db}/doc/a.txt?rev=${rev}`, 'x')).status).toBe(409);
  });

  it('handles names with / in them, and on design documents', async () => {
    const rev = (await put(`/${db}/doc`, {})).body.rev as string;
    const created = await putAtt(`/${db}/doc/dir/sub/file.txt?rev=${rev}`, 'nested', 'text/plain');
    expect(created.status).toBe(201);
    expect(Object.keys((await get(`/${db}/doc`)).body._attachments as Json)).toEqual(['dir/sub/file.txt']);
    expect(await (await t.fetch(`/${db}/doc/dir/sub/file.txt`)).text()).toBe('nested');
    expect(await (await t.fetch(`/${db}/doc/dir%2Fsub%2Ffile.txt`)).text()).toBe('nested');

    const ddoc = (await put(`/${db}/_design/app`, {})).body.rev as string;
    expect((await putAtt(`/${db}/_design/app/index.html?rev=${ddoc}`, '<p>', 'text/html')).status).toBe(201);
    const page = await t.fetch(`/${db}/_design/app/index.html`);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toBe('<p>');
    expect((await get(`/${db}/_design/app`)).body._id).toBe('_design/app');
  });

  it('reads an attachment of an older revision with ?rev=', async () => {
    const one = (await put(`/${db}/doc`, {})).body.rev as string;
    const two = (await putAtt(`/${db}/doc/a.txt?rev=${one}`, 'first', 'text/plain')).body.rev as string;
    await putAtt(`/${db}/doc/a.txt?rev=${two}`, 'second', 'text/plain');
    expect(await (await t.fetch(`/${db}/doc/a.txt?rev=${two}`)).text()).toBe('first');
    expect(await (await t.fetch(`/${db}/doc/a.txt`)).text()).toBe('second');
  });

  it('DELETEs an attachment with ?rev, then it is 404', async () => {
    const one = (await put(`/${db}/doc`, {})).body.rev as string;
    const two = (await putAtt(`/${db}/doc/a.txt?rev=${one}`, 'x')).body.rev as string;
    const res = await t.fetch(`/${db}/doc/a.txt?rev=${two}`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, id: 'doc', rev: expect.stringMatching(/^3-/) });
    const missing = await get(`/${db}/doc/a.txt`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toBe('not_found');
    expect((await get(`/${db}/doc`)).body._attachments).toBeUndefined();
  });

  it('answers 404 for a missing attachment or document', async () => {
    await put(`/${db}/doc`, {});
    expect((await get(`/${db}/doc/none.txt`)).body).toMatchObject({ error: 'not_found' });
    expect((await get(`/${db}/nodoc/none.txt`)).status).toBe(404);
    expect(
      (await t.fetch(`/${db}/doc/none.txt?rev=1-abc`, { method: 'DELETE' })).status,
    ).toBeGreaterThanOrEqual(400);
  });
});

describe('inline attachments', () => {
  async function setup() {
    const one = await put(`/${db}/doc`, {
      _attachments: {
        'old.txt': { content_type: 'text/plain', data: Buffer.from('old').toString('base64') },
      },
    });
    const two = await put(`/${db}/doc`, {
      _rev: one.body.rev,
      _attachments: {
        'old.txt': { stub: true },
        'new.bin': {
          content_type: 'application/octet-stream',
          data: Buffer.from([1, 2, 3]).toString('base64'),
        },
      },
    });
    expect(two.status).toBe(201);
    return { one: one.body.rev as string, two: two.body.rev as string };
  }

  it('inlines everything with attachments=true', async () => {
    await setup();
    const atts = (await get(`/${db}/doc?attachments=true`)).body._attachments as Record<string, Json>;
    expect(atts['old.txt']!.data).toBe(Buffer.from('old').toString('base64'));
    expect(atts['new.bin']!.data).toBe(Buffer.from([1, 2, 3]).toString('base64'));
    expect(atts['old.txt']!.stub).toBeUndefined();
  });

  it('inlines only newer attachments with atts_since', async () => {
    const { one } = await setup();
    const since = encodeURIComponent(JSON.stringify([one]));
    const atts = (await get(`/${db}/doc?atts_since=${since}`)).body._attachments as Record<string, Json>;
    expect(atts['old.txt']).toMatchObject({ stub: true, revpos: 1 });
    expect(atts['old.txt']!.data).toBeUndefined();
    expect(atts['new.bin']).toMatchObject({ revpos: 2, data: Buffer.from([1, 2, 3]).toString('base64') });
  });

  it('refuses bad base64 data with 400', async () => {
    const res = await put(`/${db}/bad`, {
      _attachments: { 'x.bin': { content_type: 'a/b', data: '!!!not base64' } },
    });
    expect(res.status).toBe(400);
  });

  it('refuses a stub that does not exist with 412 missing_stub', async () => {
    const rev = (await put(`/${db}/doc`, {})).body.rev as string;
    const res = await put(`/${db}/doc`, { _rev: rev, _attachments: { 'ghost.txt': { stub: true } } });
    expect(res.status).toBe(412);
    expect(res.body.error).toBe('missing_stub');
  });
});

describe('_local documents', () => {
  it('writes 0-N revisions without conflict checks, via _local/x and _local%2Fx', async () => {
    const first = await put(`/${db}/_local/x`, { v: 1 });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ ok: true, id: '_local/x', rev: '0-1' });
    // As CouchDB: the new rev is the supplied one plus one, whatever is stored.
    const second = await put(`/${db}/_local%2Fx`, { _rev: '0-1', v: 2 });
    expect(second.body).toEqual({ ok: true, id: '_local/x', rev: '0-2' });
    const stale = await put(`/${db}/_local/x`, { _rev: '0-1', v: 3 });
    expect(stale.status).toBe(201);
    expect(stale.body.rev).toBe('0-2');
    const revless = await put(`/${db}/_local/x`, { v: 4 });
    expect(revless.status).toBe(201);
    expect(revless.body.rev).toBe('0-1');
    const viaQuery = await put(`/${db}/_local/x?rev=0-7`, { v: 5 });
    expect(viaQuery.body.rev).toBe('0-8');
    const read = await get(`/${db}/_local%2Fx`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual({ _id: '_local/x', _rev: '0-8', v: 5 });
    expect((await get(`/${db}/_local/x`)).body).toEqual(read.body);
  });

  it('refuses a malformed local rev with 400', async () => {
    const res = await put(`/${db}/_local/x`, { _rev: '1-abc' });
    expect(res.status).toBe(400);
  });

  it('ignores _revisions (the CouchDB replicator sends one)', async () => {
    const res = await put(`/${db}/_local/cp`, { _revisions: { start: 1, ids: [HASH_A] }, history: [] });
    expect(res.status).toBe(201);
    expect((await get(`/${db}/_local/cp`)).body).toEqual({ _id: '_local/cp', _rev: '0-1', history: [] });
  });

  it('deletes, then 404; and stays out of _all_docs, _changes and doc_count', async () => {
    await put(`/${db}/_local/x`, {});
    await put(`/${db}/_local/y`, {});
    expect((await get(`/${db}/_all_docs`)).body.rows).toEqual([]);
    expect((await get(`/${db}/_changes`)).body.results).toEqual([]);
    expect((await get(`/${db}`)).body.doc_count).toBe(0);
    const res = await t.fetch(`/${db}/_local/x?rev=0-1`, { method: 'DELETE' });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, id: '_local/x' });
    expect(await get(`/${db}/_local/x`)).toMatchObject({
      status: 404,
      body: { error: 'not_found', reason: 'missing' },
    });
    expect((await get(`/${db}/_local/y`)).status).toBe(200);
  });

  it('answers a missing local document with 404', async () => {
    expect(await get(`/${db}/_local/none`)).toMatchObject({ status: 404, body: { error: 'not_found' } });
  });
});
