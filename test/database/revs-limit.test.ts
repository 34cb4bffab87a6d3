import { describe, expect, it } from 'vitest';
import type { NewDoc } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { errorsOf, genOf, hashOf, okRevs, rev, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

/** Edits `id` `count` times (creating it first if needed); returns every revision, oldest first. */
async function edit(db: Database, id: string, count: number, from: string[] = []): Promise<string[]> {
  const revs = [...from];
  for (let i = 0; i < count; i++) {
    const previous = revs[revs.length - 1];
    const doc: NewDoc = { _id: id, n: revs.length + 1 };
    if (previous) doc._rev = previous;
    revs.push((await db.put(doc)).rev);
  }
  return revs;
}

/** The document at `leaf` as a replicator with this history sends it (`ids` newest first). */
function withHistory(id: string, history: string[], idsCount: number): NewDoc {
  const leaf = history[history.length - 1]!;
  const ids = history.slice(-idsCount).reverse().map(hashOf);
  return { _id: id, _rev: leaf, _revisions: { start: genOf(leaf), ids }, n: history.length };
}

describe('revs_limit 5', () => {
  it('after 20 edits _revisions has 5 entries and older revisions are missing', async () => {
    const db = await dbs.open({ revsLimit: 5 });
    const revs = await edit(db, 'a', 20);
    const doc = await db.get('a', { revs: true, revs_info: true });
    expect(doc._rev).toBe(revs[19]);
    expect(doc._revisions).toEqual({ start: 20, ids: revs.slice(15).reverse().map(hashOf) });
    expect(doc._revs_info?.map((info) => info.rev)).toEqual(revs.slice(15).reverse());

    const old = revs.slice(0, 15);
    expect(await db.revsDiff({ a: revs })).toEqual({ a: { missing: old } });
    expect(await db.revsDiff({ a: revs.slice(15) })).toEqual({});
    expect(await db.getOpenRevs('a', [revs[0]!, revs[19]!])).toEqual([
      { missing: revs[0] },
      { ok: { _id: 'a', _rev: revs[19], n: 20 } },
    ]);
  });

  it('stems a replicated path that is longer than the limit', async () => {
    const db = await dbs.open({ revsLimit: 5 });
    const history = Array.from({ length: 20 }, (_, i) => rev(i + 1, (i % 16).toString(16)));
    expect(errorsOf(await db.bulkDocs([withHistory('a', history, 20)], { newEdits: false }))).toEqual([]);
    const doc = await db.get('a', { revs: true });
    expect(doc._revisions).toEqual({ start: 20, ids: history.slice(15).reverse().map(hashOf) });
    expect(await db.revsDiff({ a: history })).toEqual({ a: { missing: history.slice(0, 15) } });
  });

  it('each branch of a conflicted document keeps its own last 5 revisions', async () => {
    const db = await dbs.open({ revsLimit: 5 });
    const root = rev(1, '1');
    const left = [root, ...Array.from({ length: 9 }, (_, i) => rev(i + 2, 'a'))];
    const right = [root, ...Array.from({ length: 7 }, (_, i) => rev(i + 2, 'b'))];
    const results = await db.bulkDocs([withHistory('a', left, 10), withHistory('a', right, 8)], {
      newEdits: false,
    });
    expect(errorsOf(results)).toEqual([]);
    expect(okRevs(await db.getOpenRevs('a', 'all'))).toEqual([left[9]!, right[7]!].sort());
    const winner = await db.get('a', { revs: true, conflicts: true });
    expect(winner._rev).toBe(left[9]);
    expect(winner._conflicts).toEqual([right[7]]);
    expect(winner._revisions?.ids).toEqual(left.slice(5).reverse().map(hashOf));
    const loser = await db.get('a', { rev: right[7], revs: true });
    expect(loser._revisions?.ids).toEqual(right.slice(3).reverse().map(hashOf));
    // The shared root is beyond 5 generations of both leaves: gone.
    expect(await db.revsDiff({ a: [root] })).toEqual({ a: { missing: [root] } });
  });

  it('a stemmed tree still merges a replicated path that overlaps it', async () => {
    const full = await dbs.open();
    const limited = await dbs.open({ revsLimit: 5 });
    // The same 20 edits on both: deterministic ids make them the same revisions.
    const revs = await edit(full, 'a', 20);
    expect(await edit(limited, 'a', 20)).toEqual(revs);

    // The source goes on 5 more edits and sends its whole history: one leaf, no conflict.
    const more = await edit(full, 'a', 5, revs);
    expect(errorsOf(await limited.bulkDocs([withHistory('a', more, 25)], { newEdits: false }))).toEqual([]);
    let doc = await limited.get('a', { revs: true, conflicts: true });
    expect(doc._rev).toBe(more[24]);
    expect(doc._conflicts).toBeUndefined();
    expect(doc._revisions?.ids).toEqual(more.slice(20).reverse().map(hashOf));
    expect(okRevs(await limited.getOpenRevs('a', 'all'))).toEqual([more[24]]);

    // A path that starts inside the stemmed tree (shares only its leaf) merges too.
    const again = await edit(full, 'a', 3, more);
    expect(errorsOf(await limited.bulkDocs([withHistory('a', again, 4)], { newEdits: false }))).toEqual([]);
    doc = await limited.get('a', { conflicts: true });
    expect(doc._rev).toBe(again[27]);
    expect(doc._conflicts).toBeUndefined();

    // A path that starts below our stemmed root and reaches past it merges as well.
    const further = await edit(full, 'a', 2, again);
    expect(errorsOf(await limited.bulkDocs([withHistory('a', further, 12)], { newEdits: false }))).toEqual(
      [],
    );
    expect(okRevs(await limited.getOpenRevs('a', 'all'))).toEqual([further[29]]);
    // Re-sending an already merged path is a no-op.
    const seq = (await limited.info()).update_seq;
    expect(errorsOf(await limited.bulkDocs([withHistory('a', further, 12)], { newEdits: false }))).toEqual(
      [],
    );
    expect((await limited.info()).update_seq).toBe(seq);
  });

  it('a path that does not overlap becomes a separate branch: a spurious conflict, as in CouchDB', async () => {
    const full = await dbs.open();
    const limited = await dbs.open({ revsLimit: 5 });
    const revs = await edit(full, 'a', 20);
    expect(errorsOf(await limited.bulkDocs([withHistory('a', revs, 20)], { newEdits: false }))).toEqual([]);

    // The source makes more than revs_limit edits and sends only its last 5 revisions.
    const more = await edit(full, 'a', 10, revs);
    expect(errorsOf(await limited.bulkDocs([withHistory('a', more, 5)], { newEdits: false }))).toEqual([]);
    const doc = await limited.get('a', { conflicts: true, revs: true });
    expect(doc._rev).toBe(more[29]);
    expect(doc._conflicts).toEqual([revs[19]]);
    expect(doc._revisions).toEqual({ start: 30, ids: more.slice(25).reverse().map(hashOf) });
    expect(okRevs(await limited.getOpenRevs('a', 'all'))).toEqual([more[29]!, revs[19]!].sort());

    // The same update with its whole history would have merged cleanly.
    const clean = await dbs.open({ revsLimit: 5 });
    expect(errorsOf(await clean.bulkDocs([withHistory('a', revs, 20)], { newEdits: false }))).toEqual([]);
    expect(errorsOf(await clean.bulkDocs([withHistory('a', more, 30)], { newEdits: false }))).toEqual([]);
    expect(okRevs(await clean.getOpenRevs('a', 'all'))).toEqual([more[29]]);
  });

  it('interactive edits continue on a stemmed tree', async () => {
    const db = await dbs.open({ revsLimit: 5 });
    const revs = await edit(db, 'a', 12);
    const removed = await db.remove('a', revs[11]!);
    expect(genOf(removed.rev)).toBe(13);
    const recreated = await db.put({ _id: 'a', back: true });
    expect(genOf(recreated.rev)).toBe(14);
    const doc = await db.get('a', { revs: true });
    expect(doc._revisions?.ids).toEqual([recreated.rev, removed.rev, ...revs.slice(9).reverse()].map(hashOf));
  });
});

describe('changing revs_limit', () => {
  it('a lower limit shows at once in reads and stems the tree at the next write', async () => {
    const db = await dbs.open();
    const revs = await edit(db, 'a', 10);
    expect((await db.get('a', { revs: true }))._revisions?.ids).toHaveLength(10);
    await db.setRevsLimit(3);
    expect((await db.get('a', { revs: true }))._revisions?.ids).toEqual(revs.slice(7).reverse().map(hashOf));
    const next = await edit(db, 'a', 1, revs);
    expect((await db.get('a', { revs: true }))._revisions?.ids).toEqual(next.slice(8).reverse().map(hashOf));
    expect(await db.revsDiff({ a: next })).toEqual({ a: { missing: next.slice(0, 8) } });
  });

  it('a higher limit keeps more history from then on', async () => {
    const db = await dbs.open({ revsLimit: 3 });
    const revs = await edit(db, 'a', 6);
    await db.setRevsLimit(10);
    const more = await edit(db, 'a', 4, revs);
    // History stemmed before is gone; the new edits are kept on top of what remained.
    expect((await db.get('a', { revs: true }))._revisions?.ids).toEqual(more.slice(3).reverse().map(hashOf));
  });

  it('the limit applies across reopen', async () => {
    const db = await dbs.open();
    await db.setRevsLimit(4);
    const reopened = await dbs.reopen(db);
    const revs = await edit(reopened, 'a', 9);
    expect((await reopened.get('a', { revs: true }))._revisions?.ids).toEqual(
      revs.slice(5).reverse().map(hashOf),
    );
    expect(await reopened.revsDiff({ a: [revs[0]!] })).toEqual({ a: { missing: [revs[0]] } });
  });
});

describe('a larger limit', () => {
  it('reads never show more than revs_limit ancestors, and old revisions are dropped', async () => {
    const db = await dbs.open({ revsLimit: 20 });
    const revs = await edit(db, 'a', 60);
    const doc = await db.get('a', { revs: true, revs_info: true });
    expect(doc._revisions?.ids).toEqual(revs.slice(40).reverse().map(hashOf));
    expect(doc._revs_info).toHaveLength(20);
    // Everything well beyond the limit is missing (protocol.md §1.7).
    const diff = await db.revsDiff({ a: revs.slice(0, 35) });
    expect(diff.a?.missing).toEqual(revs.slice(0, 35));
    const bulk = await db.bulkGet({ docs: [{ id: 'a' }] }, { revs: true });
    const sent = (bulk.results[0]!.docs[0] as { ok: { _revisions: { ids: string[] } } }).ok;
    expect(sent._revisions.ids).toHaveLength(20);
  });
});
