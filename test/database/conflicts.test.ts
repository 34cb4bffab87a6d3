import { describe, expect, it } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import type { ConflictEvent } from '../../src/database/conflicts/index.js';
import type { Database } from '../../src/database/database.js';
import { replicate } from '../../src/replication/index.js';
import { dbState } from '../replication/helpers.js';
import { expectError, okDocs, okRevs, rev, useTempDatabases, writeReplicated } from './helpers.js';

const dbs = useTempDatabases();

/** `id` with three live branches from `1-0…`: 2-a, 2-b, 2-c; 2-c wins. */
async function threeBranches(db: Database, id: string): Promise<void> {
  for (const digit of ['a', 'b', 'c'])
    await writeReplicated(db, id, [rev(2, digit), rev(1, '0')], { v: digit });
}

/** `id` with two live branches, 1-x (losing) and 1-y (winning). */
async function twoBranches(db: Database, id: string): Promise<void> {
  await writeReplicated(db, id, [rev(1, 'e')], { v: 'x' });
  await writeReplicated(db, id, [rev(1, 'f')], { v: 'y' });
}

const ids = async (db: Database) => (await db.conflicts()).rows.map((row) => row.id);

/** Every leaf of a document, deleted ones included, sorted by revision. */
const leavesOf = async (db: Database, id: string) => okRevs(await db.getOpenRevs(id, 'all'));

describe('the conflicts index', () => {
  it('is empty for a database without conflicts, whatever is written', async () => {
    const db = await dbs.open();
    expect(await db.conflicts()).toEqual({ total_rows: 0, rows: [] });
    const first = await db.put({ _id: 'a', v: 1 });
    await db.put({ _id: 'a', _rev: first.rev, v: 2 });
    const b = await db.put({ _id: 'b' });
    await db.remove('b', b.rev);
    await writeReplicated(db, 'c', [rev(3, 'c'), rev(2, 'b'), rev(1, 'a')]);
    expect(await db.conflicts()).toEqual({ total_rows: 0, rows: [] });
  });

  it('lists a document replication gave a second live branch, with its winner and _conflicts', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'plain' });
    await threeBranches(db, 'doc');
    const listed = await db.conflicts();
    expect(listed).toEqual({
      total_rows: 1,
      rows: [{ id: 'doc', rev: rev(2, 'c'), conflicts: [rev(2, 'b'), rev(2, 'a')] }],
    });
    // The same as the document itself reports.
    const doc = await db.get('doc', { conflicts: true });
    expect([doc._rev, doc._conflicts]).toEqual([listed.rows[0]!.rev, listed.rows[0]!.conflicts]);
  });

  it('follows edits and deletions of the branches', async () => {
    const db = await dbs.open();
    await threeBranches(db, 'doc');
    // Editing a losing branch keeps the conflict (its leaf moves on).
    const edited = await db.put({ _id: 'doc', _rev: rev(2, 'a'), v: 'a2' });
    expect((await db.conflicts()).rows).toEqual([
      { id: 'doc', rev: edited.rev, conflicts: [rev(2, 'c'), rev(2, 'b')] },
    ]);
    // Deleting one loser leaves one conflict, deleting the other none.
    await db.remove('doc', rev(2, 'c'));
    expect((await db.conflicts()).rows).toEqual([{ id: 'doc', rev: edited.rev, conflicts: [rev(2, 'b')] }]);
    await db.remove('doc', rev(2, 'b'));
    expect(await db.conflicts()).toEqual({ total_rows: 0, rows: [] });
    // A document whose winner is deleted while one other branch lives: that branch wins alone.
    await twoBranches(db, 'pair');
    expect(await ids(db)).toEqual(['pair']);
    await db.remove('pair', rev(1, 'f'));
    expect(await ids(db)).toEqual([]);
    expect((await db.get('pair'))._rev).toBe(rev(1, 'e'));
  });

  it('counts deleted branches as no conflict, and a revived one as a conflict again', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'doc', [rev(1, 'a')]);
    await db.bulkDocs(
      [
        {
          _id: 'doc',
          _rev: rev(2, 'd'),
          _deleted: true,
          _revisions: { start: 2, ids: ['d'.repeat(32), 'a'.repeat(32)] },
        },
      ],
      {
        newEdits: false,
      },
    );
    await writeReplicated(db, 'doc', [rev(1, 'b')]);
    expect(await ids(db)).toEqual([]);
    // A replicated edit that continues the deleted branch revives it.
    await writeReplicated(db, 'doc', [rev(3, 'e'), rev(2, 'd'), rev(1, 'a')], { back: true });
    expect((await db.conflicts()).rows).toEqual([{ id: 'doc', rev: rev(3, 'e'), conflicts: [rev(1, 'b')] }]);
  });

  it('takes several documents of one replicated batch at once, and survives reopening', async () => {
    let db = await dbs.open();
    const docs = ['x', 'y', 'z'].flatMap((id) => [
      { _id: id, _rev: rev(1, 'a'), v: 1 },
      { _id: id, _rev: rev(1, 'b'), v: 2 },
    ]);
    await db.bulkDocs([...docs, { _id: 'w', _rev: rev(1, 'a') }], { newEdits: false });
    expect(await ids(db)).toEqual(['x', 'y', 'z']);
    db = await dbs.reopen(db);
    expect(await db.conflicts()).toMatchObject({ total_rows: 3 });
    expect(await ids(db)).toEqual(['x', 'y', 'z']);
    await db.remove('y', rev(1, 'a'));
    db = await dbs.reopen(db);
    expect(await ids(db)).toEqual(['x', 'z']);
  });

  it('pages by startkey and limit, total_rows counting every conflicted document', async () => {
    const db = await dbs.open();
    const conflicted = Array.from({ length: 25 }, (_, i) => `doc-${String(i).padStart(2, '0')}`);
    await db.bulkDocs(
      conflicted.flatMap((_id) => [
        { _id, _rev: rev(1, 'a') },
        { _id, _rev: rev(1, 'b') },
      ]),
      { newEdits: false },
    );
    await db.bulkDocs(
      Array.from({ length: 10 }, (_, i) => ({ _id: `doc-${i}x` })),
      {},
    );
    const seen: string[] = [];
    let startkey: string | undefined;
    for (;;) {
      const page = await db.conflicts({ startkey, limit: 7 });
      expect(page.total_rows).toBe(25);
      seen.push(...page.rows.map((row) => row.id));
      if (page.rows.length < 7) break;
      // The next page starts just after the last id listed.
      startkey = `${page.rows[page.rows.length - 1]!.id}\u0000`;
    }
    expect(seen).toEqual(conflicted);
    expect((await db.conflicts({ startkey: 'doc-20' })).rows.map((row) => row.id)).toEqual(
      conflicted.slice(20),
    );
    expect((await db.conflicts({ limit: 0 })).rows).toEqual([]);
    const streamed: string[] = [];
    for await (const row of db.conflictsStream({ startkey: 'doc-1' })) streamed.push(row.id);
    // `doc-1` sorts after `doc-09`.
    expect(streamed).toEqual(conflicted.slice(10));
    await expectError(() => db.conflicts({ limit: -1 }), 'bad_request');
    await expectError(() => db.conflicts({ limit: 1.5 }), 'bad_request');
    expect(() => db.conflictsStream({ startkey: 3 as unknown as string })).toThrow(/startkey/);
  });
});

describe('changes with conflicts_only', () => {
  it('lists only the documents conflicted at their latest seq, and counts only them against limit', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    await twoBranches(db, 'b');
    await db.put({ _id: 'c' });
    await threeBranches(db, 'd');
    await twoBranches(db, 'e');
    const feed = await db.changes({ conflicts_only: true });
    expect(feed.results.map((row) => row.id)).toEqual(['b', 'd', 'e']);
    expect(feed.last_seq).toBe(await db.updateSeq());
    const limited = await db.changes({ conflicts_only: true, limit: 2 });
    expect(limited.results.map((row) => row.id)).toEqual(['b', 'd']);
    const allLeaves = await db.changes({ conflicts_only: true, style: 'all_docs', doc_ids: ['d'] });
    expect(allLeaves.results[0]!.changes).toEqual([
      { rev: rev(2, 'c') },
      { rev: rev(2, 'b') },
      { rev: rev(2, 'a') },
    ]);
    const withDocs = await db.changes({
      conflicts_only: true,
      include_docs: true,
      conflicts: true,
      limit: 1,
    });
    expect(withDocs.results[0]!.doc).toMatchObject({
      _id: 'b',
      _rev: rev(1, 'f'),
      _conflicts: [rev(1, 'e')],
    });
    // Resolved: gone from the feed, as from the index.
    await db.resolve('d');
    expect((await db.changes({ conflicts_only: true })).results.map((row) => row.id)).toEqual(['b', 'e']);
    expect(
      (await db.changes({ conflicts_only: true, descending: true })).results.map((row) => row.id),
    ).toEqual(['e', 'b']);
  });

  it('a live feed emits documents as they become conflicted', async () => {
    const db = await dbs.open();
    const stop = new AbortController();
    const seen: string[] = [];
    const done = (async () => {
      for await (const row of db.changesFeed({
        conflicts_only: true,
        live: true,
        since: 'now',
        signal: stop.signal,
      })) {
        seen.push(row.id);
        if (seen.length === 2) stop.abort();
      }
    })();
    await db.put({ _id: 'plain' });
    await twoBranches(db, 'first');
    await db.put({ _id: 'plain2' });
    await twoBranches(db, 'second');
    await done;
    expect(seen).toEqual(['first', 'second']);
  });
});

describe('onConflict', () => {
  it('fires once per newly conflicted document, after the write is committed', async () => {
    const db = await dbs.open();
    const events: ConflictEvent[] = [];
    const reads: Promise<Doc>[] = [];
    db.onConflict((event) => {
      events.push(event);
      // The write is visible to the listener.
      reads.push(db.get(event.id, { conflicts: true }));
    });
    await db.put({ _id: 'plain' });
    await writeReplicated(db, 'doc', [rev(2, 'a'), rev(1, '0')]);
    expect(events).toEqual([]);
    await writeReplicated(db, 'doc', [rev(2, 'b'), rev(1, '0')]);
    expect(events).toEqual([{ id: 'doc', winner: rev(2, 'b'), conflicts: [rev(2, 'a')] }]);
    // A further branch of an already conflicted document is not a new conflict.
    await writeReplicated(db, 'doc', [rev(2, 'c'), rev(1, '0')]);
    expect(events).toHaveLength(1);
    // Resolved, then conflicted again: a new event.
    await db.resolve('doc');
    expect(events).toHaveLength(1);
    await writeReplicated(db, 'doc', [rev(2, 'd'), rev(1, '0')]);
    expect(events).toHaveLength(2);
    expect(events[1]!.id).toBe('doc');
    // Several documents of one batch: one event each.
    await db.bulkDocs(
      ['p', 'q'].flatMap((_id) => [
        { _id, _rev: rev(1, 'a') },
        { _id, _rev: rev(1, 'b') },
      ]),
      { newEdits: false },
    );
    expect(events.slice(2).map((event) => event.id)).toEqual(['p', 'q']);
    expect(await reads[0]).toMatchObject({ _id: 'doc', _rev: rev(2, 'b'), _conflicts: [rev(2, 'a')] });
  });

  it('unsubscribes, and a throwing listener neither fails the write nor stops the others', async () => {
    const db = await dbs.open();
    const events: string[] = [];
    db.onConflict(() => {
      throw new Error('listener bug');
    });
    const unsubscribe = db.onConflict((event) => events.push(event.id));
    await twoBranches(db, 'a');
    expect(events).toEqual(['a']);
    expect(await ids(db)).toEqual(['a']);
    unsubscribe();
    await twoBranches(db, 'b');
    expect(events).toEqual(['a']);
  });

  it('fires when a replication brings in a conflict', async () => {
    const [source, target] = [await dbs.open(), await dbs.open()];
    const base = await source.put({ _id: 'doc', v: 0 });
    await replicate(source, target).done;
    await source.put({ _id: 'doc', _rev: base.rev, v: 'source' });
    await target.put({ _id: 'doc', _rev: base.rev, v: 'target' });
    await source.put({ _id: 'other' });
    const events: ConflictEvent[] = [];
    target.onConflict((event) => events.push(event));
    await replicate(source, target).done;
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ id: 'doc' });
    const doc = await target.get('doc', { conflicts: true });
    expect(events[0]).toEqual({ id: 'doc', winner: doc._rev, conflicts: doc._conflicts });
  });
});

describe('resolve', () => {
  it('writes the merged revision under the winner and a tombstone under each loser, atomically', async () => {
    const db = await dbs.open();
    await threeBranches(db, 'doc');
    const seq = db.updateSeq();
    const result = await db.resolve('doc', { merged: { v: 'merged' }, losers: [rev(2, 'a'), rev(2, 'b')] });
    expect(result).toEqual({
      ok: true,
      id: 'doc',
      rev: expect.stringMatching(/^3-/),
      deleted: [rev(2, 'b'), rev(2, 'a')],
    });
    // One write: one new sequence.
    expect(db.updateSeq()).toBe(seq + 1);
    const doc = await db.get('doc', { conflicts: true, revs: true });
    expect(doc).toMatchObject({ _rev: result.rev, v: 'merged' });
    expect(doc._conflicts).toBeUndefined();
    expect(doc._revisions?.ids.slice(1)).toEqual(['c'.repeat(32), '0'.repeat(32)]);
    // Every other leaf is a tombstone child of a loser.
    const leaves = okDocs(await db.getOpenRevs('doc', 'all', { revs: true }));
    const tombstones = leaves.filter((leaf) => leaf._deleted);
    expect(tombstones.map((leaf) => leaf._revisions?.ids[1]).sort()).toEqual([
      'a'.repeat(32),
      'b'.repeat(32),
    ]);
    expect(tombstones.every((leaf) => leaf._rev.startsWith('3-'))).toBe(true);
    expect(await db.conflicts()).toEqual({ total_rows: 0, rows: [] });
  });

  it('continues a kept loser instead, deleting the winner', async () => {
    const db = await dbs.open();
    await threeBranches(db, 'doc');
    const result = await db.resolve('doc', {
      merged: { v: 'from a' },
      keep: rev(2, 'a'),
      losers: [rev(2, 'c'), rev(2, 'b')],
    });
    expect(result.deleted).toEqual([rev(2, 'c'), rev(2, 'b')]);
    const doc = await db.get('doc', { conflicts: true, revs: true });
    expect(doc).toMatchObject({ _rev: result.rev, v: 'from a' });
    expect(doc._revisions?.ids[1]).toBe('a'.repeat(32));
    expect(doc._conflicts).toBeUndefined();
  });

  it('without a merged body keeps the chosen leaf as it is and deletes the others', async () => {
    const db = await dbs.open();
    await threeBranches(db, 'doc');
    const result = await db.resolve('doc', { keep: rev(2, 'b') });
    expect(result).toEqual({ ok: true, id: 'doc', rev: rev(2, 'b'), deleted: [rev(2, 'c'), rev(2, 'a')] });
    expect(await db.get('doc', { conflicts: true })).toEqual({ _id: 'doc', _rev: rev(2, 'b'), v: 'b' });
    // Nothing to resolve: nothing written.
    const seq = db.updateSeq();
    expect(await db.resolve('doc')).toEqual({ ok: true, id: 'doc', rev: rev(2, 'b'), deleted: [] });
    expect(db.updateSeq()).toBe(seq);
  });

  it('accepts a document read back as the merged body, and resolves design documents', async () => {
    const db = await dbs.open();
    await twoBranches(db, '_design/app');
    const read = await db.get('_design/app', { conflicts: true, revs: true });
    const result = await db.resolve('_design/app', {
      merged: { ...read, v: 'both' },
      losers: read._conflicts,
    });
    expect(await db.get('_design/app', { conflicts: true })).toEqual({
      _id: '_design/app',
      _rev: result.rev,
      v: 'both',
    });
  });

  it('fails with conflict, writing nothing, when the leaves changed since they were read', async () => {
    const db = await dbs.open();
    await twoBranches(db, 'doc');
    const seen = await db.get('doc', { conflicts: true });
    // A third branch arrives after the read, and the losing branch is edited.
    await writeReplicated(db, 'doc', [rev(1, '1')], { v: 'late' });
    const edited = await db.put({ _id: 'doc', _rev: rev(1, 'e'), v: 'x2' });
    const seq = db.updateSeq();
    const leaves = await leavesOf(db, 'doc');
    await expectError(db.resolve('doc', { merged: { v: 'm' }, losers: seen._conflicts }), 'conflict');
    // The kept leaf is no longer a leaf.
    await expectError(
      db.resolve('doc', { keep: rev(1, 'e'), losers: [rev(1, 'f'), rev(1, '1')] }),
      'conflict',
    );
    // A loser that is no longer a leaf.
    await expectError(db.resolve('doc', { losers: [rev(1, 'e'), rev(1, '1')] }), 'conflict');
    expect(db.updateSeq()).toBe(seq);
    expect(await leavesOf(db, 'doc')).toEqual(leaves);
    // With the leaves as they are now, it goes through.
    const now = await db.get('doc', { conflicts: true });
    expect([now._rev, now._conflicts]).toEqual([edited.rev, [rev(1, 'f'), rev(1, '1')]]);
    await db.resolve('doc', { merged: { v: 'm' }, keep: now._rev, losers: now._conflicts });
    expect(await ids(db)).toEqual([]);
  });

  it('checks its view of the leaves in the same turn as the write', async () => {
    const db = await dbs.open();
    await twoBranches(db, 'doc');
    const seen = await db.get('doc', { conflicts: true });
    // A replicated branch queued just before the resolution is seen by it.
    const [, resolution] = await Promise.allSettled([
      writeReplicated(db, 'doc', [rev(1, '1')]),
      db.resolve('doc', { merged: { v: 'm' }, losers: seen._conflicts }),
    ]);
    expect(resolution).toMatchObject({ status: 'rejected', reason: { error: 'conflict' } });
    expect(await db.conflicts()).toMatchObject({ total_rows: 1 });
  });

  it('refuses a stale keep or losers, and bad input, writing nothing', async () => {
    const db = await dbs.open();
    await twoBranches(db, 'doc');
    await db.put({ _id: 'plain' });
    const seq = db.updateSeq();
    // Not a live leaf (unknown, or an ancestor).
    await expectError(db.resolve('doc', { keep: rev(1, 'a') }), 'conflict');
    await expectError(db.resolve('doc', { losers: [] }), 'conflict');
    await expectError(db.resolve('doc', { losers: [rev(1, 'e'), rev(1, '9')] }), 'conflict');
    await expectError(db.resolve('doc', { keep: rev(1, 'e'), losers: [rev(1, 'e')] }), 'bad_request');
    await expectError(db.resolve('missing'), 'not_found');
    await expectError(db.resolve('_local/x'), 'bad_request');
    await expectError(db.resolve('doc', { merged: [] as unknown as Record<string, unknown> }), 'bad_request');
    await expectError(db.resolve('doc', { merged: { _id: 'other' } }), 'bad_request');
    await expectError(db.resolve('doc', { keep: 'nope' }), 'bad_request');
    await expectError(db.resolve('doc', { losers: 'x' as unknown as string[] }), 'bad_request');
    // An invalid merged body fails the whole resolution: the losers stay.
    await expectError(db.resolve('doc', { merged: { _bad: 1 }, losers: [rev(1, 'e')] }), 'doc_validation');
    expect(db.updateSeq()).toBe(seq);
    expect(await ids(db)).toEqual(['doc']);
    // A deleted document has no live leaf to keep.
    const plain = await db.get('plain');
    await db.remove('plain', plain._rev);
    await expectError(db.resolve('plain', { merged: {} }), 'conflict');
  });

  it('replicates like any edit: both replicas agree, with no conflict left', async () => {
    const [a, b] = [await dbs.open(), await dbs.open()];
    const base = await a.put({ _id: 'doc', v: 0 });
    await replicate(a, b).done;
    await a.put({ _id: 'doc', _rev: base.rev, v: 'a' });
    await b.put({ _id: 'doc', _rev: base.rev, v: 'b' });
    await replicate(b, a).done;
    const seen = await a.get('doc', { conflicts: true });
    expect(seen._conflicts).toHaveLength(1);
    const result = await a.resolve('doc', { merged: { v: 'a+b' }, keep: seen._rev, losers: seen._conflicts });

    await replicate(a, b).done;
    await replicate(b, a).done;
    for (const db of [a, b]) {
      expect(await db.conflicts()).toEqual({ total_rows: 0, rows: [] });
      expect(await db.get('doc', { conflicts: true })).toEqual({ _id: 'doc', _rev: result.rev, v: 'a+b' });
    }
    expect(await dbState(b)).toEqual(await dbState(a));
    // Quiet: another round writes nothing.
    const seqs = [a.updateSeq(), b.updateSeq()];
    await replicate(a, b).done;
    await replicate(b, a).done;
    expect([a.updateSeq(), b.updateSeq()]).toEqual(seqs);
  });
});

describe('compaction', () => {
  it('keeps the body of every leaf of a conflicted document', async () => {
    let db = await dbs.open();
    await writeReplicated(db, 'doc', [rev(2, 'a'), rev(1, '0')], { v: 'a' });
    await writeReplicated(db, 'doc', [rev(3, 'b'), rev(2, 'b'), rev(1, '0')], { v: 'b' });
    const first = await db.put({ _id: 'doc', _rev: rev(2, 'a'), v: 'a2' });
    await db.compact();
    db = await dbs.reopen(db);
    await db.compact();
    expect(await db.get('doc', { rev: rev(3, 'b') })).toMatchObject({ v: 'b' });
    expect(await db.get('doc', { rev: first.rev })).toMatchObject({ v: 'a2' });
    await expectError(db.get('doc', { rev: rev(2, 'a') }), 'not_found');
    const winner = await db.get('doc', { conflicts: true });
    expect((await db.conflicts()).rows).toEqual([
      { id: 'doc', rev: winner._rev, conflicts: winner._conflicts },
    ]);
    expect([winner._rev, ...(winner._conflicts ?? [])].sort()).toEqual([first.rev, rev(3, 'b')].sort());
  });
});
