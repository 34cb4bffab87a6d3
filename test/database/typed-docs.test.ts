/**
 * Typed documents, as PouchDB types them (`get<Model>()`): a document type given once flows
 * through reads, edits and writes without casts, on a local Database and a RemoteDatabase alike.
 * The `expectTypeOf` lines are checked by `tsc` (`npm test` runs the typecheck); the rest runs.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Doc, Fields } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { RemoteDatabase } from '../../src/remote/index.js';
import { ADMIN, type TestServer, useServerPerFile } from '../server/harness.js';
import { useTempDatabases } from './helpers.js';

/** An application's document, declared as an interface (which has no index signature). */
interface Sale {
  type: 'sale';
  total: number;
  lines: { sku: string; qty: number }[];
}

async function roundTrip(db: Database | RemoteDatabase): Promise<void> {
  await db.put<Sale>({ _id: 's1', type: 'sale', total: 12, lines: [{ sku: 'tea', qty: 2 }] });

  const sale = await db.get<Sale>('s1');
  expectTypeOf(sale).toEqualTypeOf<Doc<Sale>>();
  expectTypeOf(sale.total).toEqualTypeOf<number>();
  expectTypeOf(sale._rev).toEqualTypeOf<string>();
  // Edited and written back as it was read: no cast.
  sale.total += 3;
  sale.lines.push({ sku: 'scone', qty: 1 });
  const written = await db.put(sale);
  await db.bulkDocs([{ ...sale, _rev: written.rev, total: 20 }]);

  const listed = await db.allDocs<Sale>({ include_docs: true });
  const row = listed.rows[0]!;
  expectTypeOf(row.doc).toEqualTypeOf<Doc<Sale> | null | undefined>();
  expect(row.doc?.total).toBe(20);
  expect(row.doc?.lines.map((line) => line.sku)).toEqual(['tea', 'scone']);

  const feed = await db.changes<Sale>({ include_docs: true });
  expectTypeOf(feed.results[0]!.doc).toEqualTypeOf<Doc<Sale> | undefined>();
  expect(feed.results.map((change) => change.doc?.total)).toEqual([20]);

  // Without a type argument the fields are unknown JSON, as before, whatever the context asks.
  const plain = await db.get('s1');
  expectTypeOf(plain).toEqualTypeOf<Doc<Fields>>();
  expectTypeOf(plain.total).toEqualTypeOf<unknown>();
  const annotated: Doc | undefined = await db.get('s1');
  expect(annotated?._id).toBe('s1');
}

describe('typed documents', () => {
  const dbs = useTempDatabases();
  let server: TestServer;
  let name = '';
  useServerPerFile(
    (started) => (server = started),
    (created) => (name = created),
  );

  it('flow through a local Database without casts', async () => {
    await roundTrip(await dbs.open());
  });

  it('flow through a RemoteDatabase without casts', async () => {
    const auth = { username: ADMIN.name, password: ADMIN.password };
    await roundTrip(new RemoteDatabase(`${server.url}/${name}`, { auth }));
  });
});
