import { describe, expect, it } from 'vitest';
import { readLocal } from '../../../src/storage/derived.js';
import {
  attMeta,
  byRev,
  compactFully,
  type Context,
  collect,
  content,
  docWrite,
  leaf,
  newDoc,
  node,
  numberedId,
  stored,
  treeOf,
} from './helpers.js';

/** Conformance: stats, local documents, attachment blobs and compaction. */
export function statsTests(t: Context): void {
  describe('stats', () => {
    it('starts empty', async () => {
      const stats = await t.storage.stats();
      expect(stats).toMatchObject({ docCount: 0, deletedCount: 0, updateSeq: 0 });
      expect(stats.fileSize).toBeGreaterThanOrEqual(stats.activeSize);
      expect(stats.activeSize).toBeGreaterThanOrEqual(0);
    });

    it('counts live and deleted documents through deletion and undeletion, across reopen', async () => {
      const counts = async () => {
        const { docCount, deletedCount, updateSeq } = await t.storage.stats();
        return { docCount, deletedCount, updateSeq };
      };
      // Stats follow the summaries; the parent's leaf flag does not matter to them.
      const edit = (id: string, rev: string, parent: string, deleted: boolean) =>
        docWrite(id, [leaf(rev, deleted)], { added: [node(rev, parent, { deleted, body: {} })] });
      await t.storage.writeDocs([newDoc('a'), newDoc('b'), newDoc('c')]);
      expect(await counts()).toEqual({ docCount: 3, deletedCount: 0, updateSeq: 3 });
      await t.storage.writeDocs([edit('b', '2-b', '1-a', true)]);
      expect(await counts()).toEqual({ docCount: 2, deletedCount: 1, updateSeq: 4 });
      await t.storage.writeDocs([edit('b', '3-b', '2-b', false)]);
      expect(await counts()).toEqual({ docCount: 3, deletedCount: 0, updateSeq: 5 });
      // Created as a tombstone (as replication may), and an update that stays live.
      await t.storage.writeDocs([
        docWrite('d', [leaf('1-d', true)], { added: [node('1-d', null, { deleted: true })] }),
        edit('a', '2-a', '1-a', false),
      ]);
      expect(await counts()).toEqual({ docCount: 3, deletedCount: 1, updateSeq: 7 });
      // Created then deleted within one batch.
      await t.storage.writeDocs([newDoc('e'), edit('e', '2-e', '1-a', true)]);
      expect(await counts()).toEqual({ docCount: 3, deletedCount: 2, updateSeq: 9 });
      await t.reopen();
      expect(await counts()).toEqual({ docCount: 3, deletedCount: 2, updateSeq: 9 });
    });
  });
}

export function localTests(t: Context): void {
  describe('local documents', () => {
    it('puts, overwrites, reads and deletes', async () => {
      expect(await readLocal(t.storage, 'checkpoint')).toBeUndefined();
      await t.storage.putLocal('checkpoint', { rev: 1, body: '{"seq":1}' });
      expect(await readLocal(t.storage, 'checkpoint')).toEqual({ rev: 1, body: '{"seq":1}' });
      await t.storage.putLocal('checkpoint', { rev: 2, body: '{"seq":9}' });
      expect(await readLocal(t.storage, 'checkpoint')).toEqual({ rev: 2, body: '{"seq":9}' });
      await t.storage.putLocal('checkpoint', null);
      expect(await readLocal(t.storage, 'checkpoint')).toBeUndefined();
      await t.storage.putLocal('never-written', null);
    });

    it('a range from an id to itself reads that one document, among ids that share its prefix', async () => {
      for (const id of ['c', 'cp', 'cp/a', 'cp\u0000', 'cp\u{1F600}', 'cq']) {
        await t.storage.putLocal(id, { rev: id.length, body: JSON.stringify({ id }) });
      }
      const point = { start: 'cp', end: 'cp', withBody: true };
      const one = [{ id: 'cp', rev: 2, body: '{"id":"cp"}' }];
      expect(await collect(t.storage.localDocs(point))).toEqual(one);
      expect(await collect(t.storage.localDocs({ ...point, descending: true }))).toEqual(one);
      expect(await collect(t.storage.localDocs({ start: 'cp0', end: 'cp0' }))).toEqual([]);
      expect(await collect(t.storage.localDocs({ start: 'cp', end: 'cp' }))).toEqual([{ id: 'cp', rev: 2 }]);
    });

    it('stay out of changes, docs and stats, and persist across reopen', async () => {
      await t.storage.writeDocs([newDoc('a')]);
      await t.storage.putLocal('a', { rev: 3, body: '{"x":1}' });
      await t.storage.putLocal('other', { rev: 1, body: '{}' });
      expect((await collect(t.storage.changes({ since: 0 }))).map((doc) => doc.id)).toEqual(['a']);
      expect((await collect(t.storage.docs({}))).map((doc) => doc.id)).toEqual(['a']);
      expect(await t.storage.stats()).toMatchObject({ docCount: 1, deletedCount: 0, updateSeq: 1 });
      expect((await t.storage.getDocs(['other']))[0]).toBeUndefined();
      const reopened = await t.reopen();
      expect(await readLocal(reopened, 'a')).toEqual({ rev: 3, body: '{"x":1}' });
      expect(await readLocal(reopened, 'other')).toEqual({ rev: 1, body: '{}' });
    });
  });
}

export function attachmentTests(t: Context): void {
  describe('attachments', () => {
    const bytes = (...values: number[]) => new Uint8Array(values);
    const read = async (digest: string) => {
      const data = await t.storage.getAttachment(digest);
      return data && Array.from(data);
    };

    it('stores blobs with the writes and returns their bytes', async () => {
      const large = new Uint8Array(256 * 1024).map((_, i) => (i * 7919) % 256);
      const atts = { 'a.bin': attMeta('md5-a', 5), 'large.bin': attMeta('md5-large', large.length) };
      await t.storage.writeDocs(
        [docWrite('doc', [leaf('1-a')], { added: [node('1-a', null, { body: {}, attachments: atts })] })],
        [
          { digest: 'md5-a', data: bytes(0, 1, 255, 0, 128) },
          { digest: 'md5-large', data: large },
        ],
      );
      const data = await t.storage.getAttachment('md5-a');
      expect(data).toBeInstanceOf(Uint8Array);
      expect(await read('md5-a')).toEqual([0, 1, 255, 0, 128]);
      expect(await read('md5-large')).toEqual(Array.from(large));
    });

    it('reads undefined for an unknown digest', async () => {
      expect(await t.storage.getAttachment('md5-unknown')).toBeUndefined();
    });

    it('stores a digest once: repeating it in a batch or a later batch is harmless', async () => {
      const blob = { digest: 'md5-same', data: bytes(1, 2, 3) };
      const withAtt = (id: string) =>
        docWrite(id, [leaf('1-a')], {
          added: [node('1-a', null, { body: {}, attachments: { 'f.bin': attMeta('md5-same', 3) } })],
        });
      await t.storage.writeDocs([withAtt('a'), withAtt('b')], [blob, blob]);
      await t.storage.writeDocs([withAtt('c')], [blob]);
      expect(await read('md5-same')).toEqual([1, 2, 3]);
      expect((await t.storage.stats()).docCount).toBe(3);
    });
  });
}

export function compactTests(t: Context): void {
  describe('compact', () => {
    it('drops bodies of non-leaf revisions and keeps those of leaves', async () => {
      const nodes = [
        node('1-a', null, { body: { v: 1 }, leaf: false }),
        node('2-b', '1-a', { body: { v: 2 }, leaf: false }),
        node('3-c', '2-b', { body: { v: 3 } }),
        node('2-x', '1-a', { body: { x: 2 }, leaf: false }),
        node('3-y', '2-x', { deleted: true, body: {} }),
      ];
      await t.storage.writeDocs([
        docWrite('doc', [leaf('3-c'), leaf('3-y', true)], { added: nodes }),
        newDoc('single'),
      ]);
      const before = await t.storage.stats();
      await compactFully(t.storage);
      const revs = ['1-a', '2-b', '3-c', '2-x', '3-y'];
      expect(await t.storage.getRevisions('doc', revs)).toEqual([
        undefined,
        undefined,
        content({ v: 3 }),
        undefined,
        content({}),
      ]);
      expect(await t.storage.getRevisions('single', ['1-a'])).toEqual([content({ id: 'single' })]);
      expect(byRev(await treeOf(t.storage, 'doc'))).toEqual(
        byRev(nodes.map((written) => ({ ...stored(written), hasBody: written.leaf }))),
      );
      const after = await t.storage.stats();
      expect(after).toMatchObject({ docCount: 2, deletedCount: 0, updateSeq: before.updateSeq });
      const joined = await collect(t.storage.changes({ since: 0, withContent: true }));
      expect(joined.map((doc) => doc.content)).toEqual([content({ v: 3 }), content({ id: 'single' })]);
    });

    it('drops attachment blobs no stored body refers to and keeps the rest', async () => {
      const meta = (...digests: string[]) =>
        Object.fromEntries(digests.map((digest) => [`${digest}.bin`, attMeta(digest, 1)]));
      await t.storage.writeDocs(
        [
          docWrite('doc', [leaf('2-b')], {
            added: [
              node('1-a', null, { body: {}, attachments: meta('old', 'shared'), leaf: false }),
              node('2-b', '1-a', { body: {}, attachments: meta('shared', 'new') }),
            ],
          }),
          docWrite('other', [leaf('1-o')], {
            added: [node('1-o', null, { body: {}, attachments: meta('other') })],
          }),
        ],
        ['old', 'shared', 'new', 'other', 'orphan'].map((digest) => ({ digest, data: new Uint8Array([1]) })),
      );
      await compactFully(t.storage);
      const held = async (digest: string) => (await t.storage.getAttachment(digest)) !== undefined;
      expect(await held('old')).toBe(false);
      expect(await held('orphan')).toBe(false);
      expect(await held('shared')).toBe(true);
      expect(await held('new')).toBe(true);
      expect(await held('other')).toBe(true);
      const reopened = await t.reopen();
      expect(await reopened.getAttachment('shared')).toBeDefined();
      expect(await reopened.getRevisions('doc', ['1-a', '2-b'])).toEqual([
        undefined,
        content({}, meta('shared', 'new')),
      ]);
    });

    // Between any two steps, one document gains a higher branch without attachments: its old
    // winner stays a leaf (a conflict) and keeps its attachment, which compaction must not drop
    // though the content moved while the step before was looking elsewhere. And one document is
    // edited: its new body is held, its old one may go.
    it('keeps every leaf body and blob whatever writes come between its steps', async () => {
      const count = 1200; // enough for a backend to take several steps over each table
      const atts = (i: number) => ({ 'f.bin': attMeta(`md5-${i}`, 1) });
      const writes = Array.from({ length: count }, (_, i) =>
        docWrite(numberedId(i), [leaf('1-w')], {
          added: [node('1-w', null, { body: { i }, attachments: atts(i) })],
        }),
      );
      const blobs = writes.map((_, i) => ({ digest: `md5-${i}`, data: new Uint8Array([i % 256]) }));
      await t.storage.writeDocs(writes, blobs);
      await t.storage.writeDocs([newDoc('edited', '1-a', { n: 1 })]);
      const steps = t.storage.compaction();
      let between = 0;
      for (; await steps.step(); between++) {
        const branch = [
          node('1-x', null, { leaf: false }),
          node('2-x', '1-x', { body: { branch: between } }),
        ];
        await t.storage.writeDocs([
          docWrite(numberedId(between), [leaf('2-x'), leaf('1-w')], { added: branch }),
          docWrite('edited', [leaf(`${between + 2}-a`)], {
            added: [node(`${between + 2}-a`, `${between + 1}-a`, { body: { n: between + 2 } })],
            changed: [
              { ...stored(node(`${between + 1}-a`, between === 0 ? null : `${between}-a`)), leaf: false },
            ],
          }),
        ]);
      }
      expect(between).toBeGreaterThan(0);
      for (let i = 0; i < count; i++) {
        const id = numberedId(i);
        expect(await t.storage.getRevisions(id, ['1-w'])).toEqual([content({ i }, atts(i))]);
        expect(await t.storage.getAttachment(`md5-${i}`), id).toBeDefined();
      }
      expect(await t.storage.getRevisions('edited', [`${between + 1}-a`])).toEqual([
        content({ n: between + 1 }),
      ]);
    });
  });
}
