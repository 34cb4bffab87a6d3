import { describe, expect, it } from 'vitest';
import type { Database } from '../../src/database/database.js';
import { useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();

/** How many documents are at a seq after `since`, counted from the whole feed. */
async function changedAfter(db: Database, since: number): Promise<number> {
  const { results } = await db.changes();
  return results.filter((row) => row.seq > since).length;
}

describe('pending', () => {
  // CouchDB's `pending` counts the documents changed after the feed's seq: fabric_rpc:changes/4
  // starts it at couch_db:count_changes_since(Db, StartSeq) (apache/couchdb,
  // src/fabric/src/fabric_rpc.erl). Settee counts exactly near the end and estimates far from
  // it; the exact count is a changes scan bounded at 1,000 rows, not a method of Storage.
  it('is exact within 1,000 seqs of the end, every seq there held by a document or not', async () => {
    const db = await dbs.open();
    const ids = Array.from({ length: 1500 }, (_, i) => `d${String(i).padStart(4, '0')}`);
    const written = await db.bulkDocs(ids.map((_id) => ({ _id })));
    // Rewrite every other one of the first 600: they move to seqs 1501…1800, leaving holes.
    const rewrites = written.slice(0, 600).filter((_, i) => i % 2 === 0);
    await db.bulkDocs(rewrites.map((row) => ({ _id: row.id, _rev: (row as { rev: string }).rev, v: 2 })));
    const end = db.updateSeq();
    expect(end).toBe(1800);
    for (const since of [end - 1000, end - 999, end - 700, end - 1, end]) {
      const { pending } = await db.changes({ since, limit: 0 });
      expect({ since, pending }).toEqual({ since, pending: await changedAfter(db, since) });
    }
    // 1,000 seqs before the end, all held by distinct documents: the bound itself is exact.
    expect((await db.changes({ since: 800, limit: 0 })).pending).toBe(1000);
  });
});
