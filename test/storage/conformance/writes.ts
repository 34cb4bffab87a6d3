import { StaleWriteError } from '../../../src/storage/errors.js';
import { describe, expect, it } from 'vitest';
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
  stored,
  treeOf,
} from './helpers.js';

/**
 * Conformance: meta, writeDocs and the reads by id (getDocs with and without trees, getRevisions,
 * getRevisionsOf).
 */
export function metaTests(t: Context): void {
  describe('meta', () => {
    it('reads undefined for an unknown key', async () => {
      expect(await t.storage.getMeta('nope')).toBeUndefined();
    });

    it('sets, overwrites and keeps values across reopen', async () => {
      await t.storage.setMeta('uuid', 'abc');
      await t.storage.setMeta('revs_limit', '1000');
      await t.storage.setMeta('revs_limit', '5');
      expect(await t.storage.getMeta('uuid')).toBe('abc');
      expect(await t.storage.getMeta('revs_limit')).toBe('5');
      const reopened = await t.reopen();
      expect(await reopened.getMeta('uuid')).toBe('abc');
      expect(await reopened.getMeta('revs_limit')).toBe('5');
    });
  });
}

export function writeAndReadTests(t: Context): void {
  describe('writeDocs and reads', () => {
    it('assigns consecutive increasing seqs in write order and returns them', async () => {
      expect(await t.storage.writeDocs([newDoc('c'), newDoc('a'), newDoc('b')])).toEqual([1, 2, 3]);
      expect(await t.storage.writeDocs([newDoc('e'), newDoc('d')])).toEqual([4, 5]);
      const records = await t.storage.getDocs(['c', 'a', 'b', 'e', 'd']);
      expect(records.map((record) => record?.seq)).toEqual([1, 2, 3, 4, 5]);
      expect((await t.storage.stats()).updateSeq).toBe(5);
    });

    it('returns no seqs for an empty batch and keeps updateSeq', async () => {
      await t.storage.writeDocs([newDoc('a')]);
      expect(await t.storage.writeDocs([])).toEqual([]);
      expect((await t.storage.stats()).updateSeq).toBe(1);
    });

    it('gives a document written twice in one batch a seq per write, ending at the last', async () => {
      const first = node('1-a', null, { body: { v: 1 } });
      const second = docWrite('a', [leaf('2-b')], {
        added: [node('2-b', '1-a', { body: { v: 2 } })],
        changed: [{ ...stored(first), leaf: false }],
      });
      expect(await t.storage.writeDocs([docWrite('a', [leaf('1-a')], { added: [first] }), second])).toEqual([
        1, 2,
      ]);
      expect((await t.storage.getDocs(['a']))[0]).toMatchObject({ seq: 2, winner: '2-b' });
      expect((await collect(t.storage.changes({ since: 0 }))).map((doc) => [doc.id, doc.seq])).toEqual([
        ['a', 2],
      ]);
      expect(byRev(await treeOf(t.storage, 'a'))).toEqual([
        { ...stored(first), leaf: false },
        stored(node('2-b', '1-a', { body: { v: 2 } })),
      ]);
    });

    it('getDocs returns the summaries as written, in request order, undefined for unknown ids', async () => {
      const conflicted = docWrite('c', [leaf('2-y'), leaf('2-x', true)], {
        added: [
          node('1-a', null, { leaf: false }),
          node('2-x', '1-a', { deleted: true, body: {} }),
          node('2-y', '1-a', { body: { v: 1 } }),
        ],
      });
      const tombstone = docWrite('d', [leaf('1-d', true)], { added: [node('1-d', null, { deleted: true })] });
      await t.storage.writeDocs([newDoc('b'), conflicted, tombstone]);
      expect(await t.storage.getDocs(['d', 'zz', 'c', 'b', 'd'])).toEqual([
        { id: 'd', seq: 3, winner: '1-d', deleted: true, leaves: [leaf('1-d', true)] },
        undefined,
        { id: 'c', seq: 2, winner: '2-y', deleted: false, leaves: [leaf('2-y'), leaf('2-x', true)] },
        { id: 'b', seq: 1, winner: '1-a', deleted: false, leaves: [leaf('1-a')] },
        { id: 'd', seq: 3, winner: '1-d', deleted: true, leaves: [leaf('1-d', true)] },
      ]);
      expect(await t.storage.getDocs([])).toEqual([]);
    });

    it('getDocs withTree returns exactly the nodes written, and nothing for an unknown id', async () => {
      const nodes = [
        node('3-a', null, { leaf: false }), // a root whose ancestors were stemmed away
        node('4-b', '3-a', { body: { v: 4 }, leaf: false }),
        node('5-c', '4-b', { body: { v: 5 } }),
        node('5-d', '4-b', { deleted: true, body: {} }),
        node('1-z', null, { body: { other: 'branch' } }),
      ];
      await t.storage.writeDocs([
        docWrite('doc', [leaf('5-c'), leaf('5-d', true), leaf('1-z')], { added: nodes }),
      ]);
      expect(byRev(await treeOf(t.storage, 'doc'))).toEqual(byRev(nodes.map(stored)));
      expect(await t.storage.getDocs(['unknown'], { withTree: true })).toEqual([undefined]);
    });

    it('getDocs reads trees only with withTree, each with its own document, in request order', async () => {
      const a = [node('1-a', null, { leaf: false }), node('2-a', '1-a', { body: { a: 2 } })];
      const b = [node('1-b', null, { body: { b: 1 } })];
      await t.storage.writeDocs([
        docWrite('a', [leaf('2-a')], { added: a }),
        docWrite('b', [leaf('1-b')], { added: b }),
      ]);
      const [withB, none, withA] = await t.storage.getDocs(['b', 'zz', 'a'], { withTree: true });
      expect(byRev(withA?.tree ?? [])).toEqual(byRev(a.map(stored)));
      expect(withB?.tree).toEqual(b.map(stored));
      expect(none).toBeUndefined();
      expect(withA).toMatchObject({ id: 'a', seq: 1, winner: '2-a', leaves: [leaf('2-a')] });
      for (const record of await t.storage.getDocs(['a', 'b'])) expect(record).not.toHaveProperty('tree');
      for (const record of await t.storage.getDocs(['a', 'b'], { withTree: false })) {
        expect(record).not.toHaveProperty('tree');
      }
    });

    it('a tree read applies removed and changed nodes', async () => {
      const one = node('1-a', null, { body: { v: 1 }, leaf: false });
      const two = node('2-b', '1-a', { body: { v: 2 } });
      const three = node('3-c', '2-b', { body: { v: 3 } });
      await t.storage.writeDocs([docWrite('doc', [leaf('2-b')], { added: [one, two] })]);
      // Extend the leaf and stem the root away: 2-b becomes an inner root.
      await t.storage.writeDocs([
        docWrite('doc', [leaf('3-c')], {
          added: [three],
          removed: ['1-a'],
          changed: [{ ...stored(two), parent: null, leaf: false }],
        }),
      ]);
      expect(byRev(await treeOf(t.storage, 'doc'))).toEqual([
        { ...stored(two), parent: null, leaf: false },
        stored(three),
      ]);
      expect(await t.storage.getRevisions('doc', ['1-a', '2-b'])).toEqual([undefined, content({ v: 2 })]);
    });

    it("a changed node with dropContent keeps its row and loses its content, the winner's too", async () => {
      const one = node('1-a', null, { body: { v: 1 }, leaf: false });
      const two = node('2-b', '1-a', { body: { v: 2 } });
      const three = node('3-c', '2-b', { body: { v: 3 } });
      await t.storage.writeDocs([docWrite('doc', [leaf('2-b')], { added: [one, two] })]);
      // What a linear database writes as it extends a line: the dethroned winner (2-b) loses its
      // content as it becomes an ancestor, and so does an older ancestor still holding one.
      const dropped = (written: typeof one) => ({ ...stored(written), leaf: false, hasBody: false });
      await t.storage.writeDocs([
        docWrite('doc', [leaf('3-c')], {
          added: [three],
          changed: [
            { ...dropped(two), dropContent: true },
            { ...dropped(one), dropContent: true },
          ],
        }),
      ]);
      expect(byRev(await treeOf(t.storage, 'doc'))).toEqual([dropped(one), dropped(two), stored(three)]);
      expect(await t.storage.getRevisions('doc', ['1-a', '2-b', '3-c'])).toEqual([
        undefined,
        undefined,
        content({ v: 3 }),
      ]);
      expect((await collect(t.storage.changes({ since: 0, withContent: true })))[0]?.content).toEqual(
        content({ v: 3 }),
      );
      await compactFully(t.storage);
      await t.reopen();
      expect(await t.storage.getRevisions('doc', ['2-b', '3-c'])).toEqual([undefined, content({ v: 3 })]);
    });

    it('getRevisions returns contents in request order, undefined when not held or unknown', async () => {
      const atts = { 'a.bin': attMeta('md5-aaa', 3, 2), 'b.txt': attMeta('md5-bbb', 5, 1) };
      const body = { z: 1, a: [1, { é: '\u{1F600}' }], n: null };
      await t.storage.writeDocs([
        docWrite('doc', [leaf('2-b'), leaf('2-c')], {
          added: [
            node('1-a', null, { leaf: false }),
            node('2-b', '1-a', { body, attachments: atts }),
            node('2-c', '1-a', { body: { c: true } }),
          ],
        }),
        docWrite('other', [leaf('2-b')], { added: [node('2-b', null, { body: { other: true } })] }),
      ]);
      const got = await t.storage.getRevisions('doc', ['2-c', '1-a', '9-z', '2-b']);
      expect(got).toEqual([content({ c: true }), undefined, undefined, content(body, atts)]);
      // The body is kept as the exact text written, key order included.
      expect(got[3]?.body).toBe(JSON.stringify(body));
      expect(got[0]?.attachments).toBeUndefined();
      expect(await t.storage.getRevisions('other', ['2-b'])).toEqual([content({ other: true })]);
      expect(await t.storage.getRevisions('unknown', ['2-b'])).toEqual([undefined]);
      expect(await t.storage.getRevisions('doc', [])).toEqual([]);
    });

    it('getRevisionsOf reads revisions of many documents at once, as getRevisions reads each', async () => {
      const atts = { 'a.bin': attMeta('md5-aaa', 3, 2) };
      await t.storage.writeDocs([
        docWrite('doc', [leaf('2-b'), leaf('2-c')], {
          added: [
            node('1-a', null, { leaf: false }),
            node('2-b', '1-a', { body: { b: 1 }, attachments: atts }),
            node('2-c', '1-a', { body: { c: 1 } }),
          ],
        }),
        newDoc('other', '1-o', { other: true }),
        newDoc('d\u0000\u{1F600}', '1-z', { odd: 'id' }),
      ]);
      const wanted = [
        { id: 'doc', revs: ['2-c', '1-a', '2-b'] },
        { id: 'unknown', revs: ['1-o'] },
        { id: 'other', revs: ['1-o', '2-c'] },
        { id: 'doc', revs: [] },
        { id: 'doc', revs: ['2-b', '2-b'] },
        { id: 'd\u0000\u{1F600}', revs: ['1-z'] },
      ];
      const got = await t.storage.getRevisionsOf(wanted);
      expect(got).toEqual([
        [content({ c: 1 }), undefined, content({ b: 1 }, atts)],
        [undefined],
        [content({ other: true }), undefined],
        [],
        [content({ b: 1 }, atts), content({ b: 1 }, atts)],
        [content({ odd: 'id' })],
      ]);
      for (const [i, { id, revs }] of wanted.entries()) {
        expect(await t.storage.getRevisions(id, revs)).toEqual(got[i]);
      }
      expect(await t.storage.getRevisionsOf([])).toEqual([]);
    });

    it('moves a rewritten document to its new seq, so it appears once in changes', async () => {
      await t.storage.writeDocs([newDoc('a'), newDoc('b'), newDoc('c')]);
      const update = docWrite('a', [leaf('2-b')], {
        added: [node('2-b', '1-a', { body: { v: 2 } })],
        changed: [{ ...stored(node('1-a', null, { body: { id: 'a' } })), leaf: false }],
      });
      expect(await t.storage.writeDocs([update])).toEqual([4]);
      const changes = await collect(t.storage.changes({ since: 0 }));
      expect(changes.map((doc) => [doc.id, doc.seq])).toEqual([
        ['b', 2],
        ['c', 3],
        ['a', 4],
      ]);
      expect((await collect(t.storage.changes({ since: 3 }))).map((doc) => doc.id)).toEqual(['a']);
    });

    it('refuses, writing nothing, a write whose base is not the document’s sequence now', async () => {
      await t.storage.writeDocs([newDoc('a'), newDoc('b')]);
      const edit = (base: number | undefined) => ({
        ...docWrite('a', [leaf('2-b')], { added: [node('2-b', '1-a', { body: { v: 2 } })] }),
        ...(base === undefined ? {} : { base }),
      });
      const fresh = { ...newDoc('c'), base: 0 };
      await expect(t.storage.writeDocs([fresh, edit(2)])).rejects.toBeInstanceOf(StaleWriteError);
      await expect(t.storage.writeDocs([{ ...newDoc('b'), base: 0 }])).rejects.toBeInstanceOf(
        StaleWriteError,
      );
      expect((await t.storage.getDocs(['a', 'c'])).map((doc) => doc?.winner)).toEqual(['1-a', undefined]);
      expect((await t.storage.stats()).updateSeq).toBe(2);
      expect(await t.storage.writeDocs([fresh, edit(1)])).toEqual([3, 4]);
      expect((await t.storage.getDocs(['a']))[0]?.winner).toBe('2-b');
    });
  });
}
