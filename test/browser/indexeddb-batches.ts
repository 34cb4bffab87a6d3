/**
 * A batch of writes is one IndexedDB transaction (issue 15): the database's read of the batch's
 * trees is made in a readwrite transaction that the write then goes in, reading nothing again.
 * Run by indexeddb.test.ts inside Chromium; transactions are counted by watching the page's own
 * `IDBDatabase.prototype.transaction` (IndexedDB itself does the work).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/database/database.js';
import { IndexedDbStorage } from '../../src/storage/indexeddb/indexeddb-storage.js';
import { requested, type IdbFactory } from '../../src/storage/indexeddb/idb.js';
import { collect, docWrite, leaf, newDoc, node } from '../storage/conformance/helpers.js';

interface TransactionPrototype {
  transaction(this: unknown, stores: string | string[], mode?: string, options?: unknown): unknown;
}

const page = globalThis as unknown as {
  indexedDB: IdbFactory;
  IDBDatabase: { prototype: TransactionPrototype };
};

/** Counts the transactions the page opens, by mode, until `stop()`. */
function watchTransactions() {
  const prototype = page.IDBDatabase.prototype;
  const original = prototype.transaction;
  const opened: string[] = [];
  prototype.transaction = function (this: unknown, stores, mode, options) {
    opened.push(mode ?? 'readonly');
    return original.call(this, stores, mode, options);
  };
  return {
    opened,
    stop: () => {
      prototype.transaction = original;
    },
  };
}

export function describeOneTransactionBatches(): void {
  describe('a batch of writes in IndexedDB', () => {
    let name: string;
    let storage: IndexedDbStorage;
    let watch: ReturnType<typeof watchTransactions> | undefined;
    beforeEach(async () => {
      name = `settee-batches-${crypto.randomUUID()}`;
      storage = await IndexedDbStorage.open(name);
    });
    afterEach(async () => {
      watch?.stop();
      watch = undefined;
      await storage.close();
      await requested(page.indexedDB.deleteDatabase(name));
    });

    it('is one readwrite transaction, for new documents and for edits of stored ones', async () => {
      const db = await Database.fromStorage(storage, name);
      const docs = Array.from({ length: 100 }, (_, i) => ({ _id: `doc-${i}`, n: i }));
      watch = watchTransactions();
      const created = await db.bulkDocs(docs);
      expect(watch.opened).toEqual(['readwrite']);

      watch.opened.length = 0;
      const edited = await db.bulkDocs(
        docs.map((doc, i) => ({ ...doc, _rev: created[i]!.rev!, n: 1000 + i })),
      );
      expect(watch.opened).toEqual(['readwrite']);
      watch.stop();

      expect(edited.every((result) => 'ok' in result)).toBe(true);
      const { rows } = await db.allDocs({ include_docs: true });
      expect(new Map(rows.map((row) => [row.id, row.doc?.n]))).toEqual(
        new Map(docs.map((doc, i) => [doc._id, 1000 + i])),
      );
      expect((await storage.stats()).updateSeq).toBe(200);
    });

    it('that fails past its first slice writes nothing and leaves no request unheard', async () => {
      await storage.writeDocs([newDoc('a')]);
      // 60 documents, put 25 a task: the 55th adds a revision already stored, in the third slice.
      const writes = Array.from({ length: 60 }, (_, i) => newDoc(i === 54 ? 'a' : `new-${i}`));
      await expect(storage.writeDocs(writes)).rejects.toThrow();
      // The aborted transaction failed the slices' requests too; an unhandled one would fail the
      // test run (vitest reports the page's unhandled rejections).
      expect((await storage.stats()).updateSeq).toBe(1);
      expect((await collect(storage.changes({ since: 0 }))).map((doc) => doc.id)).toEqual(['a']);
    });

    it('a document another tab created meanwhile is a conflict, not overwritten', async () => {
      const other = await IndexedDbStorage.open(name);
      try {
        const [here, there] = [
          await Database.fromStorage(storage, name),
          await Database.fromStorage(other, name),
        ];
        const { rev } = await there.put({ _id: 'till-7', by: 'there' });
        const results = await here.bulkDocs([{ _id: 'till-7', by: 'here' }, { _id: 'till-8' }]);
        expect(results.map((result) => ('error' in result ? result.error : 'ok'))).toEqual([
          'conflict',
          'ok',
        ]);
        expect(await here.get('till-7')).toEqual({ _id: 'till-7', _rev: rev, by: 'there' });
        expect((await other.stats()).updateSeq).toBe(2);
      } finally {
        await other.close();
      }
    });

    it('goes in a transaction of its own when its read ended before the write was placed', async () => {
      await storage.writeDocs([newDoc('a')]);
      const [read] = await storage.getDocs(['a'], { withTree: true });
      // Another task between the read and the write (here a read of another transaction): the
      // read's transaction has committed meanwhile, having nothing more to do.
      await storage.getMeta('anything');
      watch = watchTransactions();
      const seqs = await storage.writeDocs([
        docWrite('a', [leaf('2-b')], { added: [node('2-b', '1-a', { body: { n: 2 } })] }),
      ]);
      expect(watch.opened).toEqual(['readwrite']);
      expect(read?.seq).toBe(1);
      expect(seqs).toEqual([2]);
      expect(await storage.getRevisions('a', ['2-b'])).toEqual([{ body: '{"n":2}', attachments: undefined }]);
    });

    it('that fails in the transaction of its read writes nothing, and the next one succeeds', async () => {
      await storage.writeDocs([newDoc('a')]);
      await storage.getDocs(['a', 'b'], { withTree: true });
      // Adding a revision already stored fails the whole batch, here in the read's transaction.
      const failing = storage.writeDocs([newDoc('b'), newDoc('a')]);
      await expect(failing).rejects.toThrow();
      expect(await storage.getDocs(['b'])).toEqual([undefined]);
      expect((await storage.stats()).updateSeq).toBe(1);

      await storage.getDocs(['b'], { withTree: true });
      expect(await storage.writeDocs([newDoc('b')])).toEqual([2]);
      expect((await collect(storage.changes({ since: 0 }))).map((doc) => doc.id)).toEqual(['a', 'b']);
    });
  });
}
