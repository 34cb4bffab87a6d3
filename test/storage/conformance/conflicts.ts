import { beforeEach, describe, expect, it } from 'vitest';
import type { ConflictsScan, DocWrite } from '../../../src/storage/types.js';
import {
  compactFully,
  type Context,
  collect,
  compareCodePoints,
  content,
  docWrite,
  leaf,
  newDoc,
  node,
  numberedId,
  stored,
} from './helpers.js';

/** A new document with two live branches `1-x` and `1-y`: `1-y` wins, `1-x` is its conflict. */
function conflictedDoc(id: string): DocWrite {
  return docWrite(id, [leaf('1-y'), leaf('1-x')], {
    added: [node('1-x', null, { body: { v: 'x' } }), node('1-y', null, { body: { v: 'y' } })],
  });
}

/**
 * Conformance: the index of conflicted documents (a live leaf besides the winner), kept by
 * every write, listed by id in pages and counted.
 */
export function conflictsTests(t: Context): void {
  describe('conflicts', () => {
    const idsOf = async (options: ConflictsScan = {}) =>
      (await collect(t.storage.conflicts(options))).map((doc) => doc.id);

    it('lists nothing in an empty storage or one without conflicts', async () => {
      expect(await idsOf()).toEqual([]);
      expect(await t.storage.countConflicts()).toBe(0);
      await t.storage.writeDocs([newDoc('a'), newDoc('b')]);
      expect(await idsOf()).toEqual([]);
      expect(await t.storage.countConflicts()).toBe(0);
    });

    it('lists a document with a live leaf besides the winner, as its summary', async () => {
      await t.storage.writeDocs([newDoc('a'), conflictedDoc('c'), newDoc('d')]);
      const listed = await collect(t.storage.conflicts({}));
      expect(listed).toEqual([
        { id: 'c', seq: 2, winner: '1-y', deleted: false, leaves: [leaf('1-y'), leaf('1-x')] },
      ]);
      expect(await t.storage.countConflicts()).toBe(1);
    });

    it('leaves out documents whose other leaves are all tombstones', async () => {
      await t.storage.writeDocs([
        // The losing branch was deleted: resolved.
        docWrite('resolved', [leaf('1-y'), leaf('2-x', true)], {
          added: [
            node('1-x', null, { body: {}, leaf: false }),
            node('2-x', '1-x', { deleted: true, body: {} }),
            node('1-y', null, { body: {} }),
          ],
        }),
        // Every leaf deleted: a deleted document, not a conflicted one.
        docWrite('gone', [leaf('1-y', true), leaf('1-x', true)], {
          added: [
            node('1-x', null, { deleted: true, body: {} }),
            node('1-y', null, { deleted: true, body: {} }),
          ],
        }),
      ]);
      expect(await idsOf()).toEqual([]);
      expect(await t.storage.countConflicts()).toBe(0);
      // With deletedLeaves, every document with more than one leaf, as each write leaves it.
      await t.storage.writeDocs([newDoc('single'), conflictedDoc('live')]);
      expect(await idsOf({ deletedLeaves: true })).toEqual(['gone', 'live', 'resolved']);
      expect(await idsOf({ deletedLeaves: true, start: 'h', limit: 1 })).toEqual(['live']);
      await t.storage.writeDocs([
        docWrite('resolved', [leaf('2-y', true)], {
          added: [node('2-y', '1-y', { deleted: true, body: {} })],
          removed: ['1-x', '2-x'],
          changed: [{ ...stored(node('1-y', null, { body: {} })), leaf: false }],
        }),
      ]);
      expect(await idsOf({ deletedLeaves: true })).toEqual(['gone', 'live']);
    });

    it('follows each write: conflicted, still conflicted under a new winner, resolved, conflicted again', async () => {
      await t.storage.writeDocs([newDoc('doc', '1-a', { v: 1 })]);
      expect(await idsOf()).toEqual([]);
      // A second branch arrives: same winner, a new leaf.
      await t.storage.writeDocs([
        docWrite('doc', [leaf('1-a'), leaf('1-0')], { added: [node('1-0', null, { body: { v: 0 } })] }),
      ]);
      expect(await idsOf()).toEqual(['doc']);
      // The losing branch grows past the winner: a new winner, still conflicted.
      await t.storage.writeDocs([
        docWrite('doc', [leaf('2-b'), leaf('1-a')], {
          added: [node('2-b', '1-0', { body: { v: 2 } })],
          changed: [{ ...stored(node('1-0', null, { body: { v: 0 } })), leaf: false }],
        }),
      ]);
      expect(await idsOf()).toEqual(['doc']);
      expect(await t.storage.countConflicts()).toBe(1);
      // The loser is deleted: resolved, same winner.
      await t.storage.writeDocs([
        docWrite('doc', [leaf('2-b'), leaf('2-d', true)], {
          added: [node('2-d', '1-a', { deleted: true, body: {} })],
          changed: [{ ...stored(node('1-a', null, { body: { v: 1 } })), leaf: false }],
        }),
      ]);
      expect(await idsOf()).toEqual([]);
      expect(await t.storage.countConflicts()).toBe(0);
      // A deleted branch revived: conflicted again.
      await t.storage.writeDocs([
        docWrite('doc', [leaf('3-e'), leaf('2-b')], {
          added: [node('3-e', '2-d', { body: { v: 3 } })],
          changed: [{ ...stored(node('2-d', '1-a', { deleted: true, body: {} })), leaf: false }],
        }),
      ]);
      expect(await idsOf()).toEqual(['doc']);
      // The winner deleted leaves the other branch live and winning: no conflict.
      await t.storage.writeDocs([
        docWrite('doc', [leaf('2-b'), leaf('4-f', true)], {
          added: [node('4-f', '3-e', { deleted: true, body: {} })],
          changed: [{ ...stored(node('3-e', '2-d', { body: { v: 3 } })), leaf: false }],
        }),
      ]);
      expect(await idsOf()).toEqual([]);
    });

    it('orders by code point, starts at start (inclusive), stops at limit', async () => {
      const ids = ['é', 'b', '\u{1F600}', 'a', '\uFF5A', '_design/x', 'B'];
      await t.storage.writeDocs([...ids.map(conflictedDoc), newDoc('ab'), newDoc('c')]);
      const expected = [...ids].sort(compareCodePoints);
      expect(await idsOf()).toEqual(expected);
      expect(await idsOf({ start: 'b' })).toEqual(expected.slice(expected.indexOf('b')));
      expect(await idsOf({ start: 'aa' })).toEqual(expected.slice(expected.indexOf('b')));
      expect(await idsOf({ limit: 3 })).toEqual(expected.slice(0, 3));
      expect(await idsOf({ start: 'a', limit: 2 })).toEqual(['a', 'b']);
      expect(await idsOf({ limit: 0 })).toEqual([]);
      expect(await idsOf({ start: '\u{10FFFF}' })).toEqual([]);
      expect(await t.storage.countConflicts()).toBe(ids.length);
    });

    it('survives reopening', async () => {
      await t.storage.writeDocs([conflictedDoc('x'), newDoc('y')]);
      const reopened = await t.reopen();
      expect((await collect(reopened.conflicts({}))).map((doc) => doc.id)).toEqual(['x']);
      expect(await reopened.countConflicts()).toBe(1);
    });

    it('a failed writeDocs leaves the index as it was', async () => {
      await t.storage.writeDocs([newDoc('a')]);
      // The second write adds a rev already stored: the whole batch fails.
      await expect(
        t.storage.writeDocs([
          conflictedDoc('b'),
          docWrite('a', [leaf('1-a')], { added: [node('1-a', null, { body: {} })] }),
        ]),
      ).rejects.toThrow();
      expect(await idsOf()).toEqual([]);
      expect(await t.storage.countConflicts()).toBe(0);
    });

    it('compaction keeps the body of every live leaf of a conflicted document', async () => {
      await t.storage.writeDocs([
        docWrite('doc', [leaf('2-b'), leaf('2-x')], {
          added: [
            node('1-a', null, { body: { v: 1 }, leaf: false }),
            node('2-b', '1-a', { body: { v: 2 } }),
            node('2-x', '1-a', { body: { x: 2 } }),
          ],
        }),
      ]);
      await compactFully(t.storage);
      expect(await t.storage.getRevisions('doc', ['1-a', '2-b', '2-x'])).toEqual([
        undefined,
        content({ v: 2 }),
        content({ x: 2 }),
      ]);
      expect(await idsOf()).toEqual(['doc']);
    });
  });

  describe('conflicts across internal pages', () => {
    const count = 1200;
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

    beforeEach(async () => {
      // Every other document conflicted, so the index is not the whole table.
      await t.storage.writeDocs(
        range(0, 2 * count - 1).map((n) =>
          n % 2 === 0 ? conflictedDoc(numberedId(n)) : newDoc(numberedId(n)),
        ),
      );
    });

    it('lists every conflicted id once, in order, from any start, up to any limit', async () => {
      const ids = range(0, count - 1).map((n) => numberedId(2 * n));
      const idsOf = async (options: ConflictsScan) =>
        (await collect(t.storage.conflicts(options))).map((doc) => doc.id);
      expect(await idsOf({})).toEqual(ids);
      expect(await t.storage.countConflicts()).toBe(count);
      for (const limit of [511, 512, 513, 1024, 1100])
        expect(await idsOf({ limit })).toEqual(ids.slice(0, limit));
      expect(await idsOf({ start: numberedId(1001) })).toEqual(ids.slice(501));
      expect(await idsOf({ start: numberedId(1000), limit: 600 })).toEqual(ids.slice(500, 1100));
    });
  });
}
