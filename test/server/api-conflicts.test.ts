import { describe, expect, it } from 'vitest';
import { type TestServer, useServerPerFile } from './harness.js';

let t: TestServer;
let db = '';
useServerPerFile(
  (server) => (t = server),
  (name) => (db = name),
);

type Json = Record<string, unknown>;
type ConflictsBody = { total_rows: number; rows: { id: string; rev: string; conflicts: string[] }[] };
const rev = (gen: number, digit: string) => `${gen}-${digit.repeat(32)}`;

/** Replicated writes (new_edits=false): each `[id, rev]` a root revision with body `{v: rev}`. */
async function replicated(...revs: [string, string][]): Promise<void> {
  const docs = revs.map(([_id, _rev]) => ({ _id, _rev, v: _rev }));
  const res = await t.fetch(`/${db}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs, new_edits: false }),
  });
  expect(res.status).toBe(201);
  expect(await res.json()).toEqual([]);
}

async function getJson(path: string): Promise<Json> {
  const res = await t.fetch(path);
  expect(res.status, path).toBe(200);
  return (await res.json()) as Json;
}

async function conflictsOf(query = ''): Promise<ConflictsBody> {
  return (await getJson(`/${db}/_conflicts${query}`)) as unknown as ConflictsBody;
}

function resolve(id: string, body: unknown): Promise<Response> {
  return t.fetch(`/${db}/_resolve/${id}`, { method: 'POST', body: JSON.stringify(body) });
}

describe('GET /{db}/_conflicts', () => {
  it('lists the conflicted documents with their winner and conflicts, and counts them', async () => {
    expect(await conflictsOf()).toEqual({ total_rows: 0, rows: [] });
    await replicated(['b', rev(1, 'a')], ['b', rev(1, 'b')], ['plain', rev(1, 'a')]);
    await replicated(['a', rev(1, 'a')], ['a', rev(1, 'b')], ['a', rev(1, 'c')]);
    const res = await t.fetch(`/${db}/_conflicts`);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({
      total_rows: 2,
      rows: [
        { id: 'a', rev: rev(1, 'c'), conflicts: [rev(1, 'b'), rev(1, 'a')] },
        { id: 'b', rev: rev(1, 'b'), conflicts: [rev(1, 'a')] },
      ],
    });
  });

  it('pages with a JSON startkey (inclusive) and limit; total_rows counts them all', async () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    await replicated(
      ...ids.flatMap((id): [string, string][] => [
        [id, rev(1, 'a')],
        [id, rev(1, 'b')],
      ]),
    );
    const first = await conflictsOf('?limit=2');
    expect([first.total_rows, first.rows.map((row) => row.id)]).toEqual([5, ['a', 'b']]);
    const next = await conflictsOf(`?limit=2&startkey=${encodeURIComponent(JSON.stringify('b\u0000'))}`);
    expect(next.rows.map((row) => row.id)).toEqual(['c', 'd']);
    expect((await conflictsOf('?start_key=%22d%22')).rows.map((row) => row.id)).toEqual(['d', 'e']);
    expect((await conflictsOf('?limit=0')).rows).toEqual([]);
  });

  it('refuses bad parameters with 400', async () => {
    for (const query of ['?limit=-1', '?limit=x', '?startkey=abc', '?startkey=3']) {
      const res = await t.fetch(`/${db}/_conflicts${query}`);
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'bad_request' });
    }
    expect((await t.fetch(`/${db}/_conflicts`, { method: 'POST', body: '{}' })).status).toBe(405);
    expect((await t.fetch('/nope/_conflicts')).status).toBe(404);
    expect((await fetch(`${t.url}/${db}/_conflicts`)).status).toBe(401);
  });
});

describe('GET /{db}/_changes?filter=_conflicts', () => {
  it('streams only the conflicted documents', async () => {
    await replicated(['a', rev(1, 'a')], ['b', rev(1, 'a')], ['b', rev(1, 'b')], ['c', rev(1, 'a')]);
    await replicated(['d', rev(1, 'a')], ['d', rev(1, 'b')]);
    const body = (await getJson(`/${db}/_changes?filter=_conflicts&style=all_docs`)) as {
      results: { id: string; changes: { rev: string }[] }[];
      last_seq: number;
    };
    expect(body.results.map((row) => [row.id, row.changes.map((change) => change.rev)])).toEqual([
      ['b', [rev(1, 'b'), rev(1, 'a')]],
      ['d', [rev(1, 'b'), rev(1, 'a')]],
    ]);
    // The feed read to the end of the database.
    expect(body.last_seq).toBe((await getJson(`/${db}`)).update_seq);
  });

  it('works with the continuous feed', async () => {
    await replicated(['a', rev(1, 'a')], ['b', rev(1, 'a')], ['b', rev(1, 'b')]);
    const res = await t.fetch(`/${db}/_changes?filter=_conflicts&feed=continuous&timeout=200`);
    const lines = (await res.text())
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as Json);
    expect(lines.map((line) => line.id ?? 'end')).toEqual(['b', 'end']);
  });
});

describe('POST /{db}/_resolve/{docid}', () => {
  it('writes the merged revision and deletes the losers: 201 {ok, id, rev, deleted}', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')], ['doc', rev(1, 'c')]);
    const seen = await getJson(`/${db}/doc?conflicts=true`);
    const res = await resolve('doc', { merged: { v: 'merged' }, keep: seen._rev, losers: seen._conflicts });
    expect(res.status).toBe(201);
    const result = (await res.json()) as Json;
    expect(result).toEqual({
      ok: true,
      id: 'doc',
      rev: expect.stringMatching(/^2-/),
      deleted: [rev(1, 'b'), rev(1, 'a')],
    });
    expect(await getJson(`/${db}/doc?conflicts=true`)).toEqual({ _id: 'doc', _rev: result.rev, v: 'merged' });
    expect(await conflictsOf()).toEqual({ total_rows: 0, rows: [] });
  });

  it('keeps a leaf as it is when nothing is merged', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')]);
    const res = await resolve('doc', { keep: rev(1, 'a'), losers: [rev(1, 'b')] });
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ ok: true, id: 'doc', rev: rev(1, 'a'), deleted: [rev(1, 'b')] });
    expect(await getJson(`/${db}/doc?conflicts=true`)).toEqual({
      _id: 'doc',
      _rev: rev(1, 'a'),
      v: rev(1, 'a'),
    });
  });

  it('answers 409 when the leaves changed since the client read them, and writes nothing', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')]);
    const seen = await getJson(`/${db}/doc?conflicts=true`);
    await replicated(['doc', rev(1, 'c')]);
    const before = (await getJson(`/${db}`)).update_seq;
    const res = await resolve('doc', { merged: { v: 'm' }, losers: seen._conflicts });
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({ error: 'conflict' });
    expect((await getJson(`/${db}`)).update_seq).toBe(before);
    expect((await conflictsOf()).rows[0]!.conflicts).toHaveLength(2);
  });

  it('addresses design documents and ids holding a slash', async () => {
    await replicated(['_design/app', rev(1, 'a')], ['_design/app', rev(1, 'b')]);
    await replicated(['a/b', rev(1, 'a')], ['a/b', rev(1, 'b')]);
    expect((await resolve('_design/app', { losers: [rev(1, 'a')] })).status).toBe(201);
    expect((await resolve('a%2Fb', { losers: [rev(1, 'a')] })).status).toBe(201);
    expect(await conflictsOf()).toEqual({ total_rows: 0, rows: [] });
    await replicated(['_design/other', rev(1, 'a')], ['_design/other', rev(1, 'b')]);
    const res = await resolve('_design%2Fother', { merged: { views: {} } });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ id: '_design/other', deleted: [rev(1, 'a')] });
  });

  it('refuses bad requests', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')]);
    const cases: [string, unknown, number, string][] = [
      ['missing', {}, 404, 'not_found'],
      ['doc', { loser: [rev(1, 'a')] }, 400, 'bad_request'],
      ['doc', { merged: [1] }, 400, 'bad_request'],
      ['doc', { keep: 3 }, 400, 'bad_request'],
      ['doc', { losers: [rev(1, 'b')], keep: rev(1, 'b') }, 400, 'bad_request'],
      ['doc', { merged: { _bad: 1 } }, 400, 'doc_validation'],
      ['doc', [], 400, 'bad_request'],
    ];
    for (const [id, body, status, error] of cases) {
      const res = await resolve(id, body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(await res.json()).toMatchObject({ error });
    }
    const empty = await t.fetch(`/${db}/_resolve/doc`, { method: 'POST' });
    expect(empty.status).toBe(400);
    const text = await t.fetch(`/${db}/_resolve/doc`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(text.status).toBe(415);
    expect((await t.fetch(`/${db}/_resolve/doc`, { method: 'PUT', body: '{}' })).status).toBe(405);
    expect((await t.fetch(`/${db}/_resolve`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${t.url}/${db}/_resolve/doc`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await conflictsOf()).total_rows).toBe(1);
  });
});
