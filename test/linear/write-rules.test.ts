/**
 * The write rules of a linear database (docs/linear-history.md): every local write takes the next
 * number, only the current revision keeps a body, and a replicated revision that branches is
 * settled at once, its loser kept in the resolution history.
 */
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.js';
import { expectError, genOf, rev, useTempDatabases, writeReplicated } from '../database/helpers.js';

const dbs = useTempDatabases();
const linear = () => dbs.open({ revisions: 'linear' });

async function historyOf(db: Database) {
  return (await db.resolutions()).rows.map(({ by, kept, rev: after, losers }) => ({
    by,
    kept,
    rev: after,
    losers: losers.map((loser) => ({ rev: loser.rev, body: JSON.parse(loser.body) as unknown })),
  }));
}

describe('the mode of a database', () => {
  it('is set at creation, shown by info, kept on reopening, and a mismatch is refused', async () => {
    const db = await linear();
    expect(await db.info()).toMatchObject({ revisions: 'linear', revs_limit: 100 });
    const again = await dbs.reopen(db);
    expect(again.getRevisionsMode()).toBe('linear');
    await again.close();
    await expectError(dbs.reopen(again, { revisions: 'tree' }), 'bad_request', /keeps linear revisions/);

    const tree = await dbs.open();
    expect(await tree.info()).not.toHaveProperty('revisions');
    await expectError(dbs.reopen(tree, { revisions: 'linear' }), 'bad_request', /keeps tree revisions/);
  });

  it('refuses a mode it does not know', async () => {
    await expectError(
      dbs.open({ revisions: 'flat' as never }),
      'bad_request',
      'revisions must be "tree" or "linear"',
    );
  });
});

describe('local writes', () => {
  it('edits, deletions and re-creations take the next number', async () => {
    const db = await linear();
    const one = await db.put({ _id: 'a', n: 1 });
    const two = await db.put({ _id: 'a', _rev: one.rev, n: 2 });
    const gone = await db.remove('a', two.rev);
    const back = await db.put({ _id: 'a', n: 4 });
    expect([one, two, gone, back].map((write) => genOf(write.rev))).toEqual([1, 2, 3, 4]);
    const doc = await db.get('a', { revs_info: true });
    expect(doc._revs_info?.map((info) => info.status)).toEqual([
      'available',
      'missing',
      'missing',
      'missing',
    ]);
    await expectError(db.put({ _id: 'a', _rev: two.rev, n: 5 }), 'conflict');
  });

  it('keeps a line of revs_limit ids and no ancestor body, on disk too', async () => {
    const db = await dbs.open({ revisions: 'linear', revsLimit: 3 });
    let written = await db.put({ _id: 'a', n: 0, text: 'x'.repeat(100) });
    for (let n = 1; n < 10; n++)
      written = await db.put({ _id: 'a', _rev: written.rev, n, text: 'x'.repeat(100) });
    const doc = await db.get('a', { revs: true });
    expect(doc._revisions).toMatchObject({ start: 10 });
    expect(doc._revisions?.ids).toHaveLength(3);
    const file = dbs.pathOf(db);
    await db.close();
    const sqlite = new BetterSqlite3(file, { readonly: true });
    const rows = sqlite.prepare('SELECT rev, body FROM revs').all() as { rev: string; body: string | null }[];
    sqlite.close();
    expect(rows).toHaveLength(3);
    expect(rows.every((row) => row.body === null)).toBe(true); // the current body lives in the docs row
  });
});

describe('replicated writes', () => {
  it('a revision that descends from the current one becomes current', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(1, 'a')], { v: 1 });
    await writeReplicated(db, 'a', [rev(3, 'c'), rev(2, 'b'), rev(1, 'a')], { v: 3 });
    expect(await db.get('a')).toMatchObject({ _rev: rev(3, 'c'), v: 3 });
    expect(await db.getOpenRevs('a', 'all')).toHaveLength(1);
    expect(await db.resolutionCount()).toBe(0);
  });

  it('a branch with more edits wins, and the current version goes into the history', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, 'a')], { v: 'ours' });
    await writeReplicated(db, 'a', [rev(3, 'd'), rev(2, 'c'), rev(1, 'a')], { v: 'theirs' });
    expect(await db.get('a', { conflicts: true })).toEqual({ _id: 'a', _rev: rev(3, 'd'), v: 'theirs' });
    expect(await historyOf(db)).toEqual([
      {
        by: 'linear:most-edits-wins',
        kept: rev(3, 'd'),
        rev: rev(3, 'd'),
        losers: [{ rev: rev(2, 'b'), body: { v: 'ours' } }],
      },
    ]);
  });

  it('a branch with fewer edits loses into the history once, however often it comes', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(3, 'c'), rev(2, 'b'), rev(1, 'a')], { v: 'ours' });
    const seq = db.updateSeq();
    for (let i = 0; i < 2; i++) await writeReplicated(db, 'a', [rev(2, 'x'), rev(1, 'a')], { v: 'theirs' });
    expect(await db.get('a')).toMatchObject({ _rev: rev(3, 'c'), v: 'ours' });
    expect(db.updateSeq()).toBe(seq); // the document did not change
    expect(await historyOf(db)).toEqual([
      {
        by: 'linear:most-edits-wins',
        kept: rev(3, 'c'),
        rev: rev(3, 'c'),
        losers: [{ rev: rev(2, 'x'), body: { v: 'theirs' } }],
      },
    ]);
  });

  it('equal numbers are ordered as CouchDB orders leaves: live first, then the greater hash', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, 'a')], { v: 'b' });
    await writeReplicated(db, 'a', [rev(2, 'c'), rev(1, 'a')], { v: 'c' });
    expect(await db.get('a')).toMatchObject({ _rev: rev(2, 'c') });
    await writeReplicated(db, 'a', [rev(2, 'f'), rev(1, 'a')], { _deleted: true });
    expect(await db.get('a')).toMatchObject({ _rev: rev(2, 'c') });
  });

  it('a deletion with more edits beats a live branch with fewer (where CouchDB keeps the live one)', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(3, 'd'), rev(2, 'b'), rev(1, 'a')], { _deleted: true });
    await writeReplicated(db, 'a', [rev(2, 'c'), rev(1, 'a')], { v: 'live' });
    await expectError(db.get('a'), 'not_found', 'deleted');
    expect((await historyOf(db))[0]?.losers).toEqual([{ rev: rev(2, 'c'), body: { v: 'live' } }]);
  });
});

describe('re-creations on unrelated branches', () => {
  it('a re-created document with fewer edits is written at the sum of both numbers', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(2, 'b'), rev(1, 'a')], { _deleted: true });
    await writeReplicated(db, 'a', [rev(1, 'c')], { v: 'again' });
    const doc = await db.get('a', { revs: true });
    expect(doc).toMatchObject({ v: 'again', _revisions: { start: 3 } });
    expect(doc._revisions?.ids).toHaveLength(1);
    // The deleted version held nothing: no history.
    expect(await db.resolutionCount()).toBe(0);
    // A stale revision of the old line can no longer win.
    await writeReplicated(db, 'a', [rev(2, 'x'), rev(1, 'a')], { v: 'stale' });
    expect(await db.get('a')).toMatchObject({ v: 'again' });
  });

  it('settles alike from both sides: the same revision, whichever side syncs first', async () => {
    const deletedSide = await linear();
    await writeReplicated(deletedSide, 'a', [rev(3, 'd'), rev(2, 'b'), rev(1, 'a')], { _deleted: true });
    await writeReplicated(deletedSide, 'a', [rev(1, 'c')], { v: 'again' });

    const liveSide = await linear();
    await writeReplicated(liveSide, 'a', [rev(1, 'c')], { v: 'again' });
    await writeReplicated(liveSide, 'a', [rev(3, 'd'), rev(2, 'b'), rev(1, 'a')], { _deleted: true });

    const written = (await deletedSide.get('a'))._rev;
    expect(genOf(written)).toBe(4);
    expect((await liveSide.get('a'))._rev).toBe(written);
  });

  it('a live version with more edits simply wins over an unrelated deletion', async () => {
    const db = await linear();
    await writeReplicated(db, 'a', [rev(1, 'a')], { _deleted: true });
    await writeReplicated(db, 'a', [rev(2, 'c'), rev(1, 'b')], { v: 'new' });
    expect(await db.get('a')).toMatchObject({ _rev: rev(2, 'c'), v: 'new' });
  });
});

describe('_revs_diff', () => {
  it('answers from the kept ids, with the current revision as possible ancestor', async () => {
    const db = await linear();
    let written = await db.put({ _id: 'a', n: 0 });
    const first = written.rev;
    written = await db.put({ _id: 'a', _rev: written.rev, n: 1 });
    const diff = await db.revsDiff({ a: [first, written.rev, rev(5, 'e')] });
    expect(diff).toEqual({ a: { missing: [rev(5, 'e')], possible_ancestors: [written.rev] } });
  });
});
