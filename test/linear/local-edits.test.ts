/**
 * What a local edit of a linear document costs the store (docs/linear-history.md, "Local
 * writes"): the previous revision loses its body in place, the oldest ids are dropped in steps,
 * and what replicated writes are settled against does not depend on how many older ids a
 * replica still keeps.
 */
import BetterSqlite3 from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.js';
import { genOf, useTempDatabases, writeReplicated } from '../database/helpers.js';

const dbs = useTempDatabases();

/** Writes `count` edits of document `id`, one put each; returns the last revision. */
async function edit(db: Database, id: string, count: number, from?: string): Promise<string> {
  let rev = from;
  for (let n = 0; n < count; n++) rev = (await db.put({ _id: id, n, ...(rev ? { _rev: rev } : {}) })).rev;
  return rev!;
}

/** The rows of the revs table, read from the file of a closed database. */
function revRows(file: string): { rowid: number; rev: string; body: string | null }[] {
  const sqlite = new BetterSqlite3(file, { readonly: true });
  try {
    return sqlite.prepare('SELECT rowid, rev, body FROM revs ORDER BY rowid').all() as {
      rowid: number;
      rev: string;
      body: string | null;
    }[];
  } finally {
    sqlite.close();
  }
}

/** The revision ids a read shows in `_revisions`, newest first. */
async function revisionIds(db: Database, id: string): Promise<string[]> {
  const { _revisions } = await db.get(id, { revs: true });
  return _revisions!.ids.map((hash, i) => `${_revisions!.start - i}-${hash}`);
}

describe('a local edit of a linear document', () => {
  it('drops the previous body in place: the revision keeps its row', async () => {
    let db = await dbs.open({ revisions: 'linear' });
    const previous = await edit(db, 'a', 5);
    await db.close();
    const before = revRows(dbs.pathOf(db)).find((row) => row.rev === previous)!;
    db = await dbs.reopen(db);
    await edit(db, 'a', 1, previous);
    await db.close();
    const after = revRows(dbs.pathOf(db));
    // Removed and added again, the row would have taken a new rowid.
    expect(after.find((row) => row.rev === previous)).toEqual({ ...before, body: null });
    expect(after).toHaveLength(6);
    expect(after.every((row) => row.body === null)).toBe(true); // the current body is the docs row's
  });

  it('keeps revs_limit ids for reads and drops the oldest a tenth at a time', async () => {
    let db = await dbs.open({ revisions: 'linear', revsLimit: 20 });
    const sizes: number[] = [];
    let rev = await edit(db, 'a', 20);
    for (let n = 0; n < 6; n++) {
      rev = await edit(db, 'a', 1, rev);
      sizes.push((await revisionIds(db, 'a')).length);
      await db.close();
      sizes.push(revRows(dbs.pathOf(db)).length);
      db = await dbs.reopen(db);
    }
    // Reads show 20; the store keeps up to 22, and then 20 again.
    expect(sizes).toEqual([20, 21, 20, 22, 20, 20, 20, 21, 20, 22, 20, 20]);
  });
});

describe('settling a replicated write', () => {
  it('looks at the newest revs_limit ids: replicas holding the same revision settle alike', async () => {
    // `kept` edited locally and still keeps its first id (11 ids, a tenth past its limit of 10);
    // `received` got the same current revision by replication, with the 10 ids a read shows.
    const kept = await dbs.open({ revisions: 'linear', revsLimit: 10 });
    const first = (await kept.put({ _id: 'a' })).rev;
    const current = await edit(kept, 'a', 10, first);
    const received = await dbs.open({ revisions: 'linear', revsLimit: 10 });
    const shown = await revisionIds(kept, 'a');
    await writeReplicated(received, 'a', shown, { n: 9 });
    expect(shown).toHaveLength(10);
    expect((await received.get('a'))._rev).toBe(current);

    // A deletion with more edits, branched from the first id only `kept` still has: it shares no
    // id with the line either settles against, so on both it is a re-creation the live one wins.
    const branch = Array.from({ length: 11 }, (_, i) => `${12 - i}-${'b'.repeat(31)}${i}`);
    for (const db of [kept, received]) await writeReplicated(db, 'a', [...branch, first], { _deleted: true });

    const [onKept, onReceived] = [await kept.get('a'), await received.get('a')];
    expect(onKept._rev).toBe(onReceived._rev);
    expect(genOf(onKept._rev)).toBe(11 + 12);
    expect(onKept).toMatchObject({ n: 9 });
  });
});
