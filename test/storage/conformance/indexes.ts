import { beforeEach, describe, expect, it } from 'vitest';
import { encodeKey } from '../../../src/core/mango/key-encoding.js';
import type { IndexEntry, IndexScan } from '../../../src/storage/types.js';
import { type Context, collect, content, docWrite, leaf, newDoc, node } from './helpers.js';

/** The bytes of an array key, as every index row is keyed (`IndexEntry.key`). */
const bytes = (key: number[]): Uint8Array => encodeKey(key).bytes;

/** Bytes as hex, without Node's Buffer: the suite runs in browsers too. */
const hex = (data: Uint8Array): string =>
  Array.from(data, (byte) => byte.toString(16).padStart(2, '0')).join('');

/**
 * A row keyed by this array. The storage orders rows by the bytes; an exact row's bytes are
 * the encoding of its JSON key, which a backend may rebuild rather than read.
 */
function entry(key: number[], value: unknown = null): IndexEntry {
  return {
    key: bytes(key),
    exact: true,
    keyJson: JSON.stringify(key),
    valueJson: value === null ? null : JSON.stringify(value),
  };
}

/** Conformance: secondary index tables — registry, replacement of a document's rows, sorted scans. */
export function indexTests(t: Context): void {
  describe('indexes', () => {
    const rowsOf = async (scan: IndexScan = {}, name = 'ix') =>
      (await collect(t.storage.scanIndex(name, scan))).map((row) => `${row.keyJson}:${row.docId}`);

    beforeEach(async () => {
      await t.storage.openIndex('ix', 'sig-1');
    });

    it('opens empty, lists itself, and keeps what it holds across a reopen', async () => {
      expect(await t.storage.indexes()).toEqual([{ name: 'ix', signature: 'sig-1', seq: 0, rows: 0 }]);
      await t.storage.updateIndex('ix', { seq: 7, docs: [{ id: 'a', rows: [entry([2]), entry([1])] }] });
      const reopened = await t.reopen();
      expect(await reopened.openIndex('ix', 'sig-1')).toEqual({
        name: 'ix',
        signature: 'sig-1',
        seq: 7,
        rows: 2,
      });
      expect(await rowsOf()).toEqual(['[1]:a', '[2]:a']);
    });

    it('orders by key bytes (memcmp: shorter prefix first), then by document id', async () => {
      await t.storage.updateIndex('ix', {
        seq: 3,
        docs: [
          { id: 'b', rows: [entry([5, 1]), entry([5])] },
          { id: 'a', rows: [entry([5, 1]), entry([0xff])] },
          { id: 'c', rows: [entry([5])] },
        ],
      });
      expect(await rowsOf()).toEqual(['[5]:b', '[5]:c', '[5,1]:a', '[5,1]:b', '[255]:a']);
      expect(await rowsOf({ descending: true })).toEqual(['[255]:a', '[5,1]:b', '[5,1]:a', '[5]:c', '[5]:b']);
    });

    it('keeps two equal rows of one document (a view may emit a key twice)', async () => {
      await t.storage.updateIndex('ix', {
        seq: 1,
        docs: [{ id: 'a', rows: [entry([1], 'x'), entry([1], 'y')] }],
      });
      const rows = await collect(t.storage.scanIndex('ix', {}));
      expect(rows.map((row) => row.valueJson).sort()).toEqual(['"x"', '"y"']);
      expect((await t.storage.indexes())[0]?.rows).toBe(2);
    });

    it('gives back each row’s key bytes: a lossy row’s as stored, an exact row’s as its key encodes', async () => {
      // A lossy key's bytes only place it (key-encoding.ts): they cannot be rebuilt from its JSON.
      const lossy: IndexEntry = {
        key: Uint8Array.from([9, 9]),
        exact: false,
        keyJson: '["é"]',
        valueJson: null,
      };
      await t.storage.updateIndex('ix', { seq: 1, docs: [{ id: 'a', rows: [entry([1]), lossy] }] });
      const rows = await collect(t.storage.scanIndex('ix', {}));
      expect(rows.map((row) => [hex(row.key), row.exact])).toEqual([
        [hex(bytes([1])), true],
        ['0909', false],
      ]);
    });

    it('scans a byte range: start inclusive, end inclusive or not, in either direction, with a limit', async () => {
      await t.storage.updateIndex('ix', {
        seq: 1,
        docs: [1, 2, 3, 4, 5].map((n) => ({ id: `d${n}`, rows: [entry([n])] })),
      });
      const key = (n: number) => bytes([n]);
      expect(await rowsOf({ start: key(2), end: key(4) })).toEqual(['[2]:d2', '[3]:d3', '[4]:d4']);
      expect(await rowsOf({ start: key(2), end: key(4), inclusiveEnd: false })).toEqual(['[2]:d2', '[3]:d3']);
      expect(await rowsOf({ start: key(4), end: key(2), descending: true })).toEqual([
        '[4]:d4',
        '[3]:d3',
        '[2]:d2',
      ]);
      expect(await rowsOf({ start: key(4), end: key(2), descending: true, inclusiveEnd: false })).toEqual([
        '[4]:d4',
        '[3]:d3',
      ]);
      expect(await rowsOf({ start: key(2), limit: 2 })).toEqual(['[2]:d2', '[3]:d3']);
      expect(await rowsOf({ end: bytes([2, 0]) })).toEqual(['[1]:d1', '[2]:d2']);
    });

    it('replaces all of a document’s rows on each update, and an empty list removes it', async () => {
      await t.storage.updateIndex('ix', { seq: 1, docs: [{ id: 'a', rows: [entry([1]), entry([2])] }] });
      await t.storage.updateIndex('ix', {
        seq: 2,
        docs: [
          { id: 'a', rows: [entry([3])] },
          { id: 'b', rows: [entry([1])] },
        ],
      });
      expect(await rowsOf()).toEqual(['[1]:b', '[3]:a']);
      await t.storage.updateIndex('ix', { seq: 3, docs: [{ id: 'a', rows: [] }] });
      expect(await rowsOf()).toEqual(['[1]:b']);
      expect(await t.storage.indexes()).toEqual([{ name: 'ix', signature: 'sig-1', seq: 3, rows: 1 }]);
    });

    it('reads every row exactly once across many pages, equal keys included', async () => {
      const docs = Array.from({ length: 1500 }, (_, n) => ({
        id: `d${String(n).padStart(4, '0')}`,
        rows: [entry([n % 3])],
      }));
      await t.storage.updateIndex('ix', { seq: 1, docs });
      const rows = await rowsOf();
      expect(rows).toHaveLength(1500);
      expect(new Set(rows).size).toBe(1500);
      const expected = docs
        .map((doc) => `${doc.rows[0]!.keyJson}:${doc.id}`)
        .sort((a, b) => (a < b ? -1 : 1));
      expect(rows).toEqual(expected);
      expect((await rowsOf({ descending: true })).reverse()).toEqual(expected);
    });

    it('joins each row’s document, current at the time of the scan, and none for a document gone', async () => {
      await t.storage.writeDocs([newDoc('a', '1-a', { n: 1 })]);
      await t.storage.updateIndex('ix', {
        seq: 1,
        docs: [
          { id: 'a', rows: [entry([1])] },
          { id: 'zz', rows: [entry([2])] },
        ],
      });
      const [withDoc, without] = await collect(t.storage.scanIndex('ix', { withDocs: true }));
      expect(withDoc?.doc).toMatchObject({
        id: 'a',
        seq: 1,
        winner: '1-a',
        deleted: false,
        content: content({ n: 1 }),
      });
      expect(without?.docId).toBe('zz');
      expect(without?.doc).toBeUndefined();
      expect((await collect(t.storage.scanIndex('ix', {})))[0]?.doc).toBeUndefined();
    });

    it('empties an index whose signature changed, and leaves other indexes alone', async () => {
      await t.storage.openIndex('other', 'o');
      await t.storage.updateIndex('ix', { seq: 4, docs: [{ id: 'a', rows: [entry([1])] }] });
      await t.storage.updateIndex('other', { seq: 4, docs: [{ id: 'a', rows: [entry([1])] }] });
      expect(await t.storage.openIndex('ix', 'sig-2')).toEqual({
        name: 'ix',
        signature: 'sig-2',
        seq: 0,
        rows: 0,
      });
      expect(await rowsOf()).toEqual([]);
      expect(await rowsOf({}, 'other')).toEqual(['[1]:a']);
    });

    it('drops an index and its rows; opening it again starts empty', async () => {
      await t.storage.updateIndex('ix', { seq: 4, docs: [{ id: 'a', rows: [entry([1])] }] });
      await t.storage.dropIndex('ix');
      await t.storage.dropIndex('never-opened');
      expect(await t.storage.indexes()).toEqual([]);
      expect(await t.storage.openIndex('ix', 'sig-1')).toMatchObject({ seq: 0, rows: 0 });
      expect(await rowsOf()).toEqual([]);
    });

    it('lists the documents of a key range changed after since, by sequence, each once', async () => {
      await t.storage.writeDocs(['a', 'b', 'c', 'd'].map((id) => newDoc(id)));
      await t.storage.updateIndex('ix', {
        seq: 4,
        docs: [
          { id: 'a', rows: [entry([1]), entry([3])] },
          { id: 'b', rows: [entry([2])] },
          { id: 'c', rows: [entry([9])] },
          { id: 'd', rows: [entry([2])] },
        ],
      });
      await t.storage.writeDocs([
        docWrite('b', [leaf('2-b')], { added: [node('2-b', '1-a', { body: { v: 2 } })] }),
      ]);
      const found = await t.storage.indexChanges('ix', {
        start: bytes([1]),
        end: bytes([3]),
        since: 1,
        maxRows: 10,
      });
      expect(found?.asOf).toBe(5);
      const docs = await collect(found!.docs);
      expect(docs.map((doc) => [doc.id, doc.seq])).toEqual([
        ['d', 4],
        ['b', 5],
      ]);
      expect(docs[1]?.content).toEqual(content({ v: 2 }));
      const open = await t.storage.indexChanges('ix', { since: 0, maxRows: 10 });
      expect((await collect(open!.docs)).map((doc) => doc.id)).toEqual(['a', 'c', 'd', 'b']);
    });

    it('answers undefined when the range holds more than maxRows rows, and skips a document changed after the list was made', async () => {
      await t.storage.writeDocs(['a', 'b', 'c'].map((id) => newDoc(id)));
      await t.storage.updateIndex('ix', {
        seq: 3,
        docs: ['a', 'b', 'c'].map((id) => ({ id, rows: [entry([1])] })),
      });
      expect(await t.storage.indexChanges('ix', { since: 0, maxRows: 2 })).toBeUndefined();
      const found = await t.storage.indexChanges('ix', { since: 0, maxRows: 3 });
      await t.storage.writeDocs([
        docWrite('a', [leaf('2-a')], { added: [node('2-a', '1-a', { body: {} })] }),
      ]);
      expect((await collect(found!.docs)).map((doc) => doc.id)).toEqual(['b', 'c']);
      expect(found?.asOf).toBe(3);
    });
  });
}
