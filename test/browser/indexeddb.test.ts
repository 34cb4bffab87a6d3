/**
 * The IndexedDB backend in a real headless Chromium (vitest's browser mode, the `browser`
 * project of vitest.config.ts): the storage conformance suite every backend runs, then what is
 * IndexedDB's own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import { Database } from '../../src/database/database.js';
import { type IdbFactory, requested } from '../../src/storage/indexeddb/idb.js';
import { IndexedDbStorage } from '../../src/storage/indexeddb/indexeddb-storage.js';
import { createVersion1, type DocRow, SCHEMA_VERSION } from '../../src/storage/indexeddb/schema.js';
import type { Storage } from '../../src/storage/types.js';
import { runStorageTests } from '../storage/conformance.js';
import { describeCreations } from '../database/creations.js';
import { describeOneTransactionBatches } from './indexeddb-batches.js';
import { collect, newDoc, numberedId } from '../storage/conformance/helpers.js';

/** What the tests use of the page, typed here: the project's TypeScript has no DOM library. */
interface Page {
  indexedDB: IdbFactory & { databases(): Promise<{ name?: string }[]> };
  navigator: {
    storageBuckets: {
      open(name: string, options: { quota: number }): Promise<{ indexedDB: IdbFactory }>;
      delete(name: string): Promise<void>;
    };
  };
}
const page = globalThis as unknown as Page;

/** A database of its own for each test; every storage opened is closed and the database deleted. */
function freshPlace() {
  const name = `settee-test-${crypto.randomUUID()}`;
  const opened: Storage[] = [];
  const open = async () => {
    const storage = await IndexedDbStorage.open(name);
    opened.push(storage);
    return storage;
  };
  const cleanup = async () => {
    for (const storage of opened) await storage.close();
    await requested(page.indexedDB.deleteDatabase(name));
  };
  return { name, open, cleanup };
}

describeOneTransactionBatches();

describe('Database on IndexedDB', () => {
  const opened: { db: Database; place: ReturnType<typeof freshPlace> }[] = [];
  afterEach(async () => {
    for (const { db, place } of opened.splice(0)) {
      await db.close();
      await place.cleanup();
    }
  });
  describeCreations(async () => {
    const place = freshPlace();
    const db = await Database.fromStorage(await place.open(), place.name);
    opened.push({ db, place });
    return db;
  });
});

runStorageTests('IndexedDbStorage', async () => {
  const place = freshPlace();
  return { storage: await place.open(), reopen: place.open, cleanup: place.cleanup };
});

describe('IndexedDbStorage in Chromium', () => {
  let place: ReturnType<typeof freshPlace>;
  beforeEach(() => {
    place = freshPlace();
  });
  afterEach(async () => {
    await place.cleanup();
  });

  it('Database.open(name) opens or creates the IndexedDB database of that name', async () => {
    await import('../../src/storage/indexeddb/open.js');
    const db = await Database.open(place.name);
    try {
      await db.put({ _id: 'sale-1', total: 12 });
      expect((await page.indexedDB.databases()).map((found) => found.name)).toContain(place.name);
    } finally {
      await db.close();
    }
    const again = await Database.open(place.name);
    try {
      expect(await again.get('sale-1')).toMatchObject({ _id: 'sale-1', total: 12 });
    } finally {
      await again.close();
    }
  });

  // Each tab has its own connection: counters read from the database, never kept in memory, so
  // neither tab hands out a sequence the other has used.
  it('two connections (two tabs) writing in turn share sequences and counts', async () => {
    const first = await place.open();
    const second = await place.open();
    expect(await first.writeDocs([newDoc('a'), newDoc('b')])).toEqual([1, 2]);
    expect(await second.writeDocs([newDoc('c')])).toEqual([3]);
    expect(await first.writeDocs([newDoc('d')])).toEqual([4]);
    for (const storage of [first, second]) {
      expect(await storage.stats()).toMatchObject({ docCount: 4, updateSeq: 4 });
      expect((await collect(storage.changes({ since: 0 }))).map((doc) => doc.id)).toEqual([
        'a',
        'b',
        'c',
        'd',
      ]);
    }
  });

  // Earlier versions stored the winner's node in `revs` too; the same database must read and
  // edit as before, and a stored winner must still refuse being added again.
  it("reads and edits a document whose winner's node is in revs, as earlier versions stored it", async () => {
    const db = await Database.fromStorage(await place.open(), place.name);
    const { rev: first } = await db.put({ _id: 'sale-1', total: 12 });
    await db.close();
    const raw = await requested(page.indexedDB.open(place.name, SCHEMA_VERSION));
    await new Promise<void>((resolve, reject) => {
      const tx = raw.transaction(['docs', 'revs'], 'readwrite');
      const docs = tx.objectStore('docs');
      const revs = tx.objectStore('revs');
      const read = docs.get('sale-1');
      read.onsuccess = () => {
        const { parent: _parent, ...earlier } = read.result as Record<string, unknown>;
        docs.put(earlier);
        revs.add({
          doc: 'sale-1',
          rev: first,
          parent: null,
          deleted: false,
          leaf: true,
          body: null,
          atts: null,
        });
      };
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
    raw.close();
    const reopened = await Database.fromStorage(await place.open(), place.name);
    expect(await reopened.get('sale-1', { revs: true })).toMatchObject({ _rev: first, total: 12 });
    const { rev: second } = await reopened.put({ _id: 'sale-1', _rev: first, total: 13 });
    expect(await reopened.get('sale-1', { revs: true })).toMatchObject({
      _rev: second,
      total: 13,
      _revisions: { start: 2, ids: [second.slice(2), first.slice(2)] },
    });
    expect(await reopened.get('sale-1', { rev: first })).toMatchObject({ total: 12 });
    await expect(reopened.put({ _id: 'sale-1', _rev: first, total: 14 })).rejects.toMatchObject({
      error: 'conflict',
    });
    await reopened.close();
  });

  it('reads a scan a page at a time', async () => {
    const storage = await place.open();
    await storage.writeDocs(Array.from({ length: 1100 }, (_, n) => newDoc(numberedId(n))));
    for (const scan of [storage.changes({ since: 0 }), storage.docs({ descending: true })]) {
      const sizes: number[] = [];
      for await (const page of scan) sizes.push(page.length);
      expect(sizes).toEqual([512, 512, 76]);
    }
  });

  it('a full quota fails the write with a typed error, writing nothing', async () => {
    // A storage bucket of its own, with a quota of 1 MB that Chromium enforces.
    const bucketName = `quota-${crypto.randomUUID()}`;
    const bucket = await page.navigator.storageBuckets.open(bucketName, { quota: 1_000_000 });
    const storage = await IndexedDbStorage.open(place.name, { indexedDB: bucket.indexedDB });
    try {
      await storage.writeDocs([newDoc('kept')]);
      const big = { digest: 'md5-big', data: new Uint8Array(4_000_000).fill(7) };
      const write = storage.writeDocs([newDoc('lost')], [big]);
      await expect(write).rejects.toBeInstanceOf(SetteeError);
      await expect(write).rejects.toMatchObject({ error: 'quota_exceeded', status: 507 });
      await expect(write).rejects.toThrow(/quota .* used up: the write was not saved/);
      expect(await storage.getDocs(['kept', 'lost'])).toEqual([
        expect.objectContaining({ seq: 1 }),
        undefined,
      ]);
      expect(await storage.getAttachment('md5-big')).toBeUndefined();
      expect(await storage.stats()).toMatchObject({ docCount: 1, updateSeq: 1 });
      expect(await storage.writeDocs([newDoc('after')])).toEqual([2]);
    } finally {
      await storage.close();
      await page.navigator.storageBuckets.delete(bucketName);
    }
  });

  it('upgrades a database of the first layout: its documents kept, sequences no longer unique-checked', async () => {
    const first = page.indexedDB.open(place.name, 1);
    first.onupgradeneeded = () => createVersion1(first.result);
    const raw = await requested(first);
    await new Promise<void>((resolve, reject) => {
      const tx = raw.transaction(['docs', 'state'], 'readwrite');
      ['apple', 'pear'].forEach((id, i) => {
        const row: DocRow = {
          ...{ key: id, id, seq: i + 1, winner: `1-${id}`, deleted: false, parent: null },
          ...{ leaves: null, body: JSON.stringify({ fruit: id }), atts: null },
        };
        tx.objectStore('docs').put(row);
      });
      tx.objectStore('state').put(
        { docCount: 2, deletedCount: 0, updateSeq: 2, contentBytes: 0, garbageBytes: 0, lastIndexNum: 0 },
        'state',
      );
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error);
    });
    raw.close();
    const db = await Database.fromStorage(await place.open(), place.name);
    expect(await db.get('pear')).toEqual({ _id: 'pear', _rev: '1-pear', fruit: 'pear' });
    const { rev } = await db.put({ _id: 'apple', _rev: '1-apple', fruit: 'green apple' });
    const { results } = await db.changes({ since: 0 });
    expect(results.map((row) => [row.seq, row.id, row.changes[0]!.rev])).toEqual([
      [2, 'pear', '1-pear'],
      [3, 'apple', rev],
    ]);
    await db.close();
    const upgraded = await requested(page.indexedDB.open(place.name, SCHEMA_VERSION));
    const seqIndex = upgraded.transaction('docs', 'readonly').objectStore('docs').index('seq');
    expect([upgraded.version, (seqIndex as unknown as { unique: boolean }).unique]).toEqual([2, false]);
    upgraded.close();
  });

  it('refuses a database of a newer schema, leaving it as it was', async () => {
    const newer = page.indexedDB.open(place.name, SCHEMA_VERSION + 1);
    newer.onupgradeneeded = () => newer.result.createObjectStore('future');
    (await requested(newer)).close();
    await expect(IndexedDbStorage.open(place.name)).rejects.toThrow(/schema newer than this Settee's/);
    const untouched = await requested(page.indexedDB.open(place.name, SCHEMA_VERSION + 1));
    expect([untouched.version, Array.from(untouched.objectStoreNames)]).toEqual([
      SCHEMA_VERSION + 1,
      ['future'],
    ]);
    untouched.close();
  });

  it('a connection closed by another tab deleting the database fails with a typed error', async () => {
    const other = await place.open();
    const storage = await place.open();
    await storage.writeDocs([newDoc('a')]);
    // Deleting waits for every connection to close: `other` closes when asked.
    await other.destroy();
    await expect(storage.getDocs(['a'])).rejects.toMatchObject({ error: 'unavailable' });
    await expect(storage.close()).resolves.toBeUndefined();
  });
});
