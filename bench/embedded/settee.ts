/** Settee's side of the bulk write and read scenarios. */
import type { NewDoc, WriteResult } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { gc } from '../lib.js';

/** Writes every batch into a new database (durability `full`); returns it open, and the time. */
export async function setteeWrite(
  path: string,
  batches: NewDoc[][],
  newEdits: boolean,
): Promise<{ db: Database; ms: number }> {
  const db = await Database.open(path, { durability: 'full' });
  const results: WriteResult[][] = [];
  gc(); // the garbage of building the batches is not billed to the writes
  const start = performance.now();
  for (const batch of batches) results.push(await db.bulkDocs(batch, { newEdits }));
  const ms = performance.now() - start;
  const failed = results.flat().find((result) => !('ok' in result));
  if (failed) throw new Error(`Settee bulkDocs failed: ${JSON.stringify(failed)}`);
  return { db, ms };
}

export async function setteeGets(db: Database, ids: readonly string[]): Promise<number> {
  const start = performance.now();
  for (const id of ids) {
    const doc = await db.get(id);
    if (doc._id !== id) throw new Error(`Settee get(${id}) returned ${doc._id}`);
  }
  return performance.now() - start;
}

/** A full changes read with the documents, streamed. */
export async function setteeChanges(db: Database, limit?: number): Promise<{ ms: number; rows: number }> {
  const start = performance.now();
  let rows = 0;
  const feed = db.changesFeed(limit === undefined ? { include_docs: true } : { include_docs: true, limit });
  for await (const row of feed) if (row.doc) rows++;
  return { ms: performance.now() - start, rows };
}

/** A full allDocs read with the documents, streamed. */
export async function setteeAllDocs(db: Database, limit?: number): Promise<{ ms: number; rows: number }> {
  const start = performance.now();
  let rows = 0;
  const stream = db.allDocsStream(
    limit === undefined ? { include_docs: true } : { include_docs: true, limit },
  );
  for await (const row of stream) if (row.doc) rows++;
  return { ms: performance.now() - start, rows };
}
