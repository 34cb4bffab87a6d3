import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { NewDoc, WriteOk } from '../../src/core/api.js';
import { newRevisionId } from '../../src/core/rev-hash.js';
import { MAX_GENERATION } from '../../src/core/revision.js';
import type { Database } from '../../src/database/database.js';
import {
  errorsOf,
  expectError,
  genOf,
  h,
  okDocs,
  okRevs,
  replicated,
  rev,
  useTempDatabases,
  writeReplicated,
} from './helpers.js';

const dbs = useTempDatabases();

/** Everything observable about a database's documents, to check that a failed request wrote nothing. */
async function snapshot(db: Database) {
  const info = await db.info();
  const changes = await db.changes({ style: 'all_docs', include_docs: true });
  return { update_seq: info.update_seq, doc_count: info.doc_count, changes };
}

describe('bulkDocs with new edits', () => {
  it('writes the valid documents and reports each conflict in input order', async () => {
    const db = await dbs.open();
    const existing = await db.put({ _id: 'existing', v: 1 });
    const results = await db.bulkDocs([
      { _id: 'new', v: 1 },
      { _id: 'existing', v: 2 },
      { _id: 'existing', _rev: existing.rev, v: 3 },
      { _id: 'stale', _rev: rev(1, 'a') },
      { v: 'no id' },
    ]);
    expect(results).toHaveLength(5);
    expect(results[0]).toMatchObject({ ok: true, id: 'new' });
    expect(results[1]).toMatchObject({
      id: 'existing',
      error: 'conflict',
      reason: 'Document update conflict.',
    });
    expect(results[2]).toMatchObject({ ok: true, id: 'existing' });
    expect(results[3]).toMatchObject({ id: 'stale', error: 'conflict' });
    expect(results[4]).toMatchObject({ ok: true });
    const generated = results[4] as WriteOk;
    expect(generated.id).toMatch(/^[0-9a-f]{32}$/);

    expect(await db.get('new')).toMatchObject({ v: 1 });
    expect(await db.get('existing')).toMatchObject({ _rev: (results[2] as WriteOk).rev, v: 3 });
    expect(await db.get(generated.id)).toMatchObject({ v: 'no id' });
    await expectError(db.get('stale'), 'not_found');
    // One seq per document written: existing (1), then new, existing, generated.
    const info = await db.info();
    expect(info.update_seq).toBe(4);
    expect(info.doc_count).toBe(3);
  });

  it('an empty batch writes nothing', async () => {
    const db = await dbs.open();
    expect(await db.bulkDocs([])).toEqual([]);
    expect((await db.info()).update_seq).toBe(0);
  });

  it('several documents with the same id apply in order: a second create conflicts', async () => {
    const db = await dbs.open();
    const results = await db.bulkDocs([
      { _id: 'd', v: 1 },
      { _id: 'd', v: 2 },
    ]);
    expect(results[0]).toMatchObject({ ok: true, id: 'd' });
    expect(results[1]).toMatchObject({ id: 'd', error: 'conflict' });
    expect(await db.get('d')).toMatchObject({ v: 1 });
    expect((await db.changes()).results).toHaveLength(1);
  });

  it('several documents with the same id: later ones see the earlier ones of the batch', async () => {
    // Revision ids are deterministic, so a scratch database tells the ids in advance.
    const scratch = await dbs.open();
    const r1 = (await scratch.put({ _id: 'd', v: 1 })).rev;
    const r2 = (await scratch.put({ _id: 'd', _rev: r1, v: 2 })).rev;

    const db = await dbs.open();
    const results = await db.bulkDocs([
      { _id: 'd', v: 1 },
      { _id: 'd', _rev: r1, v: 2 },
      { _id: 'd', _rev: r2, v: 3 },
      { _id: 'd', _rev: r1, v: 'stale' },
    ]);
    expect(results.slice(0, 3).map((r) => ('rev' in r ? genOf(r.rev!) : 0))).toEqual([1, 2, 3]);
    expect(results[0]).toMatchObject({ ok: true, rev: r1 });
    expect(results[1]).toMatchObject({ ok: true, rev: r2 });
    expect(results[3]).toMatchObject({ id: 'd', error: 'conflict' });
    const doc = await db.get('d', { revs: true });
    expect(doc).toMatchObject({ v: 3 });
    expect(doc._revisions?.ids).toHaveLength(3);
    // The document appears once in the feed, at one new sequence.
    const changes = await db.changes();
    expect(changes.results).toEqual([{ seq: 1, id: 'd', changes: [{ rev: doc._rev }] }]);
    expect((await db.info()).update_seq).toBe(1);
  });

  it('keeps _replication_* and _access fields in the body', async () => {
    const db = await dbs.open();
    const doc = {
      _id: 'rep',
      source: 'http://a/db',
      _replication_state: 'completed',
      _replication_state_time: '2024-01-01T00:00:00Z',
      _replication_id: 'abc',
      _replication_stats: { docs_written: 3 },
      _access: ['alice'],
    };
    const [result] = await db.bulkDocs([doc]);
    expect(result).toMatchObject({ ok: true });
    expect(await db.get('rep')).toEqual({ ...doc, _rev: (result as WriteOk).rev });
  });

  it('ignores reader-only fields written back (_conflicts, _revs_info, _local_seq, …)', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const read = await db.get('a', { revs_info: true, local_seq: true, conflicts: true });
    const second = await db.put({ ...read, _conflicts: [], _deleted_conflicts: [], v: 2 });
    expect(genOf(second.rev)).toBe(2);
    expect(await db.get('a')).toEqual({ _id: 'a', _rev: second.rev, v: 2 });
    expect(first.rev).not.toBe(second.rev);
  });
});

describe('bulkDocs with atomic: true', () => {
  it('one conflict writes nothing and is thrown', async () => {
    const db = await dbs.open();
    const existing = await db.put({ _id: 'a', v: 1 });
    const before = await snapshot(db);
    await expectError(
      db.bulkDocs(
        [
          { _id: 'b', v: 1 },
          { _id: 'a', _rev: existing.rev, v: 2 },
          { _id: 'a', _rev: existing.rev, v: 'conflicting' },
        ],
        { atomic: true },
      ),
      'conflict',
    );
    expect(await snapshot(db)).toEqual(before);
    await expectError(db.get('b'), 'not_found', 'missing');
    expect(await db.get('a')).toEqual({ _id: 'a', _rev: existing.rev, v: 1 });
    // The revision tree is as before too: the failed edit left no trace, and it can be retried.
    expect(okRevs(await db.getOpenRevs('a', 'all'))).toEqual([existing.rev]);
    expect(await db.revsDiff({ a: [existing.rev] })).toEqual({});
    const retried = await db.put({ _id: 'a', _rev: existing.rev, v: 2 });
    expect((await db.get('a', { revs: true }))._revisions?.ids).toHaveLength(2);
    expect(okRevs(await db.getOpenRevs('a', 'all'))).toEqual([retried.rev]);
  });

  it('a failure writes no _local document of the batch either', async () => {
    const db = await dbs.open();
    const existing = await db.put({ _id: 'a', v: 1 });
    await expectError(
      db.bulkDocs(
        [
          { _id: '_local/cp', seq: 1 },
          { _id: 'a', _rev: rev(1, 'f'), v: 'conflicting' },
        ],
        { atomic: true },
      ),
      'conflict',
    );
    expect(await db.getLocal('_local/cp')).toBeUndefined();
    expect(await db.get('a')).toEqual({ _id: 'a', _rev: existing.rev, v: 1 });
  });

  it('a _local document that fails to be written after the batch committed fails alone', async () => {
    const created = await dbs.open();
    await created.close();
    // The storage's own SQLite refuses that one local document, as a full disk would.
    const file = new BetterSqlite3(dbs.pathOf(created));
    file.exec(`CREATE TRIGGER refuse_local BEFORE INSERT ON local_docs WHEN NEW.id = '_local/refused'
      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`);
    file.close();
    const db = await dbs.reopen(created);
    const controller = new AbortController();
    const feed = db.changesFeed({ live: true, since: 'now', signal: controller.signal });
    const rows = feed[Symbol.asyncIterator]();
    const first = rows.next();
    const results = await db.bulkDocs([
      { _id: 'a', v: 1 },
      { _id: '_local/refused' },
      { _id: '_local/kept' },
    ]);
    expect(results[0]).toMatchObject({ ok: true, id: 'a' });
    expect(results[1]).toMatchObject({ id: '_local/refused', error: expect.any(String) });
    expect(results[1]).not.toHaveProperty('ok');
    expect(results[2]).toEqual({ ok: true, id: '_local/kept', rev: '0-1' });
    // Live feeds hear of the committed document at once, not at the next write.
    expect((await first).value).toMatchObject({ id: 'a', changes: [{ rev: (results[0] as WriteOk).rev }] });
    controller.abort();
    expect(await db.getLocal('_local/refused')).toBeUndefined();
    expect(await db.getLocal('_local/kept')).toMatchObject({ _rev: '0-1' });
    // One document at a time (`put`, an atomic batch), the failure is thrown.
    await expect(db.put({ _id: '_local/refused' })).rejects.toThrow(/refused by the test/);
  });

  it('an invalid document writes nothing and its error is thrown', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a', v: 1 });
    const before = await snapshot(db);
    await expectError(db.bulkDocs([{ _id: 'b' }, { _id: '_nope' }], { atomic: true }), 'illegal_docid');
    await expectError(db.bulkDocs([{ _id: 'b' }, { _id: 'c', _x: 1 }], { atomic: true }), 'doc_validation');
    expect(await snapshot(db)).toEqual(before);
  });

  it('a batch that all succeeds is written, e.g. resolving a conflict in one step', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, '1')], { v: 'b' });
    const results = await db.bulkDocs(
      [
        { _id: 'a', _rev: rev(2, 'b'), v: 'merged' },
        { _id: 'a', _rev: rev(2, 'a'), _deleted: true },
      ],
      { atomic: true },
    );
    expect(errorsOf(results)).toEqual([]);
    const doc = await db.get('a', { conflicts: true, deleted_conflicts: true });
    expect(doc).toMatchObject({ v: 'merged', _deleted_conflicts: [(results[1] as WriteOk).rev] });
    expect(doc._conflicts).toBeUndefined();
  });
});

describe('bad input', () => {
  const cases: [string, NewDoc, string, string | RegExp | undefined][] = [
    [
      'an id with a leading underscore',
      { _id: '_foo' },
      'illegal_docid',
      'Only reserved document ids may start with underscore.',
    ],
    [
      'an unknown special field',
      { _id: 'a', _bad: 1 },
      'doc_validation',
      'Bad special document member: _bad',
    ],
    ['a malformed _rev', { _id: 'a', _rev: 'nonsense' }, 'bad_request', 'Invalid rev format'],
    ['a generation-0 _rev', { _id: 'a', _rev: `0-${h('a')}` }, 'bad_request', undefined],
    ['a non-boolean _deleted', { _id: 'a', _deleted: 'yes' as never }, 'doc_validation', undefined],
    [
      'an _attachments that is not an object',
      { _id: 'a', _attachments: [] as never },
      'bad_request',
      undefined,
    ],
    ['an attachment without data or stub', { _id: 'a', _attachments: { f: {} } }, 'bad_request', undefined],
    [
      'an attachment name starting with _',
      { _id: 'a', _attachments: { _f: { data: '' } } },
      'bad_request',
      /prohibited/,
    ],
    ['a non-string id', { _id: 5 as never }, 'illegal_docid', 'Document id must be a string'],
    ['an empty id', { _id: '' }, 'illegal_docid', 'Document id must not be empty'],
  ];

  // One invalid document refuses the whole batch, valid neighbours included: CouchDB's
  // `_bulk_docs` validates every document before writing any (chttpd_db.erl, db_req for
  // _bulk_docs: couch_db:doc_from_json_obj_validate throws out of the lists:map), and PouchDB's
  // bulkDocs fails the whole call on a document parseDoc refuses.
  for (const [what, doc, error, reason] of cases) {
    it(`${what} → ${error}, nothing written`, async () => {
      const db = await dbs.open();
      const before = await snapshot(db);
      await expectError(db.put(doc), error as never, reason);
      await expectError(db.bulkDocs([{ _id: 'valid' }, doc, { _id: 'also-valid' }]), error as never, reason);
      expect(await snapshot(db)).toEqual(before);
    });
  }

  it('a document that is not an object refuses the batch', async () => {
    const db = await dbs.open();
    const before = await snapshot(db);
    await expectError(db.bulkDocs(['nope' as never, { _id: 'ok' }]), 'bad_request');
    await expectError(db.bulkDocs([{ _id: 'ok' }, null as never]), 'bad_request');
    expect(await snapshot(db)).toEqual(before);
  });

  it('docs that are not an array is a bad_request', async () => {
    const db = await dbs.open();
    await expectError(db.bulkDocs({} as never), 'bad_request');
    await expectError(db.put(undefined as never), 'bad_request');
  });
});

describe('bulkDocs with newEdits: false', () => {
  it('merges _revisions paths into the tree, creating conflicts', async () => {
    const db = await dbs.open();
    const results = await db.bulkDocs(
      [
        replicated('a', [rev(2, 'a'), rev(1, '1')], { v: 'a' }),
        replicated('a', [rev(3, 'b'), rev(2, 'b'), rev(1, '1')], { v: 'b' }),
        replicated('b', [rev(1, 'f')], { v: 'only' }),
      ],
      { newEdits: false },
    );
    expect(errorsOf(results)).toEqual([]);
    expect(await db.get('a', { conflicts: true, revs: true })).toEqual({
      _id: 'a',
      _rev: rev(3, 'b'),
      v: 'b',
      _conflicts: [rev(2, 'a')],
      _revisions: { start: 3, ids: [h('b'), h('b'), h('1')] },
    });
    expect(okRevs(await db.getOpenRevs('a', 'all'))).toEqual([rev(2, 'a'), rev(3, 'b')]);
    expect(await db.get('b')).toEqual({ _id: 'b', _rev: rev(1, 'f'), v: 'only' });
    // Both writes of `a` were in one batch: one change per document.
    expect((await db.changes()).results.map((r) => r.id)).toEqual(['a', 'b']);
  });

  it('extends a locally written revision without a conflict', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    await writeReplicated(db, 'a', [rev(3, 'c'), rev(2, 'c'), first.rev], { v: 3 });
    const doc = await db.get('a', { conflicts: true, revs_info: true });
    expect(doc._rev).toBe(rev(3, 'c'));
    expect(doc._conflicts).toBeUndefined();
    expect(doc._revs_info).toEqual([
      { rev: rev(3, 'c'), status: 'available' },
      { rev: rev(2, 'c'), status: 'missing' },
      { rev: first.rev, status: 'available' },
    ]);
  });

  it('a path that shares no node with the tree becomes a second branch', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, 'a')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, 'b')], { v: 'b' });
    // A bare _rev is a one-node path: without ancestry it is a root of its own.
    await db.bulkDocs([{ _id: 'a', _rev: rev(2, '0'), v: 'bare' }], { newEdits: false });
    expect(okRevs(await db.getOpenRevs('a', 'all'))).toEqual([rev(2, '0'), rev(2, 'a'), rev(2, 'b')]);
    expect((await db.get('a', { conflicts: true }))._conflicts).toEqual([rev(2, 'a'), rev(2, '0')]);
    expect((await db.get('a', { rev: rev(2, '0'), revs: true }))._revisions).toEqual({
      start: 2,
      ids: [h('0')],
    });
  });

  it('re-sending a known revision is a no-op: no new sequence, body ignored', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')], { v: 'original' });
    await writeReplicated(db, 'b', [rev(1, 'b')], { v: 'b' });
    const before = await snapshot(db);
    const results = await db.bulkDocs(
      [
        replicated('a', [rev(2, 'a'), rev(1, '1')], { v: 'changed' }),
        replicated('a', [rev(1, '1')], { v: 'ancestor' }),
        { _id: 'b', _rev: rev(1, 'b'), v: 'changed' },
      ],
      { newEdits: false },
    );
    expect(errorsOf(results)).toEqual([]);
    expect(await snapshot(db)).toEqual(before);
    expect(await db.get('a')).toMatchObject({ v: 'original' });
    // A known internal node without a body stays without one.
    await expectError(db.get('a', { rev: rev(1, '1') }), 'not_found', 'missing');
  });

  it('writes deletions and the tombstone can win', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(1, '1')], { v: 1 });
    await db.bulkDocs([{ ...replicated('a', [rev(2, 'd'), rev(1, '1')]), _deleted: true }], {
      newEdits: false,
    });
    await expectError(db.get('a'), 'not_found', 'deleted');
    expect(await db.get('a', { rev: rev(2, 'd') })).toEqual({ _id: 'a', _rev: rev(2, 'd'), _deleted: true });
    const info = await db.info();
    expect(info.doc_count).toBe(0);
    expect(info.doc_del_count).toBe(1);
  });

  it('a live conflict beats a deleted higher generation', async () => {
    const db = await dbs.open();
    await db.bulkDocs(
      [
        { ...replicated('a', [rev(3, 'd'), rev(2, 'd'), rev(1, '1')]), _deleted: true },
        replicated('a', [rev(2, '0'), rev(1, '1')], { v: 'live' }),
      ],
      { newEdits: false },
    );
    expect(await db.get('a', { deleted_conflicts: true })).toEqual({
      _id: 'a',
      _rev: rev(2, '0'),
      v: 'live',
      _deleted_conflicts: [rev(3, 'd')],
    });
  });

  it('a document without _rev or _revisions fails the whole request and writes nothing', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'x' });
    const before = await snapshot(db);
    await expectError(
      db.bulkDocs([replicated('a', [rev(1, 'a')]), { _id: 'b', v: 1 }], { newEdits: false }),
      'bad_request',
      'When `new_edits: false`, the document needs `_rev` or `_revisions` specified',
    );
    expect(await snapshot(db)).toEqual(before);
    await expectError(db.get('a'), 'not_found', 'missing');
  });

  it('accepts _revisions without _rev, and writes by _revisions when _rev disagrees', async () => {
    const db = await dbs.open();
    const doc = replicated('a', [rev(2, 'b'), rev(1, 'a')], { v: 1 });
    const { _rev: _dropped, ...withoutRev } = doc;
    expect(errorsOf(await db.bulkDocs([withoutRev], { newEdits: false }))).toEqual([]);
    expect((await db.get('a'))._rev).toBe(rev(2, 'b'));

    // CouchDB ignores `_rev` once `_revisions` named the revision (couch_doc.erl,
    // transfer_fields: "we already got the rev from the _revisions"); PouchDB sends such docs.
    const disagreeing = { ...replicated('c', [rev(2, 'b'), rev(1, 'a')], { v: 'c' }), _rev: rev(2, 'c') };
    expect(errorsOf(await db.bulkDocs([disagreeing], { newEdits: false }))).toEqual([]);
    expect(await db.get('c', { revs: true })).toEqual({
      _id: 'c',
      _rev: rev(2, 'b'),
      v: 'c',
      _revisions: { start: 2, ids: [h('b'), h('a')] },
    });
    expect(okRevs(await db.getOpenRevs('c', 'all'))).toEqual([rev(2, 'b')]);

    const before = await snapshot(db);
    await expectError(
      db.put({ _id: 'c', _revisions: { start: 1, ids: [h('a'), h('b')] } }, { newEdits: false }),
      'bad_request',
    );
    expect(await snapshot(db)).toEqual(before);
  });

  it('routes _local documents to local storage, never into a revision tree', async () => {
    const db = await dbs.open();
    const results = await db.bulkDocs([{ _id: '_local/cp', seq: 1 }, replicated('a', [rev(1, 'a')])], {
      newEdits: false,
    });
    expect(errorsOf(results)).toEqual([]);
    expect(await db.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-1', seq: 1 });
    expect((await db.changes()).results.map((r) => r.id)).toEqual(['a']);
    expect((await db.info()).doc_count).toBe(1);
  });

  it('routes a _local document with its 0-N revision to local storage', async () => {
    const db = await dbs.open();
    await db.putLocal({ _id: '_local/cp', seq: 1 });
    const results = await db.bulkDocs([{ _id: '_local/cp', _rev: '0-1', seq: 2 }], { newEdits: false });
    expect(errorsOf(results)).toEqual([]);
    expect(await db.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-2', seq: 2 });
  });

  it('the result reports every replicated document as written', async () => {
    const db = await dbs.open();
    const results = await db.bulkDocs([replicated('a', [rev(1, 'a')]), replicated('b', [rev(1, 'b')])], {
      newEdits: false,
    });
    expect(results).toEqual([
      { ok: true, id: 'a', rev: rev(1, 'a') },
      { ok: true, id: 'b', rev: rev(1, 'b') },
    ]);
    expect(okDocs(await db.getOpenRevs('b', 'all'))).toEqual([{ _id: 'b', _rev: rev(1, 'b') }]);
  });
});

// A batch's revisions are hashed while its trees are read (`WriteBatch.prehash`), on the guess
// that each document extends its `_rev` (or is new). These check the guess is only ever used
// where it holds: the revision is always the one its true parent gives.
describe('bulkDocs with revisions hashed ahead of the trees', () => {
  it('gives a new document, an edit and a re-created deleted document the revisions of their parents', async () => {
    const db = await dbs.open();
    const edited = await db.put({ _id: 'edited', v: 1 });
    const removed = await db.put({ _id: 'recreated', v: 1 });
    const tombstone = await db.remove('recreated', removed.rev);
    const results = await db.bulkDocs([
      { _id: 'new', v: 2 },
      { _id: 'edited', _rev: edited.rev, v: 2 },
      // No `_rev`: its parent is the winning tombstone, which only the read of its tree shows.
      { _id: 'recreated', v: 2 },
    ]);
    const expected = (parentRev: string | null) =>
      newRevisionId({ deleted: false, parentRev, body: { v: 2 }, attachments: [] });
    expect(results).toEqual([
      { ok: true, id: 'new', rev: expected(null) },
      { ok: true, id: 'edited', rev: expected(edited.rev) },
      { ok: true, id: 'recreated', rev: expected(tombstone.rev) },
    ]);
    for (const { id, rev: written } of results as WriteOk[])
      expect(await db.get(id)).toEqual({ _id: id, _rev: written, v: 2 });
  });

  it('fails alone a document whose `_rev` is at the last generation, writing its neighbours', async () => {
    const db = await dbs.open();
    // Its child's generation cannot be computed ahead; the tree then shows `_rev` is no leaf of
    // the document: a conflict of that document, as for any unknown `_rev` (chttpd_db.erl
    // `update_doc_result_to_json` reports it per document).
    const results = await db.bulkDocs([
      { _id: 'a', v: 1 },
      { _id: 'b', _rev: `${MAX_GENERATION}-${h('b')}`, v: 1 },
    ]);
    expect(results[0]).toMatchObject({ ok: true, id: 'a' });
    expect(results[1]).toMatchObject({ id: 'b', error: 'conflict' });
    expect((await db.info()).doc_count).toBe(1);
  });
});
