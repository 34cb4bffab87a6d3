/**
 * The physical ceiling: the same rows in a plain better-sqlite3 table, with the same durability
 * settings as Settee (WAL, synchronous = FULL, exclusive locking), and no revision bookkeeping.
 */
import BetterSqlite3 from 'better-sqlite3';
import { type Body, type Dataset, gc } from '../lib.js';

export interface RawRow {
  id: string;
  rev: string;
  body: Body;
}

export function openRaw(path: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(path);
  db.pragma('locking_mode = EXCLUSIVE');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS docs (id TEXT PRIMARY KEY, rev TEXT NOT NULL, body TEXT NOT NULL)');
  return db;
}

export function rawBatches(data: Dataset, size: number): RawRow[][] {
  return data.batches(size, (i) => ({ id: data.ids[i]!, rev: data.revs[i]!, body: data.body(i) }));
}

/** Inserts the rows, one transaction per batch; the JSON.stringify of each body is billed too. */
export function rawInsert(db: BetterSqlite3.Database, batches: RawRow[][]): number {
  const insert = db.prepare('INSERT INTO docs (id, rev, body) VALUES (?, ?, ?)');
  const write = db.transaction((batch: RawRow[]) => {
    for (const row of batch) insert.run(row.id, row.rev, JSON.stringify(row.body));
  });
  gc(); // the garbage of building the batches is not billed to the writes
  const start = performance.now();
  for (const batch of batches) write(batch);
  return performance.now() - start;
}

/** Reads every row and parses its body: in insertion order (as changes) or in id order (as allDocs). */
export function rawScan(
  db: BetterSqlite3.Database,
  order: 'rowid' | 'id',
  limit = -1,
): { ms: number; rows: number } {
  const select = db.prepare(`SELECT id, rev, body FROM docs ORDER BY ${order} LIMIT ?`);
  const start = performance.now();
  let rows = 0;
  for (const row of select.iterate(limit) as IterableIterator<{ id: string; rev: string; body: string }>) {
    const body = JSON.parse(row.body) as Body;
    if (body.n >= 0) rows++;
  }
  return { ms: performance.now() - start, rows };
}

/** Reads rows by id and parses their bodies. */
export function rawGets(db: BetterSqlite3.Database, ids: readonly string[]): number {
  const select = db.prepare('SELECT rev, body FROM docs WHERE id = ?');
  const start = performance.now();
  for (const id of ids) {
    const row = select.get(id) as { rev: string; body: string };
    JSON.parse(row.body);
  }
  return performance.now() - start;
}
