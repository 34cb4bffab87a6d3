import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  expectError,
  genOf,
  h,
  hashOf,
  okDocs,
  okRevs,
  rev,
  useTempDatabases,
  writeReplicated,
} from './helpers.js';

const dbs = useTempDatabases();
const REV = /^[1-9][0-9]*-[0-9a-f]{32}$/;

describe('put, get and remove', () => {
  it('creates a document at generation 1 and reads it back with its body in the order written', async () => {
    const db = await dbs.open();
    const result = await db.put({ _id: 'apple', price: 3, color: 'red', tags: ['a', 'b'] });
    expect(result.ok).toBe(true);
    expect(result.id).toBe('apple');
    expect(result.rev).toMatch(REV);
    expect(genOf(result.rev)).toBe(1);

    const doc = await db.get('apple');
    expect(doc).toEqual({ _id: 'apple', _rev: result.rev, price: 3, color: 'red', tags: ['a', 'b'] });
    expect(Object.keys(doc)).toEqual(['_id', '_rev', 'price', 'color', 'tags']);
  });

  it('updates a document as a child of the given revision', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'apple', price: 3 });
    const second = await db.put({ _id: 'apple', _rev: first.rev, price: 4 });
    expect(genOf(second.rev)).toBe(2);
    expect(second.rev).not.toBe(first.rev);
    const doc = await db.get('apple', { revs: true });
    expect(doc).toMatchObject({ _id: 'apple', _rev: second.rev, price: 4 });
    expect(doc._revisions).toEqual({ start: 2, ids: [hashOf(second.rev), hashOf(first.rev)] });
  });

  it('post generates a 32-hex id', async () => {
    const db = await dbs.open();
    const result = await db.post({ fruit: 'kiwi' });
    expect(result.id).toMatch(/^[0-9a-f]{32}$/);
    expect(await db.get(result.id)).toEqual({ _id: result.id, _rev: result.rev, fruit: 'kiwi' });
  });

  it('rejects a stale revision with 409 conflict and keeps the current one', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const second = await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    const error = await expectError(db.put({ _id: 'a', _rev: first.rev, v: 3 }), 'conflict');
    expect(error.status).toBe(409);
    expect(error.reason).toBe('Document update conflict.');
    expect(await db.get('a')).toEqual({ _id: 'a', _rev: second.rev, v: 2 });
    expect((await db.info()).update_seq).toBe(2);
  });

  it('rejects a write without _rev on a live document', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a', v: 1 });
    await expectError(db.put({ _id: 'a', v: 2 }), 'conflict', 'Document update conflict.');
  });

  it('rejects a _rev on a document that does not exist', async () => {
    const db = await dbs.open();
    await expectError(db.put({ _id: 'ghost', _rev: rev(1, 'a'), v: 1 }), 'conflict');
    await expectError(db.get('ghost'), 'not_found', 'missing');
    expect((await db.info()).update_seq).toBe(0);
  });

  it('rejects a _rev that is in the tree but is not a leaf', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    await expectError(db.put({ _id: 'a', _rev: first.rev, v: 3 }), 'conflict');
    await expectError(db.put({ _id: 'a', _rev: rev(2, 'f'), v: 3 }), 'conflict');
  });

  it('remove writes a tombstone; get then answers 404 deleted, an unknown id 404 missing', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const removed = await db.remove('a', first.rev);
    expect(removed).toMatchObject({ ok: true, id: 'a' });
    expect(genOf(removed.rev)).toBe(2);
    const deleted = await expectError(db.get('a'), 'not_found', 'deleted');
    expect(deleted.status).toBe(404);
    await expectError(db.get('nope'), 'not_found', 'missing');
    // The tombstone itself is readable by revision.
    expect(await db.get('a', { rev: removed.rev })).toEqual({ _id: 'a', _rev: removed.rev, _deleted: true });
  });

  it('remove with a stale revision is a conflict', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    await expectError(db.remove('a', first.rev), 'conflict');
    expect(await db.get('a')).toMatchObject({ v: 2 });
  });

  it('a put with _deleted: true is a deletion', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const removed = await db.put({ _id: 'a', _rev: first.rev, _deleted: true });
    await expectError(db.get('a'), 'not_found', 'deleted');
    expect((await db.getOpenRevs('a', 'all')).map((r) => ('ok' in r ? r.ok : r))).toEqual([
      { _id: 'a', _rev: removed.rev, _deleted: true },
    ]);
  });

  it('recreating a deleted document continues the tombstone branch (gen + 1, not a new 1- root)', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const removed = await db.remove('a', first.rev);
    const recreated = await db.put({ _id: 'a', v: 'again' });
    expect(genOf(recreated.rev)).toBe(3);

    const doc = await db.get('a', { revs: true, revs_info: true, conflicts: true, deleted_conflicts: true });
    expect(doc).toMatchObject({ _id: 'a', _rev: recreated.rev, v: 'again' });
    expect(doc._revisions).toEqual({
      start: 3,
      ids: [hashOf(recreated.rev), hashOf(removed.rev), hashOf(first.rev)],
    });
    expect(doc._revs_info).toEqual([
      { rev: recreated.rev, status: 'available' },
      { rev: removed.rev, status: 'deleted' },
      { rev: first.rev, status: 'available' },
    ]);
    expect(doc._conflicts).toBeUndefined();
    expect(doc._deleted_conflicts).toBeUndefined();
    expect(okRevs(await db.getOpenRevs('a', 'all'))).toEqual([recreated.rev]);
    const info = await db.info();
    expect(info.doc_count).toBe(1);
    expect(info.doc_del_count).toBe(0);
  });

  it('an edit naming the tombstone while the document is deleted is a conflict (CouchDB)', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const removed = await db.remove('a', first.rev);
    await expectError(db.put({ _id: 'a', _rev: removed.rev, v: 2 }), 'conflict');
  });

  it('a deleted document can be created directly as a tombstone', async () => {
    const db = await dbs.open();
    const result = await db.put({ _id: 'a', _deleted: true });
    expect(genOf(result.rev)).toBe(1);
    await expectError(db.get('a'), 'not_found', 'deleted');
    const info = await db.info();
    expect(info.doc_count).toBe(0);
    expect(info.doc_del_count).toBe(1);
  });

  it('rejects ids that start with an underscore unless reserved', async () => {
    const db = await dbs.open();
    await expectError(
      db.put({ _id: '_foo' }),
      'illegal_docid',
      'Only reserved document ids may start with underscore.',
    );
    await expectError(db.get('_foo'), 'illegal_docid');
    await expectError(db.put({ _id: '_design/' }), 'illegal_docid');
    await expectError(db.put({ _id: '' }), 'illegal_docid', 'Document id must not be empty');
    expect((await db.info()).update_seq).toBe(0);
  });

  it('local_seq reports the document update sequence', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    await db.put({ _id: 'b' });
    expect((await db.get('a', { local_seq: true }))._local_seq).toBe(1);
    expect((await db.get('b', { local_seq: true }))._local_seq).toBe(2);
  });
});

describe('deterministic revision ids', () => {
  it('the same edit on two separate databases gives the same revision', async () => {
    const one = await dbs.open();
    const two = await dbs.open();
    const a1 = await one.put({ _id: 'doc', b: 1, a: { y: 2, x: 1 } });
    // Key order does not matter to Settee's hash (canonical JSON).
    const a2 = await two.put({ a: { x: 1, y: 2 }, _id: 'doc', b: 1 });
    expect(a2.rev).toBe(a1.rev);

    const b1 = await one.put({ _id: 'doc', _rev: a1.rev, b: 2 });
    const b2 = await two.put({ _id: 'doc', _rev: a2.rev, b: 2 });
    expect(b2.rev).toBe(b1.rev);

    const c1 = await one.remove('doc', b1.rev);
    const c2 = await two.remove('doc', b2.rev);
    expect(c2.rev).toBe(c1.rev);

    const d1 = await one.put({ _id: 'doc', back: true });
    const d2 = await two.put({ _id: 'doc', back: true });
    expect(d2.rev).toBe(d1.rev);
  });

  it('the id does not enter the hash, but content, parent and deletion do', async () => {
    const db = await dbs.open();
    const x = await db.put({ _id: 'x', v: 1 });
    const y = await db.put({ _id: 'y', v: 1 });
    const z = await db.put({ _id: 'z', v: 2 });
    expect(y.rev).toBe(x.rev);
    expect(z.rev).not.toBe(x.rev);
    const xDeleted = await db.put({ _id: 'x', _rev: x.rev, _deleted: true, v: 1 });
    const yEdited = await db.put({ _id: 'y', _rev: y.rev, v: 1 });
    expect(xDeleted.rev).not.toBe(yEdited.rev);
  });

  it('follows protocol.md §1.8: md5 of canonical [deleted, parentRev, body, attachments]', async () => {
    const db = await dbs.open();
    const md5 = (text: string) => createHash('md5').update(text).digest('hex');
    const first = await db.put({ _id: 'a', b: 1, a: 2 });
    expect(first.rev).toBe(`1-${md5('[false,null,{"a":2,"b":1},[]]')}`);
    const second = await db.remove('a', first.rev);
    expect(second.rev).toBe(`2-${md5(`[true,"${first.rev}",{},[]]`)}`);
  });
});

describe('reading revisions', () => {
  it('get with rev reads an older (non-leaf) revision and a tombstone', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const second = await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    const third = await db.remove('a', second.rev);
    expect(await db.get('a', { rev: first.rev })).toEqual({ _id: 'a', _rev: first.rev, v: 1 });
    expect(await db.get('a', { rev: second.rev, revs: true })).toEqual({
      _id: 'a',
      _rev: second.rev,
      v: 2,
      _revisions: { start: 2, ids: [hashOf(second.rev), hashOf(first.rev)] },
    });
    expect(await db.get('a', { rev: third.rev })).toEqual({ _id: 'a', _rev: third.rev, _deleted: true });
    await expectError(db.get('a', { rev: rev(2, 'e') }), 'not_found', 'missing');
    await expectError(db.get('zzz', { rev: first.rev }), 'not_found', 'missing');
  });

  it('revs_info lists the path of the returned revision with statuses', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const second = await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    const third = await db.put({ _id: 'a', _rev: second.rev, v: 3 });
    expect((await db.get('a', { revs_info: true }))._revs_info).toEqual([
      { rev: third.rev, status: 'available' },
      { rev: second.rev, status: 'available' },
      { rev: first.rev, status: 'available' },
    ]);
    expect((await db.get('a', { rev: second.rev, revs_info: true }))._revs_info).toEqual([
      { rev: second.rev, status: 'available' },
      { rev: first.rev, status: 'available' },
    ]);
    await db.compact();
    expect((await db.get('a', { revs_info: true }))._revs_info).toEqual([
      { rev: third.rev, status: 'available' },
      { rev: second.rev, status: 'missing' },
      { rev: first.rev, status: 'missing' },
    ]);
  });

  it('revisions known only by id (replicated ancestry) are missing in revs_info', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(3, 'c'), rev(2, 'b'), rev(1, 'a')], { v: 3 });
    expect(await db.get('a', { revs: true, revs_info: true })).toEqual({
      _id: 'a',
      _rev: rev(3, 'c'),
      v: 3,
      _revisions: { start: 3, ids: [h('c'), h('b'), h('a')] },
      _revs_info: [
        { rev: rev(3, 'c'), status: 'available' },
        { rev: rev(2, 'b'), status: 'missing' },
        { rev: rev(1, 'a'), status: 'missing' },
      ],
    });
    await expectError(db.get('a', { rev: rev(2, 'b') }), 'not_found', 'missing');
  });
});

describe('conflicts', () => {
  /** `a` with root 1-1 and three live leaves 2-a, 2-b, 2-c (2-c wins on hash). */
  async function conflicted() {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(1, '1')], { v: 'root' });
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(2, 'c'), rev(1, '1')], { v: 'c' });
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, '1')], { v: 'b' });
    return db;
  }

  it('the winner is the greatest hash among leaves of the highest generation', async () => {
    const db = await conflicted();
    const doc = await db.get('a', { conflicts: true });
    expect(doc).toEqual({ _id: 'a', _rev: rev(2, 'c'), v: 'c', _conflicts: [rev(2, 'b'), rev(2, 'a')] });
    // Without the option, no _conflicts.
    expect(await db.get('a')).toEqual({ _id: 'a', _rev: rev(2, 'c'), v: 'c' });
    // A loser is readable by revision, without conflicts of its own.
    expect(await db.get('a', { rev: rev(2, 'a'), conflicts: true })).toEqual({
      _id: 'a',
      _rev: rev(2, 'a'),
      v: 'a',
    });
  });

  it('an edit of a losing leaf is allowed; a higher generation then wins', async () => {
    const db = await conflicted();
    const edited = await db.put({ _id: 'a', _rev: rev(2, 'a'), v: 'a2' });
    expect(genOf(edited.rev)).toBe(3);
    const doc = await db.get('a', { conflicts: true });
    expect(doc._rev).toBe(edited.rev);
    expect(doc._conflicts).toEqual([rev(2, 'c'), rev(2, 'b')]);
  });

  it('deleting the winner promotes another live leaf; deleted leaves go to _deleted_conflicts', async () => {
    const db = await conflicted();
    const tomb = await db.remove('a', rev(2, 'c'));
    expect(genOf(tomb.rev)).toBe(3);
    // A live leaf beats a deleted one of a higher generation.
    let doc = await db.get('a', { conflicts: true, deleted_conflicts: true });
    expect(doc._rev).toBe(rev(2, 'b'));
    expect(doc._conflicts).toEqual([rev(2, 'a')]);
    expect(doc._deleted_conflicts).toEqual([tomb.rev]);
    expect((await db.info()).doc_count).toBe(1);

    const tomb2 = await db.remove('a', rev(2, 'b'));
    doc = await db.get('a', { conflicts: true, deleted_conflicts: true });
    expect(doc._rev).toBe(rev(2, 'a'));
    expect(doc._conflicts).toBeUndefined();
    // Descending winner order: both tombstones are generation 3; the greater hash first.
    expect(doc._deleted_conflicts).toEqual([tomb.rev, tomb2.rev].sort().reverse());

    const tomb3 = await db.remove('a', rev(2, 'a'));
    await expectError(db.get('a'), 'not_found', 'deleted');
    const info = await db.info();
    expect(info.doc_count).toBe(0);
    expect(info.doc_del_count).toBe(1);
    // The deleted document's winner is the greatest tombstone.
    const winner = [tomb.rev, tomb2.rev, tomb3.rev].sort().reverse()[0]!;
    const all = await db.getOpenRevs('a', 'all');
    expect(okRevs(all)).toEqual([tomb.rev, tomb2.rev, tomb3.rev].sort());
    expect(okDocs(all).every((d) => d._deleted === true)).toBe(true);
    expect((await db.get('a', { rev: winner, deleted_conflicts: true }))._deleted_conflicts).toHaveLength(2);
  });

  it('an edit of a deleted leaf while the document is live revives that branch', async () => {
    const db = await conflicted();
    const tomb = await db.remove('a', rev(2, 'c'));
    const revived = await db.put({ _id: 'a', _rev: tomb.rev, v: 'revived' });
    expect(genOf(revived.rev)).toBe(4);
    const doc = await db.get('a', { conflicts: true, deleted_conflicts: true, revs: true });
    expect(doc._rev).toBe(revived.rev);
    expect(doc._conflicts).toEqual([rev(2, 'b'), rev(2, 'a')]);
    expect(doc._deleted_conflicts).toBeUndefined();
    expect(doc._revisions).toEqual({
      start: 4,
      ids: [hashOf(revived.rev), hashOf(tomb.rev), h('c'), h('1')],
    });
  });

  it('conflicts are listed only when the option asks for them', async () => {
    const db = await conflicted();
    await db.remove('a', rev(2, 'a'));
    const doc = await db.get('a', { deleted_conflicts: true });
    expect(doc._conflicts).toBeUndefined();
    expect(doc._deleted_conflicts).toHaveLength(1);
  });
});

describe('open_revs', () => {
  it("'all' returns every leaf, deleted ones included", async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, '1')], { v: 'b' });
    const tomb = await db.remove('a', rev(2, 'a'));
    const results = await db.getOpenRevs('a', 'all', { revs: true });
    expect(okDocs(results)).toEqual(
      [
        {
          _id: 'a',
          _rev: rev(2, 'b'),
          v: 'b',
          _revisions: { start: 2, ids: [h('b'), h('1')] },
        },
        {
          _id: 'a',
          _rev: tomb.rev,
          _deleted: true,
          _revisions: { start: 3, ids: [hashOf(tomb.rev), h('a'), h('1')] },
        },
      ].sort((x, y) => (x._rev < y._rev ? -1 : 1)),
    );
  });

  it('a list returns one answer per revision, in order, missing ones reported', async () => {
    const db = await dbs.open();
    const first = await db.put({ _id: 'a', v: 1 });
    const second = await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    const results = await db.getOpenRevs('a', [second.rev, rev(9, 'f'), first.rev]);
    expect(results).toEqual([
      { ok: { _id: 'a', _rev: second.rev, v: 2 } },
      { missing: rev(9, 'f') },
      { ok: { _id: 'a', _rev: first.rev, v: 1 } },
    ]);
  });

  it('latest replaces a non-leaf by the leaves descending from it', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(3, 'a'), rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, '1')], { v: 'b' });
    const fromRoot = await db.getOpenRevs('a', [rev(1, '1')], { latest: true });
    expect(okRevs(fromRoot)).toEqual([rev(2, 'b'), rev(3, 'a')]);
    const fromMiddle = await db.getOpenRevs('a', [rev(2, 'a')], { latest: true });
    expect(fromMiddle).toEqual([{ ok: { _id: 'a', _rev: rev(3, 'a'), v: 'a' } }]);
    // Without latest, the body of a replicated ancestor is not held.
    expect(await db.getOpenRevs('a', [rev(2, 'a')])).toEqual([{ missing: rev(2, 'a') }]);
    // get with rev + latest answers the leaf.
    expect((await db.get('a', { rev: rev(2, 'a'), latest: true }))._rev).toBe(rev(3, 'a'));
    // latest on a leaf is the leaf itself.
    expect(okRevs(await db.getOpenRevs('a', [rev(2, 'b')], { latest: true }))).toEqual([rev(2, 'b')]);
  });

  it('an unknown document: all → 404 missing, a list → every rev missing', async () => {
    const db = await dbs.open();
    await expectError(db.getOpenRevs('nope', 'all'), 'not_found', 'missing');
    expect(await db.getOpenRevs('nope', [rev(1, 'a')])).toEqual([{ missing: rev(1, 'a') }]);
  });
});

describe('design documents', () => {
  it('are stored, read, listed, counted and in the changes feed like any document', async () => {
    const db = await dbs.open();
    const ddoc = { _id: '_design/x', views: { all: { map: 'function (doc) { emit(doc._id); }' } } };
    const result = await db.put(ddoc);
    await db.put({ _id: 'a' });
    await db.put({ _id: 'Z' });
    expect(await db.get('_design/x')).toEqual({ ...ddoc, _rev: result.rev });
    const all = await db.allDocs();
    expect(all.rows.map((row) => row.id)).toEqual(['Z', '_design/x', 'a']);
    expect(all.total_rows).toBe(3);
    expect((await db.info()).doc_count).toBe(3);
    const changes = await db.changes();
    expect(changes.results.map((row) => row.id)).toEqual(['_design/x', 'a', 'Z']);
    const updated = await db.put({ ...ddoc, _rev: result.rev, language: 'javascript' });
    expect(genOf(updated.rev)).toBe(2);
    await db.remove('_design/x', updated.rev);
    await expectError(db.get('_design/x'), 'not_found', 'deleted');
  });
});

describe('info', () => {
  it('counts live and deleted documents and the update sequence', async () => {
    const db = await dbs.open({ name: 'shop' });
    const empty = await db.info();
    expect(empty).toMatchObject({
      db_name: 'shop',
      doc_count: 0,
      doc_del_count: 0,
      update_seq: 0,
      purge_seq: 0,
    });
    expect(empty.instance_start_time).toMatch(/^\d+$/);
    expect(empty.uuid).toMatch(/^[0-9a-f]{32}$/);
    expect(empty.sizes.file).toBeGreaterThan(0);
    expect(empty.sizes.active).toBeGreaterThan(0);
    expect(empty.sizes.active).toBeLessThanOrEqual(empty.sizes.file);

    const a = await db.put({ _id: 'a' });
    await db.put({ _id: 'b' });
    await db.remove('a', a.rev);
    const info = await db.info();
    expect(info).toMatchObject({ doc_count: 1, doc_del_count: 1, update_seq: 3 });
    expect(db.updateSeq()).toBe(3);
    // A failed write changes nothing.
    await expectError(db.put({ _id: 'b', v: 2 }), 'conflict');
    expect((await db.info()).update_seq).toBe(3);
  });

  it('keeps uuid, instance_start_time, counts and update_seq across close and reopen', async () => {
    const db = await dbs.open();
    const a = await db.put({ _id: 'a' });
    await db.put({ _id: 'b' });
    await db.remove('a', a.rev);
    const before = await db.info();
    const reopened = await dbs.reopen(db);
    const after = await reopened.info();
    expect(after.uuid).toBe(before.uuid);
    expect(after.instance_start_time).toBe(before.instance_start_time);
    expect(after).toMatchObject({ doc_count: 1, doc_del_count: 1, update_seq: 3 });
    // Writing continues the sequence.
    await reopened.put({ _id: 'c' });
    expect((await reopened.info()).update_seq).toBe(4);
    expect((await reopened.changes({ since: 3 })).results.map((r) => [r.id, r.seq])).toEqual([['c', 4]]);
  });

  it('two databases have different uuids', async () => {
    const one = await dbs.open();
    const two = await dbs.open();
    expect((await one.info()).uuid).not.toBe((await two.info()).uuid);
  });
});

describe('revs_limit', () => {
  it('defaults to 1000, is per database and persists across reopen', async () => {
    const db = await dbs.open();
    const other = await dbs.open({ revsLimit: 7 });
    expect(db.getRevsLimit()).toBe(1000);
    expect((await db.info()).revs_limit).toBe(1000);
    expect(other.getRevsLimit()).toBe(7);

    await db.setRevsLimit(42);
    expect(db.getRevsLimit()).toBe(42);
    expect(other.getRevsLimit()).toBe(7);
    const reopened = await dbs.reopen(db);
    expect(reopened.getRevsLimit()).toBe(42);
    // The option only applies to a new database: an existing one keeps its own.
    const again = await dbs.reopen(reopened, { revsLimit: 3 });
    expect(again.getRevsLimit()).toBe(42);
    const otherAgain = await dbs.reopen(other);
    expect(otherAgain.getRevsLimit()).toBe(7);
  });

  it('rejects a limit that is not a positive integer', async () => {
    const db = await dbs.open();
    await expectError(db.setRevsLimit(0), 'bad_request');
    await expectError(db.setRevsLimit(-1), 'bad_request');
    await expectError(db.setRevsLimit(1.5), 'bad_request');
    expect(db.getRevsLimit()).toBe(1000);
  });
});

describe('destroy', () => {
  it('deletes the file; opening the path again gives a new, empty database', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    const { uuid } = await db.info();
    const file = dbs.pathOf(db);
    await db.destroy();
    expect(fs.existsSync(file)).toBe(false);
    const fresh = await dbs.reopen(db);
    const info = await fresh.info();
    expect(info).toMatchObject({ doc_count: 0, update_seq: 0 });
    expect(info.uuid).not.toBe(uuid);
    await expectError(fresh.get('a'), 'not_found', 'missing');
  });
});
