/**
 * A changes feed filtered by a selector reads from a Mango index that serves the selector, and
 * gives exactly what reading every change gives. Real SQLite files; the storage is watched
 * through a proxy that counts the calls (it forwards everything to the real SqliteStorage).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeRow, ChangesOptions } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { Storage } from '../../src/storage/types.js';

const opened: { db: Database; dir: string }[] = [];
afterEach(async () => {
  for (const { db, dir } of opened.splice(0)) {
    await db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

/** A database over real SQLite storage, with a count of the changes scans and index reads. */
async function watchedDatabase(): Promise<{
  db: Database;
  calls: { changes: number; indexChanges: number };
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-selector-'));
  const storage = new SqliteStorage(path.join(dir, 'db.sqlite'));
  const calls = { changes: 0, indexChanges: 0 };
  const watched = new Proxy(storage, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      if (property === 'changes') calls.changes++;
      if (property === 'indexChanges') calls.indexChanges++;
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  }) as Storage;
  const db = await Database.fromStorage(watched, 'watched');
  opened.push({ db, dir });
  return { db, calls };
}

const summary = (rows: ChangeRow[]) =>
  rows.map((row) => [row.id, row.changes.map((c) => c.rev).sort(), row.deleted ?? false]);

describe('_changes filtered by a selector, through an index', () => {
  it('reads the index instead of every change and answers the same, deletions with their fields included', async () => {
    const { db, calls } = await watchedDatabase();
    await db.bulkDocs(
      Array.from({ length: 300 }, (_, n) => ({
        _id: `d${String(n).padStart(3, '0')}`,
        till: `t${n % 30}`,
        n,
      })),
    );
    const gone = await db.get('d007');
    await db.put({ ...gone, _deleted: true }); // a tombstone that kept its fields
    const bare = await db.get('d037');
    await db.remove('d037', bare._rev); // a tombstone without them
    const options: ChangesOptions = { selector: { till: 't7' } };
    const scanned = await db.changes(options);
    expect(calls.indexChanges).toBe(0);
    await db.createIndex({ index: { fields: ['till'] } });
    const before = calls.changes;
    const indexed = await db.changes(options);
    expect(calls.indexChanges).toBe(1);
    expect(summary(indexed.results)).toEqual(summary(scanned.results));
    expect(indexed.results.map((row) => row.id)).toContain('d007');
    expect(indexed.last_seq).toBe(db.updateSeq());
    // Past the index's snapshot only the changes after it are read (none here): one short scan.
    expect(calls.changes - before).toBeLessThanOrEqual(2);
  });

  it('with style=all_docs, lists a document whose losing leaf matches though its winner does not', async () => {
    const { db } = await watchedDatabase();
    await db.bulkDocs(Array.from({ length: 50 }, (_, n) => ({ _id: `f${n}`, kind: 'filler' })));
    await db.createIndex({ index: { fields: ['kind'] } });
    await db.bulkDocs(
      [
        { _id: 'x', kind: 'sale', _rev: '1-aaaa', _revisions: { start: 1, ids: ['aaaa'] } },
        { _id: 'x', kind: 'refund', _rev: '1-bbbb', _revisions: { start: 1, ids: ['bbbb'] } },
      ],
      { newEdits: false },
    );
    const options: ChangesOptions = { selector: { kind: 'sale' }, style: 'all_docs' };
    const answer = await db.changes(options);
    expect(summary(answer.results)).toEqual([['x', ['1-aaaa'], false]]);
    expect(summary((await db.changes({ ...options, style: 'main_only' })).results)).toEqual([]);
  });

  it('gives what reading every change gives, for random writes and selectors (property)', async () => {
    const { db, calls } = await watchedDatabase();
    await db.createIndex({ index: { fields: ['a', 'b'] } });
    const value = fc.oneof(fc.integer({ min: 0, max: 4 }), fc.constantFrom('x', 'y', 'é', null));
    const write = fc.record({ id: fc.integer({ min: 0, max: 40 }), a: value, b: value, del: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(
        fc.array(write, { minLength: 1, maxLength: 60 }),
        value,
        fc.nat({ max: 100 }),
        async (writes, a, from) => {
          for (const w of writes) {
            const id = `w${w.id}`;
            const existing = await db.get(id).catch(() => undefined);
            const body = { _id: id, a: w.a, b: w.b, ...(existing ? { _rev: existing._rev } : {}) };
            await db.put(w.del && existing ? { ...body, _deleted: true } : body);
          }
          const since = Math.max(0, db.updateSeq() - from);
          const selector = { a, b: { $gte: 0 } };
          const viaIndex = await db.changes({ selector, since });
          // The same question without an index that serves it: `$or` keeps the planner off indexes.
          const viaScan = await db.changes({ selector: { $or: [selector] }, since });
          expect(summary(viaIndex.results)).toEqual(summary(viaScan.results));
        },
      ),
      { numRuns: 25 },
    );
    expect(calls.indexChanges).toBeGreaterThan(10);
  });
});
