/**
 * On PostgreSQL every statement is a round trip to another process and a planner run: a batch of
 * the replication protocol must cost the same few statements whatever its size, never one per
 * document. Counted on a real pool, each of its connections counting the statements it sends
 * (they still run); the reader is a second Database on a pool of its own, as another server with
 * a cold cache is. A real PostgreSQL, a database of the run's cluster (test/storage/use-postgres.ts);
 * nothing is mocked.
 */
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import type { NewDoc, WriteOk } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { PostgresStorage } from '../../src/storage/postgres/postgres-storage.js';
import { usePostgres } from '../storage/use-postgres.js';

const postgres = usePostgres();

/** A pool whose connections count every statement they send, from their first. */
function countingPool(): { pool: pg.Pool; statements: () => number } {
  let statements = 0;
  const pool = postgres.pool();
  pool.on('connect', (client) => {
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    (client as { query: unknown }).query = (...args: unknown[]) => {
      statements++;
      return query(...args);
    };
  });
  return { pool, statements: () => statements };
}

/** The same PostgreSQL database opened by a writer and by a counted reader, as two servers. */
async function twoServers(): Promise<{ writer: Database; reader: Database; statements: () => number }> {
  const name = `db-${randomUUID()}`;
  const writer = await Database.fromStorage(await PostgresStorage.open(postgres.pool(), name), name);
  const counted = countingPool();
  const reader = await Database.fromStorage(await PostgresStorage.open(counted.pool, name), name);
  return { writer, reader, statements: counted.statements };
}

/** Statements `action` sent through the counted pool. */
async function cost(statements: () => number, action: () => Promise<unknown>): Promise<number> {
  const before = statements();
  await action();
  return statements() - before;
}

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);

/** Documents with two revisions each (a tree to read), and their current revisions. */
async function editedTwice(db: Database, docIds: readonly string[]): Promise<string[]> {
  const first = (await db.bulkDocs(docIds.map((_id) => ({ _id, v: 1 })))) as WriteOk[];
  const second = await db.bulkDocs(docIds.map((_id, i) => ({ _id, _rev: first[i]!.rev, v: 2 })));
  return (second as WriteOk[]).map((result) => result.rev);
}

const SMALL = ids('small', 10);
const LARGE = ids('large', 200);

/** The batches measured and one to warm up with, written: each document's current revision. */
async function seeded(writer: Database): Promise<Map<string, string>> {
  const revs = new Map<string, string>();
  for (const batch of [SMALL, LARGE, ['warm-up']]) {
    (await editedTwice(writer, batch)).forEach((rev, i) => revs.set(batch[i]!, rev));
  }
  return revs;
}

describe('PostgreSQL statements per replication batch', () => {
  it('_bulk_get and _revs_diff cost the same few statements for 10 documents as for 200', async () => {
    const { writer, reader, statements } = await twoServers();
    try {
      const revs = await seeded(writer);
      const bulkGet = (batch: readonly string[]) =>
        reader.bulkGet(
          { docs: batch.map((id) => ({ id, rev: revs.get(id)! })) },
          { revs: true, latest: true },
        );
      const revsDiff = (batch: readonly string[]) =>
        reader.revsDiff(Object.fromEntries(batch.map((id) => [id, [revs.get(id)!, '3-abc']])));
      // The first call opens the pool's connections: not what is measured.
      await bulkGet(['warm-up']);

      const got = await bulkGet(LARGE);
      expect(got.results.every(({ docs }) => docs.length === 1 && 'ok' in docs[0]!)).toBe(true);
      const bulkGetSmall = await cost(statements, () => bulkGet(SMALL));
      expect(await cost(statements, () => bulkGet(LARGE))).toBe(bulkGetSmall);
      // Summaries, trees, bodies.
      expect(bulkGetSmall).toBeLessThanOrEqual(3);

      expect(Object.keys(await revsDiff(LARGE))).toHaveLength(200);
      const revsDiffSmall = await cost(statements, () => revsDiff(SMALL));
      expect(await cost(statements, () => revsDiff(LARGE))).toBe(revsDiffSmall);
      expect(revsDiffSmall).toBeLessThanOrEqual(2);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('a _bulk_docs batch, replicated or edited, costs the same statements for 10 documents as for 200', async () => {
    const { writer, reader, statements } = await twoServers();
    try {
      const current = await seeded(writer);
      // Replicated children of each document's revision, as a replicator sends them.
      const replicated = (batch: readonly string[]): NewDoc[] =>
        batch.map((_id) => {
          const [, parent] = current.get(_id)!.split('-');
          return {
            _id,
            _rev: `3-${'c'.repeat(32)}`,
            _revisions: { start: 3, ids: ['c'.repeat(32), parent!] },
          };
        });
      const edited = (batch: readonly string[]): NewDoc[] =>
        batch.map((_id) => ({ _id, _rev: `3-${'c'.repeat(32)}`, v: 4 }));
      await reader.bulkDocs(replicated(['warm-up']), { newEdits: false });

      const replicateSmall = await cost(statements, () =>
        reader.bulkDocs(replicated(SMALL), { newEdits: false }),
      );
      expect(await cost(statements, () => reader.bulkDocs(replicated(LARGE), { newEdits: false }))).toBe(
        replicateSmall,
      );
      const editSmall = await cost(statements, () => reader.bulkDocs(edited(SMALL)));
      const editLarge = await cost(statements, () => reader.bulkDocs(edited(LARGE)));
      expect(editLarge).toBe(editSmall);
      expect((await writer.get('large-199'))._rev).toMatch(/^4-/);
    } finally {
      await writer.close();
      await reader.close();
    }
  });

  it('a checkpoint write (a _local document) costs one statement, its own transaction', async () => {
    const { writer, reader, statements } = await twoServers();
    try {
      await reader.putLocal({ _id: '_local/warm-up', n: 0 });
      const put = (n: number) =>
        reader.putLocal({ _id: '_local/checkpoint', _rev: n ? `0-${n}` : undefined, n });
      expect(await cost(statements, () => put(0))).toBe(1);
      expect(await cost(statements, () => put(1))).toBe(1);
      expect(await writer.getLocal('_local/checkpoint')).toMatchObject({ n: 1, _rev: '0-2' });
    } finally {
      await writer.close();
      await reader.close();
    }
  });
});
