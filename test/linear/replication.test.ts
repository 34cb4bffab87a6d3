/**
 * Linear databases replicating: with each other (no tree on either side: fewer ids sent, fewer
 * rows written than between two tree databases holding the same edits) and with a Settee tree
 * database (the bodies agree after a sync, as docs/linear-history.md says).
 */
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Database, DatabaseOptions } from '../../src/database/database.js';
import { replicate, sync } from '../../src/replication/index.js';
import { genOf } from '../database/helpers.js';
import { useTempDatabases } from '../replication/helpers.js';

const dbs = useTempDatabases();

/** One document edited `edits` times, and `count` others edited `each` times. */
async function edit(db: Database, edits: number, count: number, each: number): Promise<void> {
  let hot = await db.put({ _id: 'hot', n: 0 });
  for (let n = 1; n < edits; n++) hot = await db.put({ _id: 'hot', _rev: hot.rev, n });
  for (let i = 0; i < count; i++) {
    let doc = await db.put({ _id: `doc-${i}`, n: 0 });
    for (let n = 1; n < each; n++) doc = await db.put({ _id: `doc-${i}`, _rev: doc.rev, n });
  }
}

/** The revision ids a replication sends: `_revisions` of every current revision, as `_bulk_get` gives them. */
async function idsSent(db: Database): Promise<number> {
  const { rows } = await db.allDocs();
  const { results } = await db.bulkGet(
    { docs: rows.map((row) => ({ id: row.id!, rev: row.value!.rev })) },
    { revs: true },
  );
  return results.reduce((sum, result) => {
    const [doc] = result.docs;
    return sum + (doc && 'ok' in doc ? (doc.ok._revisions?.ids.length ?? 0) : 0);
  }, 0);
}

/** Revision rows the database stores, read from its file once closed. */
async function storedRows(db: Database): Promise<number> {
  const file = dbs.pathOf(db);
  await db.close();
  const sqlite = new BetterSqlite3(file, { readonly: true });
  const { count } = sqlite.prepare('SELECT count(*) AS count FROM revs').get() as { count: number };
  sqlite.close();
  return count;
}

async function copyCost(options: DatabaseOptions) {
  const source = await dbs.open(options);
  await edit(source, 300, 20, 20);
  const target = await dbs.open(options);
  const result = await replicate(source, target).done;
  expect(result.docs_written).toBe(21);
  expect(await target.get('hot')).toMatchObject({ n: 299 });
  return { ids: await idsSent(source), rows: await storedRows(target) };
}

describe('linear ↔ linear', () => {
  it('sends and writes a short line per document where two trees carry every revision', async () => {
    const tree = await copyCost({});
    const linear = await copyCost({ revisions: 'linear', revsLimit: 20 });
    // Same requests, same documents: what they carry and what they write shrink.
    expect(tree).toEqual({ ids: 300 + 20 * 20, rows: 300 + 20 * 20 });
    expect(linear).toEqual({ ids: 20 + 20 * 20, rows: 20 + 20 * 20 });
    const shorter = await copyCost({ revisions: 'linear', revsLimit: 5 });
    expect(shorter).toEqual({ ids: 5 * 21, rows: 5 * 21 });
  });

  it('two replicas that edited apart settle by most edits and leave no conflict', async () => {
    const a = await dbs.open({ revisions: 'linear' });
    const b = await dbs.open({ revisions: 'linear' });
    const first = await a.put({ _id: 'doc', v: 0 });
    await replicate(a, b).done;
    let ours = await a.put({ _id: 'doc', _rev: first.rev, v: 'a1' });
    ours = await a.put({ _id: 'doc', _rev: ours.rev, v: 'a2' });
    await b.put({ _id: 'doc', _rev: first.rev, v: 'b1' });
    await sync(a, b).done;
    for (const db of [a, b]) {
      expect(await db.get('doc', { conflicts: true })).toEqual({ _id: 'doc', _rev: ours.rev, v: 'a2' });
    }
    expect(
      (await b.resolutions()).rows.map((row) => row.losers.map((loser) => JSON.parse(loser.body))),
    ).toEqual([[{ v: 'b1' }]]);
  });
});

describe('linear ↔ Settee tree', () => {
  it('agree on the bodies after a sync of edits, deletions and re-creations', async () => {
    const lin = await dbs.open({ revisions: 'linear' });
    const tree = await dbs.open();
    const a = await lin.put({ _id: 'a', v: 1 });
    const b = await tree.put({ _id: 'b', v: 1 });
    await sync(lin, tree).done;
    await lin.put({ _id: 'a', _rev: a.rev, v: 2 });
    const gone = await tree.remove('b', b.rev);
    await tree.put({ _id: 'b', v: 'again' }); // continues the tombstone
    await sync(lin, tree).done;
    for (const db of [lin, tree]) {
      expect(await db.get('a')).toMatchObject({ v: 2 });
      expect(await db.get('b')).toMatchObject({ v: 'again' });
    }
    expect(genOf((await lin.get('b'))._rev)).toBe(genOf(gone.rev) + 1);
  });

  it('a document the tree peer created apart after a deletion here: its version wins on both sides', async () => {
    const lin = await dbs.open({ revisions: 'linear' });
    const tree = await dbs.open();
    let doc = await lin.put({ _id: 'x', v: 'old' });
    doc = await lin.put({ _id: 'x', _rev: doc.rev, v: 'older' });
    await lin.remove('x', doc.rev); // 3-, deleted
    await tree.put({ _id: 'x', v: 'new' }); // 1-, a new root
    await sync(lin, tree).done;
    await sync(lin, tree).done;
    const written = await lin.get('x');
    expect(written).toMatchObject({ v: 'new' });
    expect(genOf(written._rev)).toBe(3 + 1);
    // The tree peer holds the rewritten revision too: it wins there, the 1- stays a conflict of equal content.
    const winner = await tree.get('x', { conflicts: true });
    expect(winner).toMatchObject({ _rev: written._rev, v: 'new' });
    expect(winner._conflicts).toHaveLength(1);
  });
});
