import { describe, expect, it } from 'vitest';
import { custom } from '../../src/conflicts/resolvers.js';
import { startServer, type TestServer, useServerPerFile } from './harness.js';

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

  it('lists only the ids starting with `prefix`, paged by startkey, and stops reading there', async () => {
    // Ids sort by code point: an id past U+FFFF (an emoji) still follows its prefix, which an
    // `endkey` of prefix + "\uffff" would miss.
    const ids = ['ant', 'ap', 'apple', 'apricot', 'ap\u{1F600}', 'b'];
    await replicated(
      ...ids.flatMap((id): [string, string][] => [
        [id, rev(1, 'a')],
        [id, rev(1, 'b')],
      ]),
    );
    const ofPrefix = async (query: string) => (await conflictsOf(query)).rows.map((row) => row.id);
    expect(await ofPrefix('?prefix=ap')).toEqual(['ap', 'apple', 'apricot', 'ap\u{1F600}']);
    const page = await conflictsOf('?prefix=ap&limit=2');
    expect([page.total_rows, page.rows.map((row) => row.id)]).toEqual([6, ['ap', 'apple']]);
    const next = `?prefix=ap&limit=2&startkey=${encodeURIComponent(JSON.stringify('apple\u0000'))}`;
    expect(await ofPrefix(next)).toEqual(['apricot', 'ap\u{1F600}']);
    // A startkey before the prefix starts at the prefix; one past it finds nothing.
    expect(await ofPrefix('?prefix=apr&startkey=%22a%22')).toEqual(['apricot']);
    expect(await ofPrefix('?prefix=ap&startkey=%22b%22')).toEqual([]);
    expect(await ofPrefix(`?prefix=${encodeURIComponent('ap\u{1F600}')}`)).toEqual(['ap\u{1F600}']);
    expect(await ofPrefix('?prefix=zz')).toEqual([]);
    expect(await ofPrefix('?prefix=')).toEqual(ids);
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
    expect((await t.fetch(`/${db}/_resolve`, { method: 'POST', body: '{}' })).status).toBe(400);
    expect((await fetch(`${t.url}/${db}/_resolve/doc`, { method: 'POST', body: '{}' })).status).toBe(401);
    expect((await conflictsOf()).total_rows).toBe(1);
  });
});

/** A leaf written with its history (new_edits=false): `path` newest first, e.g. ['3-c', '2-b', '1-a']. */
async function branch(id: string, path: string[], body: Json = {}): Promise<void> {
  const [gen] = path[0]!.split('-');
  const leaf = {
    _id: id,
    _rev: path[0],
    _revisions: { start: Number(gen), ids: path.map((r) => r.split('-')[1]) },
    ...body,
  };
  const res = await t.fetch(`/${db}/_bulk_docs`, {
    method: 'POST',
    body: JSON.stringify({ docs: [leaf], new_edits: false }),
  });
  expect(res.status).toBe(201);
}

describe('GET /{db}/_resolve/{docid}: deleted versions', () => {
  it('lists every deleted leaf a resolution weighs, an older tombstone too, in winner order', async () => {
    // 1-a → 2-x deleted long ago (unstamped, as a resolution's tombstone); 1-a → 2-y, then three
    // replicas: two edit 2-y, one deletes it. The resolvers weigh both deletions (the sweep and a
    // write alike), so a person sees both; the unstamped one never wins by last writer wins.
    await branch('doc', [rev(2, 'x'), rev(1, 'a')], { _deleted: true });
    await branch('doc', [rev(3, 'p'), rev(2, 'y'), rev(1, 'a')], { v: 'p' });
    await branch('doc', [rev(3, 'q'), rev(2, 'y'), rev(1, 'a')], { v: 'q' });
    await branch('doc', [rev(3, 'd'), rev(2, 'y'), rev(1, 'a')], { _deleted: true, settee_hlc: STAMP });
    const answer = await getJson(`/${db}/_resolve/doc`);
    expect((answer.leaves as { rev: string }[]).map((leaf) => leaf.rev)).toEqual([rev(3, 'q'), rev(3, 'p')]);
    expect(answer.deleted_leaves).toEqual([
      { rev: rev(3, 'd'), doc: { _id: 'doc', _rev: rev(3, 'd'), _deleted: true, settee_hlc: STAMP } },
      { rev: rev(2, 'x'), doc: { _id: 'doc', _rev: rev(2, 'x'), _deleted: true } },
    ]);
  });

  it('lists a deletion facing a single live version, and none once the document was re-created', async () => {
    await branch('one', [rev(2, 'b'), rev(1, 'a')], { v: 1 });
    await branch('one', [rev(2, 'c'), rev(1, 'a')], { _deleted: true });
    expect((await getJson(`/${db}/_resolve/one`)).deleted_leaves).toEqual([
      { rev: rev(2, 'c'), doc: { _id: 'one', _rev: rev(2, 'c'), _deleted: true } },
    ]);
    // A live leaf continuing a deletion was written by someone who saw the document deleted.
    await branch('again', [rev(2, 'd'), rev(1, 'a')], { _deleted: true });
    await branch('again', [rev(3, 'r'), rev(2, 'd'), rev(1, 'a')], { v: 'back' });
    await branch('again', [rev(2, 'x'), rev(1, 'a')], { _deleted: true, settee_hlc: LATER });
    expect((await getJson(`/${db}/_resolve/again`)).deleted_leaves).toEqual([]);
  });

  it('flags the tombstone an earlier resolution left on its loser as retired, not a deletion', async () => {
    // Resolved once: 2-b kept, 2-a retired by an empty tombstone.
    await branch('twice', [rev(2, 'a'), rev(1, 'o')], { v: 'a' });
    await branch('twice', [rev(2, 'b'), rev(1, 'o')], { v: 'b' });
    const resolved = await t.fetch(`/${db}/_resolve/twice`, { method: 'POST', body: '{}' });
    expect(await resolved.json()).toMatchObject({ rev: rev(2, 'b'), deleted: [rev(2, 'a')] });
    const [tombstone] = (await getJson(`/${db}/_resolve/twice`)).deleted_leaves as { rev: string }[];
    expect(tombstone).toEqual({
      rev: expect.stringMatching(/^3-/) as unknown,
      doc: { _id: 'twice', _rev: tombstone!.rev, _deleted: true },
      retired: true,
    });
    // Split again: 2-b edited twice and deleted by a plain client (empty, unstamped, but beside
    // the edits of the same revision); a stamped deletion on a branch no live version continues.
    await branch('twice', [rev(3, 'p'), rev(2, 'b'), rev(1, 'o')], { v: 'p' });
    await branch('twice', [rev(3, 'q'), rev(2, 'b'), rev(1, 'o')], { v: 'q' });
    await branch('twice', [rev(3, 'd'), rev(2, 'b'), rev(1, 'o')], { _deleted: true });
    await branch('twice', [rev(3, 'z'), rev(2, 'z'), rev(1, 'o')], { _deleted: true, settee_hlc: STAMP });
    const shown = (await getJson(`/${db}/_resolve/twice`)).deleted_leaves as {
      rev: string;
      retired?: true;
    }[];
    expect(Object.fromEntries(shown.map((leaf) => [leaf.rev, leaf.retired ?? false]))).toEqual({
      [tombstone!.rev]: true,
      [rev(3, 'd')]: false,
      [rev(3, 'z')]: false,
    });
  });
});

const STAMP = '001700000000000-0000-tablet';
const LATER = '001700000060000-0000-laptop';

async function resolveMany(body: unknown): Promise<Response> {
  return t.fetch(`/${db}/_resolve`, { method: 'POST', body: JSON.stringify(body) });
}

describe('POST /{db}/_resolve: many documents with one strategy', () => {
  it('resolves each listed document once, answering per document, and records who and how', async () => {
    await branch('older-wins', [rev(1, 'a')], { v: 'early', settee_hlc: LATER });
    await branch('older-wins', [rev(1, 'b')], { v: 'late', settee_hlc: STAMP });
    await branch('deleted', [rev(2, 'b'), rev(1, 'a')], { v: 'edit', settee_hlc: STAMP });
    await branch('deleted', [rev(2, 'c'), rev(1, 'a')], { v: 'edit 2', settee_hlc: STAMP });
    await branch('deleted', [rev(2, 'd'), rev(1, 'a')], { _deleted: true, settee_hlc: LATER });
    await branch('calm', [rev(1, 'a')], { v: 1 });
    const res = await resolveMany({
      strategy: 'last-writer-wins',
      ids: ['older-wins', 'deleted', 'calm', 'gone'],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([
      // The later stamp is the loser in CouchDB's order: it is kept as it is, no new revision.
      { ok: true, id: 'older-wins', rev: rev(1, 'a'), deleted: [rev(1, 'b')], resolved: true },
      // A stamped deletion later than both edits: the document ends deleted.
      { ok: true, id: 'deleted', rev: expect.stringMatching(/^3-/), deleted: [rev(2, 'b')], resolved: true },
      { ok: true, id: 'calm', resolved: false, reason: 'The document has no conflict' },
      { id: 'gone', error: 'not_found', reason: 'missing' },
    ]);
    expect(await getJson(`/${db}/older-wins?conflicts=true`)).toEqual({
      _id: 'older-wins',
      _rev: rev(1, 'a'),
      v: 'early',
      settee_hlc: LATER,
    });
    expect((await t.fetch(`/${db}/deleted`)).status).toBe(404);
    expect(await conflictsOf()).toEqual({ total_rows: 0, rows: [] });
    // Not the automatic resolver: a new conflict stays open.
    expect(await getJson(`/${db}/_resolver`)).toEqual({ strategy: 'couchdb', active: true });
    const history = (await getJson(`/${db}/_resolutions`)) as { rows: { id: string; by: string }[] };
    expect(history.rows.map((row) => [row.id, row.by])).toEqual([
      ['older-wins', 'resolver:last-writer-wins by user:admin'],
      ['deleted', 'resolver:last-writer-wins by user:admin'],
    ]);
  });

  it('with couchdb, keeps the version apps are shown and deletes the others', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')], ['doc', rev(1, 'c')]);
    const res = await resolveMany({ strategy: 'couchdb', ids: ['doc'] });
    expect(await res.json()).toEqual([
      { ok: true, id: 'doc', rev: rev(1, 'c'), deleted: [rev(1, 'b'), rev(1, 'a')], resolved: true },
    ]);
  });

  it('merges field by field with field-merge, continuing the winner', async () => {
    await branch('doc', [rev(2, 'b'), rev(1, 'a')], {
      name: 'new name',
      city: 'Paris',
      settee_fields: { name: LATER, city: STAMP },
    });
    await branch('doc', [rev(2, 'c'), rev(1, 'a')], {
      name: 'old name',
      city: 'Lyon',
      settee_fields: { name: STAMP, city: LATER },
    });
    const [row] = (await (await resolveMany({ strategy: 'field-merge', ids: ['doc'] })).json()) as Json[];
    expect(row).toMatchObject({ ok: true, resolved: true, rev: expect.stringMatching(/^3-/) });
    expect(await getJson(`/${db}/doc?conflicts=true`)).toMatchObject({ name: 'new name', city: 'Lyon' });
  });

  it('reads each document when its turn comes: a repeated id finds it resolved', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')]);
    const res = await resolveMany({ strategy: 'couchdb', ids: ['doc', 'doc'] });
    expect(await res.json()).toEqual([
      { ok: true, id: 'doc', rev: rev(1, 'b'), deleted: [rev(1, 'a')], resolved: true },
      { ok: true, id: 'doc', resolved: false, reason: 'The document has no conflict' },
    ]);
  });

  it('refuses bad requests with 400 and changes nothing', async () => {
    await replicated(['doc', rev(1, 'a')], ['doc', rev(1, 'b')]);
    const before = (await getJson(`/${db}`)).update_seq;
    const tooMany = Array.from({ length: 101 }, (_, i) => `d${i}`);
    const cases: [unknown, RegExp][] = [
      [{ strategy: 'nope', ids: ['doc'] }, /^Unknown strategy "nope"/],
      [{ ids: ['doc'] }, /^Unknown strategy undefined/],
      [{ strategy: 'couchdb' }, /^ids must be an array/],
      [{ strategy: 'couchdb', ids: 'doc' }, /^ids must be an array/],
      [{ strategy: 'couchdb', ids: [1] }, /^ids must be an array/],
      [{ strategy: 'couchdb', ids: tooMany }, /^At most 100 ids per request \(101 given\)/],
      [{ strategy: 'couchdb', ids: ['doc'], by: 'me' }, /^Unknown fields: by/],
      [{ strategy: 'crdt', ids: ['doc'] }, /^Invalid options for crdt: schema must be/],
      [{ strategy: 'last-writer-wins', options: [], ids: ['doc'] }, /^options must be a JSON object/],
    ];
    for (const [body, reason] of cases) {
      const res = await resolveMany(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const answer = (await res.json()) as Json;
      expect(answer.error).toBe('bad_request');
      expect(answer.reason).toMatch(reason);
    }
    expect((await t.fetch(`/${db}/_resolve`, { method: 'PUT', body: '{}' })).status).toBe(405);
    expect((await getJson(`/${db}`)).update_seq).toBe(before);
  });

  it('weighs the leaves the automatic resolver weighs: a lone live version and a later deletion', async () => {
    // Before, only documents with two live versions counted as conflicted here, while a write or
    // the sweep with the same strategy deleted this one.
    await branch('doc', [rev(2, 'b'), rev(1, 'a')], { v: 'edit', settee_hlc: STAMP });
    await branch('doc', [rev(2, 'c'), rev(1, 'a')], { _deleted: true, settee_hlc: LATER });
    await branch('kept', [rev(2, 'b'), rev(1, 'a')], { v: 'edit', settee_hlc: LATER });
    await branch('kept', [rev(2, 'c'), rev(1, 'a')], { _deleted: true, settee_hlc: STAMP });
    const res = await resolveMany({ strategy: 'last-writer-wins', ids: ['doc', 'kept'] });
    expect(await res.json()).toEqual([
      { ok: true, id: 'doc', rev: expect.stringMatching(/^3-/), deleted: [], resolved: true },
      { ok: true, id: 'kept', resolved: false, reason: 'The document has no conflict' },
    ]);
    expect((await t.fetch(`/${db}/doc`)).status).toBe(404);
    expect((await getJson(`/${db}/kept`)).v).toBe('edit');
  });

  it('passes the options to the strategy', async () => {
    await branch('doc', [rev(1, 'a')], { v: 'a', when: LATER, settee_hlc: STAMP });
    await branch('doc', [rev(1, 'b')], { v: 'b', when: STAMP, settee_hlc: LATER });
    const res = await resolveMany({ strategy: 'last-writer-wins', options: { field: 'when' }, ids: ['doc'] });
    expect(await res.json()).toEqual([
      { ok: true, id: 'doc', rev: rev(1, 'a'), deleted: [rev(1, 'b')], resolved: true },
    ]);
  });
});

describe('GET /{db}/_resolve and custom strategies', () => {
  it('names the strategies on offer, custom ones included, and resolves with them', async () => {
    const longest = {
      create: () =>
        custom('longest', (leaves) => {
          const live = leaves.filter((leaf) => !leaf.deleted);
          const best = live.reduce((a, b) => (String(b.doc.v).length > String(a.doc.v).length ? b : a));
          return { kind: 'merge', body: { v: `${String(best.doc.v)}!` } };
        }),
    };
    const own = await startServer({ resolvers: { longest } });
    try {
      expect((await own.fetch('/shop', { method: 'PUT' })).status).toBe(201);
      const offer = await own.fetch('/shop/_resolve');
      expect(await offer.json()).toEqual({
        strategies: ['couchdb', 'last-writer-wins', 'field-merge', 'crdt', 'longest'],
        max_ids: 100,
      });
      const docs = [
        { _id: 'doc', _rev: rev(1, 'a'), v: 'a long text' },
        { _id: 'doc', _rev: rev(1, 'b'), v: 'short' },
      ];
      await own.fetch('/shop/_bulk_docs', {
        method: 'POST',
        body: JSON.stringify({ docs, new_edits: false }),
      });
      const res = await own.fetch('/shop/_resolve', {
        method: 'POST',
        body: JSON.stringify({ strategy: 'longest', ids: ['doc'] }),
      });
      expect(await res.json()).toEqual([
        { ok: true, id: 'doc', rev: expect.stringMatching(/^2-/), deleted: [rev(1, 'a')], resolved: true },
      ]);
      const doc = (await (await own.fetch('/shop/doc?conflicts=true')).json()) as Json;
      expect(doc).toEqual({ _id: 'doc', _rev: expect.stringMatching(/^2-/), v: 'a long text!' });
      // The merge continues the winner (1-b): the other leaf is the one deleted.
    } finally {
      await own.stop();
    }
  });
});
