import { describe, expect, it } from 'vitest';
import type { BulkGetRequest, Doc, NewDoc } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import {
  b64,
  errorsOf,
  expectError,
  h,
  okDocs,
  okRevs,
  rev,
  useTempDatabases,
  writeReplicated,
} from './helpers.js';

const dbs = useTempDatabases();

describe('revsDiff', () => {
  it('an unknown document has every revision missing and no possible ancestors', async () => {
    const db = await dbs.open();
    expect(await db.revsDiff({ nope: [rev(1, 'a'), rev(2, 'b')] })).toEqual({
      nope: { missing: [rev(1, 'a'), rev(2, 'b')] },
    });
  });

  it('nothing missing → {}', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const second = await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    expect(await db.revsDiff({ a: [second.rev] })).toEqual({});
    expect(await db.revsDiff({})).toEqual({});
    // A known internal node is not missing either.
    expect(await db.revsDiff({ a: [first.rev, second.rev] })).toEqual({});
  });

  it('ancestors known only by id (no body) are not missing', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(3, 'c'), rev(2, 'b'), rev(1, 'a')]);
    expect(await db.revsDiff({ a: [rev(1, 'a'), rev(2, 'b'), rev(3, 'c')] })).toEqual({});
    await db.compact();
    expect(await db.revsDiff({ a: [rev(1, 'a'), rev(2, 'b')] })).toEqual({});
  });

  it('lists missing revisions, with leaves older than the newest missing as possible_ancestors', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')]);
    await writeReplicated(db, 'a', [rev(3, 'b'), rev(2, 'b'), rev(1, '1')]);
    const diff = await db.revsDiff({
      a: [rev(2, 'a'), rev(4, 'c'), rev(5, 'd'), rev(4, 'c')],
      b: [rev(1, 'x')],
    });
    expect(Object.keys(diff).sort()).toEqual(['a', 'b']);
    expect(diff.a!.missing).toEqual([rev(4, 'c'), rev(5, 'd')]);
    expect(diff.a!.possible_ancestors?.sort()).toEqual([rev(2, 'a'), rev(3, 'b')]);
    expect(diff.b).toEqual({ missing: [rev(1, 'x')] });

    // Only leaves of a lower generation than the highest missing one qualify.
    const low = await db.revsDiff({ a: [rev(3, 'e')] });
    expect(low).toEqual({ a: { missing: [rev(3, 'e')], possible_ancestors: [rev(2, 'a')] } });
    const none = await db.revsDiff({ a: [rev(2, 'e')] });
    expect(none).toEqual({ a: { missing: [rev(2, 'e')] } });
  });

  it('deleted leaves can be possible ancestors too', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a' });
    const tomb = await db.remove('a', first.rev);
    expect(await db.revsDiff({ a: [rev(3, 'f')] })).toEqual({
      a: { missing: [rev(3, 'f')], possible_ancestors: [tomb.rev] },
    });
  });

  it('rejects a request that is not an object of arrays', async () => {
    const db = await dbs.open();
    await expectError(db.revsDiff([] as never), 'bad_request');
    await expectError(db.revsDiff({ a: 'x' } as never), 'bad_request');
  });
});

describe('bulkGet', () => {
  async function withHistory(): Promise<Database> {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(1, '1')], { v: 1 });
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(3, 'b'), rev(2, 'b'), rev(1, '1')], { v: 'b' });
    await db.put({ _id: 'z', v: 'z' });
    return db;
  }

  it('returns the named revision, with _revisions when asked', async () => {
    const db = await withHistory();
    const response = await db.bulkGet({ docs: [{ id: 'a', rev: rev(2, 'a') }] }, { revs: true });
    expect(response).toEqual({
      results: [
        {
          id: 'a',
          docs: [
            { ok: { _id: 'a', _rev: rev(2, 'a'), v: 'a', _revisions: { start: 2, ids: [h('a'), h('1')] } } },
          ],
        },
      ],
    });
    const plain = await db.bulkGet({ docs: [{ id: 'a', rev: rev(2, 'a') }] });
    expect(plain.results[0]!.docs).toEqual([{ ok: { _id: 'a', _rev: rev(2, 'a'), v: 'a' } }]);
  });

  it('without rev returns every leaf, deleted ones included', async () => {
    const db = await withHistory();
    const tomb = await db.remove('a', rev(2, 'a'));
    const response = await db.bulkGet({ docs: [{ id: 'a' }] });
    expect(response.results).toHaveLength(1);
    const byRev = (x: Doc, y: Doc) => (x._rev < y._rev ? -1 : 1);
    const docs = response.results[0]!.docs.map((d) => ('ok' in d ? d.ok : (d as unknown as Doc)));
    expect(docs.sort(byRev)).toEqual(
      [
        { _id: 'a', _rev: rev(3, 'b'), v: 'b' },
        { _id: 'a', _rev: tomb.rev, _deleted: true as const },
      ].sort(byRev),
    );
  });

  it('latest turns a non-leaf revision into its leaf', async () => {
    const db = await withHistory();
    const latest = await db.bulkGet({ docs: [{ id: 'a', rev: rev(2, 'b') }] }, { latest: true, revs: true });
    expect(latest.results[0]!.docs).toEqual([
      {
        ok: {
          _id: 'a',
          _rev: rev(3, 'b'),
          v: 'b',
          _revisions: { start: 3, ids: [h('b'), h('b'), h('1')] },
        },
      },
    ]);
    // From the root, latest answers every leaf.
    const fromRoot = await db.bulkGet({ docs: [{ id: 'a', rev: rev(1, '1') }] }, { latest: true });
    expect(fromRoot.results[0]!.docs.map((d) => ('ok' in d ? d.ok._rev : 'error')).sort()).toEqual([
      rev(2, 'a'),
      rev(3, 'b'),
    ]);
    // Without latest, an ancestor whose body is not held is missing.
    const old = await db.bulkGet({ docs: [{ id: 'a', rev: rev(2, 'b') }] });
    expect(old.results[0]!.docs).toEqual([
      { error: { id: 'a', rev: rev(2, 'b'), error: 'not_found', reason: 'missing' } },
    ]);
  });

  it('reports missing revisions and documents in CouchDB shape', async () => {
    const db = await withHistory();
    const response = await db.bulkGet({
      docs: [{ id: 'a', rev: rev(7, 'f') }, { id: 'nope', rev: rev(1, 'a') }, { id: 'nope' }],
    });
    expect(response.results).toEqual([
      { id: 'a', docs: [{ error: { id: 'a', rev: rev(7, 'f'), error: 'not_found', reason: 'missing' } }] },
      {
        id: 'nope',
        docs: [{ error: { id: 'nope', rev: rev(1, 'a'), error: 'not_found', reason: 'missing' } }],
      },
      {
        id: 'nope',
        docs: [{ error: { id: 'nope', rev: 'undefined', error: 'not_found', reason: 'missing' } }],
      },
    ]);
  });

  it('an entry without id is a bad_request entry; the others still answer', async () => {
    const db = await withHistory();
    const response = await db.bulkGet({ docs: [{} as never, { id: 'z' }] });
    expect(response.results).toHaveLength(2);
    const [bad, good] = response.results;
    expect(bad!.docs[0]).toMatchObject({ error: { id: null, error: 'bad_request' } });
    expect(good!.docs[0]).toMatchObject({ ok: { _id: 'z', v: 'z' } });
    await expectError(db.bulkGet({} as never), 'bad_request');
  });

  it('answers one result per entry, in request order, duplicates included', async () => {
    const db = await withHistory();
    const request: BulkGetRequest = {
      docs: [
        { id: 'z' },
        { id: 'a', rev: rev(3, 'b') },
        { id: 'missing' },
        { id: 'a', rev: rev(2, 'a') },
        { id: 'z' },
      ],
    };
    const response = await db.bulkGet(request);
    expect(response.results.map((r) => r.id)).toEqual(['z', 'a', 'missing', 'a', 'z']);
    expect(response.results.map((r) => r.docs.map((d) => ('ok' in d ? d.ok._rev : d.error.error)))).toEqual([
      [(await db.get('z'))._rev],
      [rev(3, 'b')],
      ['not_found'],
      [rev(2, 'a')],
      [(await db.get('z'))._rev],
    ]);
  });
});

/**
 * One-way replication as protocol.md §3.1 describes it, over the Database API: changes
 * (all_docs) → revsDiff → bulkGet (revs, latest) → bulkDocs (newEdits false). Returns how many
 * revisions were written.
 */
async function replicate(source: Database, target: Database, batchSize = 3): Promise<number> {
  let since = 0;
  let written = 0;
  for (;;) {
    const { results, last_seq } = await source.changes({ since, style: 'all_docs', limit: batchSize });
    if (results.length === 0) break;
    const diff = await target.revsDiff(
      Object.fromEntries(results.map((row) => [row.id, row.changes.map((change) => change.rev)])),
    );
    const withAncestors: BulkGetRequest['docs'] = [];
    const fresh: BulkGetRequest['docs'] = [];
    for (const [id, { missing, possible_ancestors }] of Object.entries(diff)) {
      for (const missingRev of missing) {
        if (possible_ancestors) withAncestors.push({ id, rev: missingRev, atts_since: possible_ancestors });
        else fresh.push({ id, rev: missingRev });
      }
    }
    const docs: NewDoc[] = [];
    for (const [entries, attachments] of [
      [withAncestors, false],
      [fresh, true],
    ] as const) {
      if (entries.length === 0) continue;
      const got = await source.bulkGet({ docs: entries }, { revs: true, latest: true, attachments });
      for (const result of got.results) {
        for (const entry of result.docs) {
          expect(entry).toHaveProperty('ok');
          if ('ok' in entry) docs.push(entry.ok);
        }
      }
    }
    if (docs.length > 0) {
      expect(errorsOf(await target.bulkDocs(docs, { newEdits: false }))).toEqual([]);
      written += docs.length;
    }
    since = last_seq;
  }
  return written;
}

/** Everything replication must make equal: every leaf with its history, the winner and conflicts. */
async function state(db: Database) {
  const ids = (await db.changes()).results.map((row) => row.id).sort();
  const docs: Record<string, unknown> = {};
  for (const id of ids) {
    const leaves = okDocs(await db.getOpenRevs(id, 'all', { revs: true }));
    let winner: Doc | string;
    try {
      winner = await db.get(id, { revs: true, conflicts: true, deleted_conflicts: true });
    } catch (err) {
      winner = (err as Error).message;
    }
    docs[id] = { leaves, winner };
  }
  const info = await db.info();
  return { docs, doc_count: info.doc_count, doc_del_count: info.doc_del_count };
}

describe('manual replication between two databases', () => {
  it('ends with identical trees, winners and conflicts on both sides', async () => {
    const a = await dbs.open();
    const b = await dbs.open();

    // Shared history: a writes, b pulls.
    const shared = await a.put({ _id: 'shared', v: 0 });
    const gone = await a.put({ _id: 'gone', v: 0 });
    await a.put({ _id: '_design/app', views: {} });
    await a.put({
      _id: 'withatt',
      _attachments: {
        'f.bin': { content_type: 'application/octet-stream', data: b64(new Uint8Array([0, 1, 2])) },
      },
    });
    await replicate(a, b);
    expect(await state(b)).toEqual(await state(a));

    // Concurrent edits on both sides: a conflict on `shared`, a deletion on one side only.
    await a.put({ _id: 'shared', _rev: shared.rev, v: 'from a' });
    await b.put({ _id: 'shared', _rev: shared.rev, v: 'from b' });
    await b.remove('gone', gone.rev);
    // The same edit on both sides gives the same revision: no conflict.
    await a.put({ _id: 'same', v: 'same' });
    await b.put({ _id: 'same', v: 'same' });
    // A longer branch on b.
    let r = (await b.put({ _id: 'long', n: 0 })).rev;
    for (let n = 1; n < 6; n++) r = (await b.put({ _id: 'long', _rev: r, n })).rev;
    // An attachment edit on a, sent as stubs against an ancestor b holds.
    const att = await a.get('withatt');
    await a.put({
      ...att,
      _attachments: {
        ...att._attachments,
        'g.txt': { content_type: 'text/plain', data: b64('second') },
      },
    });
    for (let i = 0; i < 7; i++) await a.put({ _id: `bulk${i}`, i });

    await replicate(a, b);
    await replicate(b, a);
    const left = await state(a);
    const right = await state(b);
    expect(right).toEqual(left);

    const sharedDoc = await a.get('shared', { conflicts: true });
    expect(sharedDoc._conflicts).toHaveLength(1);
    expect(okRevs(await a.getOpenRevs('same', 'all'))).toHaveLength(1);
    await expectError(a.get('gone'), 'not_found', 'deleted');
    expect((await a.get('long', { revs: true }))._revisions?.ids).toHaveLength(6);
    const bytes = await b.getAttachment('withatt', 'f.bin');
    expect([...bytes.data]).toEqual([0, 1, 2]);
    expect(Buffer.from((await b.getAttachment('withatt', 'g.txt')).data).toString()).toBe('second');

    // Resolve the conflict on b, replicate both ways: converged, conflict gone everywhere.
    const loser = sharedDoc._conflicts![0]!;
    await b.bulkDocs(
      [
        { _id: 'shared', _rev: sharedDoc._rev, v: 'merged' },
        { _id: 'shared', _rev: loser, _deleted: true },
      ],
      { atomic: true },
    );
    await replicate(b, a);
    await replicate(a, b);
    expect(await state(a)).toEqual(await state(b));
    expect((await a.get('shared', { conflicts: true }))._conflicts).toBeUndefined();
    expect(await a.get('shared')).toMatchObject({ v: 'merged' });

    // A further round writes nothing and changes no sequence.
    const seqs = [(await a.info()).update_seq, (await b.info()).update_seq];
    expect(await replicate(a, b)).toBe(0);
    expect(await replicate(b, a)).toBe(0);
    expect([(await a.info()).update_seq, (await b.info()).update_seq]).toEqual(seqs);
  });

  it('re-sending everything without revsDiff is a no-op on the target', async () => {
    const a = await dbs.open();
    const b = await dbs.open();
    const x = await a.put({ _id: 'x', v: 1 });
    await a.put({ _id: 'x', _rev: x.rev, v: 2 });
    await a.put({ _id: 'y', v: 1 });
    await replicate(a, b);
    const seq = (await b.info()).update_seq;
    const everything = await a.bulkGet({ docs: [{ id: 'x' }, { id: 'y' }] }, { revs: true });
    const docs = everything.results.flatMap((r) => r.docs.flatMap((d) => ('ok' in d ? [d.ok] : [])));
    expect(errorsOf(await b.bulkDocs(docs, { newEdits: false }))).toEqual([]);
    expect((await b.info()).update_seq).toBe(seq);
    expect(await state(b)).toEqual(await state(a));
  });
});

describe('malformed revisions', () => {
  it('are refused with 400 Invalid rev format by revsDiff and open_revs, per entry by bulkGet', async () => {
    const db = await dbs.open();
    const { rev: good } = await db.put({ _id: 'a' });
    await expectError(db.revsDiff({ a: [good, 'not-a-rev'] }), 'bad_request', 'Invalid rev format');
    await expectError(db.revsDiff({ a: [42 as unknown as string] }), 'bad_request', 'Invalid rev format');
    await expectError(db.getOpenRevs('a', [good, 'x-1']), 'bad_request', 'Invalid rev format');
    const { results } = await db.bulkGet({
      docs: [
        { id: 'a', rev: 'nope' },
        { id: 'a', rev: good },
      ],
    });
    expect(results[0]!.docs).toEqual([
      { error: { id: 'a', rev: 'nope', error: 'bad_request', reason: 'Invalid rev format' } },
    ]);
    expect(okRevs(results[1]!.docs.flatMap((d) => ('ok' in d ? [{ ok: d.ok }] : [])))).toEqual([good]);
  });
});
