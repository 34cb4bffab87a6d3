/**
 * Two Databases over one PostgreSQL database, each with its own pool — as two servers are — write
 * the same documents at once. A write computed from a tree the other changed meanwhile is refused
 * by the storage (`DocWrite.base`) and computed again: no edit is lost, no tree goes wrong.
 * A real PostgreSQL, a database of the run's cluster (test/storage/use-postgres.ts); nothing is mocked.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Doc, WriteResult } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { usePostgres } from '../storage/use-postgres.js';

const postgres = usePostgres();

/** The same database opened by two "servers". */
async function twoServers(): Promise<[Database, Database, () => Promise<void>]> {
  const name = `db-${randomUUID()}`;
  const [a, b] = await Promise.all(
    [postgres.pool(), postgres.pool()].map(async (pool) =>
      Database.fromStorage(await PostgresStorage.open(pool, name), name),
    ),
  );
  return [a!, b!, async () => (await a!.close(), await b!.close())];
}

/** Every revision id on the path of each leaf: what the tree holds. */
async function revisionsHeld(db: Database, id: string): Promise<Set<string>> {
  const held = new Set<string>();
  for (const leaf of await db.getOpenRevs(id, 'all', { revs: true })) {
    if (!('ok' in leaf)) continue;
    const { start, ids } = (leaf.ok as Doc)._revisions!;
    ids.forEach((hash, i) => held.add(`${start - i}-${hash}`));
  }
  return held;
}

const succeeded = (results: WriteResult[]) => results.flatMap((r) => ('ok' in r ? [r.rev] : []));

describe('two servers writing one PostgreSQL database', () => {
  it('lets one of two edits of the same revision win and refuses the other as a conflict, losing none', async () => {
    const [a, b, close] = await twoServers();
    try {
      let { rev } = await a.put({ _id: 'till', total: 0 });
      for (let round = 1; round <= 15; round++) {
        const results = await Promise.all([
          a.bulkDocs([{ _id: 'till', _rev: rev, total: round, by: 'a' }]),
          b.bulkDocs([{ _id: 'till', _rev: rev, total: round, by: 'b' }]),
        ]);
        const wins = succeeded(results.flat());
        expect(wins).toHaveLength(1);
        expect(results.flat().filter((r) => 'error' in r && r.error === 'conflict')).toHaveLength(1);
        rev = wins[0]!;
      }
      const leaves = await b.getOpenRevs('till', 'all');
      expect(leaves).toHaveLength(1);
      expect((await a.get('till'))._rev).toBe(rev);
      expect((await b.info()).update_seq).toBe(16);
    } finally {
      await close();
    }
  });

  it('writes a replicated branch while the other server writes the same document without pause', async () => {
    const [a, b, close] = await twoServers();
    // A replicated branch always adds to the tree, so a stale one is never refused as a conflict:
    // retried from re-read trees, it could lose every race to a writer that never pauses.
    const branch = (by: string, n: number) => {
      const hash = `${by}${String(n).padStart(31, '0')}`;
      return {
        _id: 'hot',
        _rev: `2-${hash}`,
        by,
        _revisions: { start: 2, ids: [hash, 'root'.padEnd(32, '0')] },
      };
    };
    let written = 0;
    let stop = false;
    const steady = (async () => {
      for (let n = 0; !stop && n < 100_000; n++) {
        await b.bulkDocs([branch('b', n)], { newEdits: false });
        written = n + 1;
      }
    })();
    try {
      const results: WriteResult[] = [];
      // With a local document, written once its batch is committed, whichever way that went.
      for (let n = 0; n < 30; n++) {
        const batch = [branch('a', n), { _id: '_local/progress', n }];
        results.push(...(await a.bulkDocs(batch, { newEdits: false })));
      }
      stop = true;
      await steady;
      expect(results.filter((r) => 'error' in r)).toEqual([]);
      const held = await revisionsHeld(b, 'hot');
      for (let n = 0; n < 30; n++) expect(held).toContain(branch('a', n)._rev);
      for (let n = 0; n < written; n++) expect(held).toContain(branch('b', n)._rev);
      expect(await b.getLocal('_local/progress')).toMatchObject({ n: 29 });
    } finally {
      stop = true;
      await steady.catch(() => undefined);
      await close();
    }
  });

  it('keeps every branch replicated through either server at once, as one server would (property)', async () => {
    const [a, b, close] = await twoServers();
    // The single-server result: the same writes, one after the other, on one SQLite database.
    const folder = mkdtempSync(path.join(tmpdir(), 'settee-pg-single-'));
    const single = await Database.open(path.join(folder, 'single.sqlite'));
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 3 })), {
            minLength: 2,
            maxLength: 12,
          }),
          async (writes) => {
            const id = `doc-${randomUUID()}`;
            // Each write: a branch of `depth` revisions under a root shared by some of them.
            const sent = writes.map(([throughA, root, depth], n) => {
              // Distinct per write and per generation: `n` first and fixed-width, so 1 and 10 differ.
              const ids = Array.from({ length: depth }, (_, i) =>
                `${String(n).padStart(2, '0')}${'b'.repeat(i + 1)}`.padEnd(32, '0'),
              );
              ids.push(`r${root}`.padEnd(32, '0'));
              return {
                throughA,
                doc: { _id: id, _rev: `${depth + 1}-${ids[0]}`, n, _revisions: { start: depth + 1, ids } },
              };
            });
            const results = await Promise.all(
              sent.map(({ throughA, doc }) => (throughA ? a : b).bulkDocs([doc], { newEdits: false })),
            );
            expect(results.flat().every((r) => 'ok' in r || !('error' in r))).toBe(true);
            const held = await revisionsHeld(a, id);
            for (const { doc } of sent) {
              doc._revisions.ids.forEach((hash, i) =>
                expect(held).toContain(`${doc._revisions.start - i}-${hash}`),
              );
            }
            expect(await revisionsHeld(b, id)).toEqual(held);
            for (const { doc } of sent) await single.bulkDocs([doc], { newEdits: false });
            expect(await revisionsHeld(single, id)).toEqual(held);
            const shown = async (db: Database) => db.get(id, { conflicts: true });
            expect(await shown(a)).toEqual(await shown(single));
            expect(await shown(b)).toEqual(await shown(single));
          },
        ),
        { numRuns: 20 },
      );
    } finally {
      await close();
      await single.close();
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
