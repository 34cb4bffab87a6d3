import { describe, expect, it } from 'vitest';
import { readLocal } from '../../../src/storage/derived.js';
import {
  attMeta,
  byRev,
  type Context,
  collect,
  content,
  docWrite,
  leaf,
  newDoc,
  node,
  stored,
  treeOf,
} from './helpers.js';

/** Conformance: persistence across reopen, destroy, and atomicity of a failing batch. */
export function lifecycleTests(t: Context): void {
  describe('close, reopen and destroy', () => {
    async function fill(): Promise<void> {
      const atts = { 'f.bin': attMeta('md5-f', 2) };
      await t.storage.setMeta('uuid', 'u-1');
      await t.storage.putLocal('cp', { rev: 1, body: '{"seq":2}' });
      await t.storage.writeDocs(
        [
          docWrite('a', [leaf('2-b')], {
            added: [
              node('1-a', null, { leaf: false }),
              node('2-b', '1-a', { body: { v: 2 }, attachments: atts }),
            ],
          }),
          newDoc('b'),
        ],
        [{ digest: 'md5-f', data: new Uint8Array([9, 8]) }],
      );
    }

    it('keeps every write across close and reopen, and continues the seqs', async () => {
      await fill();
      const tree = await treeOf(t.storage, 'a');
      const s = await t.reopen();
      expect(await s.getMeta('uuid')).toBe('u-1');
      expect(await readLocal(s, 'cp')).toEqual({ rev: 1, body: '{"seq":2}' });
      expect(await s.getDocs(['a', 'b'])).toEqual([
        { id: 'a', seq: 1, winner: '2-b', deleted: false, leaves: [leaf('2-b')] },
        { id: 'b', seq: 2, winner: '1-a', deleted: false, leaves: [leaf('1-a')] },
      ]);
      expect(byRev(await treeOf(s, 'a'))).toEqual(byRev(tree));
      expect(await s.getRevisions('a', ['2-b'])).toEqual([
        content({ v: 2 }, { 'f.bin': attMeta('md5-f', 2) }),
      ]);
      expect(Array.from((await s.getAttachment('md5-f')) ?? [])).toEqual([9, 8]);
      expect((await collect(s.changes({ since: 0 }))).map((doc) => doc.id)).toEqual(['a', 'b']);
      expect((await collect(s.docs({}))).map((doc) => doc.id)).toEqual(['a', 'b']);
      expect(await s.stats()).toMatchObject({ docCount: 2, deletedCount: 0, updateSeq: 2 });
      expect(await s.writeDocs([newDoc('c')])).toEqual([3]);
    });

    it('destroy removes everything: a new storage at the same place is empty', async () => {
      await fill();
      await t.storage.destroy();
      const s = await t.open();
      expect(await s.stats()).toMatchObject({ docCount: 0, deletedCount: 0, updateSeq: 0 });
      expect(await s.getMeta('uuid')).toBeUndefined();
      expect(await readLocal(s, 'cp')).toBeUndefined();
      expect(await s.getDocs(['a', 'b'])).toEqual([undefined, undefined]);
      expect(await treeOf(s, 'a')).toEqual([]);
      expect(await s.getAttachment('md5-f')).toBeUndefined();
      expect(await collect(s.changes({ since: 0 }))).toEqual([]);
      expect(await collect(s.docs({}))).toEqual([]);
      expect(await s.writeDocs([newDoc('c')])).toEqual([1]);
    });
  });
}

export function atomicityTests(t: Context): void {
  describe('atomicity', () => {
    // `added` nodes are new by contract; a backend rejects a duplicate rather than overwrite, which
    // gives every backend the same way to fail a batch midway.
    const duplicateRev = docWrite('bad', [leaf('1-x')], {
      added: [node('1-x', null, { body: { first: true } }), node('1-x', null, { body: { second: true } })],
    });

    it('a writeDocs that fails midway leaves nothing written', async () => {
      await t.storage.writeDocs([newDoc('kept')]);
      const update = docWrite('kept', [leaf('2-b')], {
        added: [node('2-b', '1-a', { body: { v: 2 } })],
        changed: [{ ...stored(node('1-a', null, { body: { id: 'kept' } })), leaf: false }],
      });
      const deletion = docWrite('gone', [leaf('1-g', true)], {
        added: [node('1-g', null, { deleted: true })],
      });
      const batch = [newDoc('fresh'), update, deletion, duplicateRev];
      await expect(
        t.storage.writeDocs(batch, [{ digest: 'md5-failed', data: new Uint8Array([1]) }]),
      ).rejects.toThrow();

      const expectUntouched = async () => {
        expect(await t.storage.getDocs(['fresh', 'kept', 'gone', 'bad'])).toEqual([
          undefined,
          { id: 'kept', seq: 1, winner: '1-a', deleted: false, leaves: [leaf('1-a')] },
          undefined,
          undefined,
        ]);
        expect(await treeOf(t.storage, 'kept')).toEqual([stored(node('1-a', null, { body: {} }))]);
        expect(await treeOf(t.storage, 'bad')).toEqual([]);
        expect(await t.storage.getAttachment('md5-failed')).toBeUndefined();
        expect((await collect(t.storage.changes({ since: 0 }))).map((doc) => doc.id)).toEqual(['kept']);
        expect(await t.storage.stats()).toMatchObject({ docCount: 1, deletedCount: 0, updateSeq: 1 });
      };
      await expectUntouched();
      await t.reopen();
      await expectUntouched();
    });

    it('the counters stay right after a failed batch, across reopen', async () => {
      await t.storage.writeDocs([newDoc('kept')]);
      await expect(t.storage.writeDocs([newDoc('fresh'), duplicateRev])).rejects.toThrow();
      // A backend may burn sequence numbers on a rollback (PostgreSQL sequences do), never reuse them.
      const [seq] = await t.storage.writeDocs([newDoc('after')]);
      expect(seq).toBeGreaterThan(1);
      expect(await t.storage.stats()).toMatchObject({ docCount: 2, deletedCount: 0, updateSeq: seq });
      await t.reopen();
      expect(await t.storage.stats()).toMatchObject({ docCount: 2, deletedCount: 0, updateSeq: seq });
      expect((await collect(t.storage.docs({}))).map((doc) => doc.id)).toEqual(['after', 'kept']);
    });

    it('a rev already stored cannot be added again', async () => {
      await t.storage.writeDocs([newDoc('a', '1-a', { v: 1 })]);
      const again = docWrite('a', [leaf('1-a')], {
        added: [node('1-a', null, { body: { v: 'overwritten' } })],
      });
      await expect(t.storage.writeDocs([again])).rejects.toThrow();
      expect(await t.storage.getRevisions('a', ['1-a'])).toEqual([content({ v: 1 })]);
      expect(await t.storage.stats()).toMatchObject({ docCount: 1, updateSeq: 1 });
    });
  });
}
