import { beforeEach, describe, expect, it } from 'vitest';
import { countChanges } from '../../../src/storage/derived.js';
import type { IdRange, Storage } from '../../../src/storage/types.js';
import {
  attMeta,
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

/** Conformance: the changes and docs scans, within one internal page and across many. */
export function changesTests(t: Context): void {
  describe('changes', () => {
    const seqsOf = async (options: Parameters<Storage['changes']>[0]) =>
      (await collect(t.storage.changes(options))).map((doc) => doc.seq);

    beforeEach(async () => {
      await t.storage.writeDocs(['a', 'b', 'c', 'd', 'e'].map((id) => newDoc(id)));
    });

    it('scans ascending after since', async () => {
      expect(await seqsOf({ since: 0 })).toEqual([1, 2, 3, 4, 5]);
      expect(await seqsOf({ since: 2 })).toEqual([3, 4, 5]);
      expect(await seqsOf({ since: 5 })).toEqual([]);
      expect(await seqsOf({ since: 99 })).toEqual([]);
      const first = (await collect(t.storage.changes({ since: 0 })))[0];
      expect(first).toEqual({ id: 'a', seq: 1, winner: '1-a', deleted: false, leaves: [leaf('1-a')] });
    });

    it('scans descending, still only after since', async () => {
      expect(await seqsOf({ since: 0, descending: true })).toEqual([5, 4, 3, 2, 1]);
      expect(await seqsOf({ since: 2, descending: true })).toEqual([5, 4, 3]);
      expect(await seqsOf({ since: 5, descending: true })).toEqual([]);
    });

    it('stops at limit in both directions', async () => {
      expect(await seqsOf({ since: 0, limit: 2 })).toEqual([1, 2]);
      expect(await seqsOf({ since: 0, limit: 2, descending: true })).toEqual([5, 4]);
      expect(await seqsOf({ since: 3, limit: 10 })).toEqual([4, 5]);
      expect(await seqsOf({ since: 3, limit: 1, descending: true })).toEqual([5]);
    });

    it('includes deletions with their deleted flag', async () => {
      await t.storage.writeDocs([
        docWrite('b', [leaf('2-b', true)], {
          added: [node('2-b', '1-a', { deleted: true, body: {} })],
          changed: [{ ...stored(node('1-a', null, { body: { id: 'b' } })), leaf: false }],
        }),
      ]);
      const changes = await collect(t.storage.changes({ since: 5 }));
      expect(changes).toEqual([
        { id: 'b', seq: 6, winner: '2-b', deleted: true, leaves: [leaf('2-b', true)] },
      ]);
    });

    it('joins the winning revision content only when asked', async () => {
      const atts = { 'x.bin': attMeta('md5-x', 1) };
      await t.storage.writeDocs([
        docWrite('conflict', [leaf('1-y'), leaf('1-x')], {
          added: [
            node('1-x', null, { body: { loser: true } }),
            node('1-y', null, { body: { winner: true }, attachments: atts }),
          ],
        }),
        docWrite('bodiless', [leaf('1-q')], { added: [node('1-q', null)] }),
      ]);
      const plain = await collect(t.storage.changes({ since: 5 }));
      expect(plain.map((doc) => doc.content)).toEqual([undefined, undefined]);
      const joined = await collect(t.storage.changes({ since: 5, withContent: true }));
      expect(joined.map((doc) => doc.id)).toEqual(['conflict', 'bodiless']);
      expect(joined[0]?.content).toEqual(content({ winner: true }, atts));
      expect(joined[1]?.content).toBeUndefined();
      const descending = await collect(t.storage.changes({ since: 0, descending: true, withContent: true }));
      expect(descending.map((doc) => doc.content?.body)).toEqual([
        undefined,
        JSON.stringify({ winner: true }),
        ...['e', 'd', 'c', 'b', 'a'].map((id) => JSON.stringify({ id })),
      ]);
    });

    // What the database counts `pending` with: a changes scan bounded by `limit`.
    it('a bounded scan counts the documents changed after since, each once', async () => {
      expect(await countChanges(t.storage, 0, 1000)).toBe(5);
      expect(await countChanges(t.storage, 3, 1000)).toBe(2);
      expect(await countChanges(t.storage, 5, 1000)).toBe(0);
      expect(await countChanges(t.storage, 0, 3)).toBe(3);
      await t.storage.writeDocs([
        docWrite('a', [leaf('2-a')], { added: [node('2-a', '1-a', { body: {} })] }),
      ]);
      expect(await countChanges(t.storage, 0, 1000)).toBe(5);
      expect(await countChanges(t.storage, 5, 1000)).toBe(1);
    });
  });
}

/** An id-ordered scan under test: what stores ids for it, and the ids it reads back. */
interface IdScan {
  store(ids: readonly string[]): Promise<void>;
  idsOf(range: IdRange): Promise<string[]>;
}

function docsScan(t: Context): IdScan {
  return {
    store: async (ids) => void (await t.storage.writeDocs(ids.map((id) => newDoc(id)))),
    idsOf: async (range) => (await collect(t.storage.docs(range))).map((doc) => doc.id),
  };
}

function localDocsScan(t: Context): IdScan {
  return {
    store: async (ids) => {
      for (const id of ids) await t.storage.putLocal(id, { rev: 1, body: '{}' });
    },
    idsOf: async (range) => (await collect(t.storage.localDocs(range))).map((doc) => doc.id),
  };
}

/** What every id scan promises: raw code-point order, bounds, both directions. */
function idRangeTests(scan: IdScan): void {
  it('scans nothing in an empty storage', async () => {
    expect(await scan.idsOf({})).toEqual([]);
  });

  it('orders ids by code point (UTF-8 bytes), not by UTF-16 code units', async () => {
    const ids = [
      'é',
      'a',
      '\u{1F600}',
      'B',
      '_design/x',
      '\uFF5A',
      'aa',
      '\uE000',
      'Z',
      '\u{10000}',
      '0',
      '~',
    ];
    await scan.store(ids);
    const expected = [...ids].sort(compareCodePoints);
    // Astral characters (surrogate pairs) sort before U+E000..U+FFFF in UTF-16 but after them here.
    expect(expected).not.toEqual([...ids].sort());
    expect(expected.slice(0, 6)).toEqual(['0', 'B', 'Z', '_design/x', 'a', 'aa']);
    expect(await scan.idsOf({})).toEqual(expected);
    expect(await scan.idsOf({ descending: true })).toEqual([...expected].reverse());
    expect(await scan.idsOf({ start: '\uE000', end: '\u{10000}' })).toEqual([
      '\uE000',
      '\uFF5A',
      '\u{10000}',
    ]);
  });

  it('bounds the scan: start inclusive, end inclusive unless inclusiveEnd is false', async () => {
    await scan.store(['a', 'b', 'c', 'd', 'e']);
    const { idsOf } = scan;
    expect(await idsOf({ start: 'b', end: 'd' })).toEqual(['b', 'c', 'd']);
    expect(await idsOf({ start: 'b', end: 'd', inclusiveEnd: false })).toEqual(['b', 'c']);
    expect(await idsOf({ start: 'bb', end: 'cc' })).toEqual(['c']);
    expect(await idsOf({ start: 'c' })).toEqual(['c', 'd', 'e']);
    expect(await idsOf({ end: 'b' })).toEqual(['a', 'b']);
    expect(await idsOf({ start: 'd', end: 'b' })).toEqual([]);
    expect(await idsOf({ start: 'd', end: 'b', descending: true })).toEqual(['d', 'c', 'b']);
    expect(await idsOf({ start: 'd', end: 'b', descending: true, inclusiveEnd: false })).toEqual(['d', 'c']);
    expect(await idsOf({ start: 'cc', descending: true })).toEqual(['c', 'b', 'a']);
    expect(await idsOf({ end: 'd', descending: true })).toEqual(['e', 'd']);
  });
}

/** Checks that a scan over `ids` (sorted; more than a page) reads each once, in order, in any bounds. */
async function expectEveryIdOnce(idsOf: IdScan['idsOf'], ids: readonly string[]): Promise<void> {
  expect(await idsOf({})).toEqual(ids);
  expect(await idsOf({ descending: true })).toEqual([...ids].reverse());
  const bounds = { start: ids[100], end: ids[1300] };
  expect(await idsOf(bounds)).toEqual(ids.slice(100, 1301));
  expect(await idsOf({ ...bounds, inclusiveEnd: false })).toEqual(ids.slice(100, 1300));
  const reversed = { start: ids[1300], end: ids[100], descending: true };
  expect(await idsOf(reversed)).toEqual(ids.slice(100, 1301).reverse());
  expect(await idsOf({ ...reversed, inclusiveEnd: false })).toEqual(ids.slice(101, 1301).reverse());
}

export function docsTests(t: Context): void {
  describe('docs', () => {
    idRangeTests(docsScan(t));

    it('includes tombstones, and joins the winner content only when asked', async () => {
      await t.storage.writeDocs([
        newDoc('a', '1-a', { v: 'a' }),
        docWrite('b', [leaf('1-b', true)], { added: [node('1-b', null, { deleted: true, body: {} })] }),
        docWrite('c', [leaf('1-c')], { added: [node('1-c', null)] }),
      ]);
      const plain = await collect(t.storage.docs({}));
      expect(plain.map((doc) => [doc.id, doc.deleted, doc.content])).toEqual([
        ['a', false, undefined],
        ['b', true, undefined],
        ['c', false, undefined],
      ]);
      const joined = await collect(t.storage.docs({ withContent: true }));
      expect(joined.map((doc) => doc.content)).toEqual([content({ v: 'a' }), content({}), undefined]);
      expect(joined[0]).toEqual({ ...plain[0], content: content({ v: 'a' }) });
    });
  });
}

export function localDocsTests(t: Context): void {
  describe('localDocs', () => {
    idRangeTests(localDocsScan(t));

    it('reads each revision, bodies only when asked, and never a deleted document', async () => {
      await t.storage.putLocal('a', { rev: 2, body: '{"v":"a"}' });
      await t.storage.putLocal('b', { rev: 1, body: '{}' });
      await t.storage.putLocal('c', { rev: 5, body: '{"v":"c"}' });
      await t.storage.putLocal('b', null);
      expect(await collect(t.storage.localDocs({}))).toEqual([
        { id: 'a', rev: 2 },
        { id: 'c', rev: 5 },
      ]);
      expect(await collect(t.storage.localDocs({ withBody: true, descending: true }))).toEqual([
        { id: 'c', rev: 5, body: '{"v":"c"}' },
        { id: 'a', rev: 2, body: '{"v":"a"}' },
      ]);
    });

    it('leaves documents out, and persists across reopen', async () => {
      await t.storage.writeDocs([newDoc('doc')]);
      await t.storage.putLocal('local', { rev: 1, body: '{}' });
      expect(await localDocsScan(t).idsOf({})).toEqual(['local']);
      await t.reopen();
      expect(await localDocsScan(t).idsOf({})).toEqual(['local']);
    });
  });

  const count = 1500;
  describe(`localDocs across internal pages (${count} documents)`, () => {
    const ids = Array.from({ length: count }, (_, n) => numberedId(n));
    beforeEach(async () => {
      for (const [n, id] of ids.entries()) await t.storage.putLocal(id, { rev: n, body: `{"n":${n}}` });
    });

    it('reads every id once, in order, within any bounds, with its body when asked', async () => {
      await expectEveryIdOnce(localDocsScan(t).idsOf, ids);
      const withBodies = await collect(t.storage.localDocs({ start: ids[1], withBody: true }));
      expect(withBodies).toEqual(ids.slice(1).map((id, i) => ({ id, rev: i + 1, body: `{"n":${i + 1}}` })));
    });
  });
}

export function pagingTests(t: Context): void {
  // More rows than any sensible internal page (SQLite reads 512 at a time).
  const count = 1500;
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

  describe(`scans across internal pages (${count} documents)`, () => {
    beforeEach(async () => {
      const writes = range(0, count - 1).map((n) => newDoc(numberedId(n), '1-a', { n }));
      await t.storage.writeDocs(writes);
    });

    it('changes: every seq once, in order, from any since, up to any limit', async () => {
      const seqsOf = async (options: Parameters<Storage['changes']>[0]) =>
        (await collect(t.storage.changes(options))).map((doc) => doc.seq);
      expect(await seqsOf({ since: 0 })).toEqual(range(1, count));
      expect(await seqsOf({ since: 0, descending: true })).toEqual(range(1, count).reverse());
      expect(await seqsOf({ since: 700 })).toEqual(range(701, count));
      expect(await seqsOf({ since: 700, descending: true })).toEqual(range(701, count).reverse());
      for (const limit of [511, 512, 513, 1024, 1100]) {
        expect(await seqsOf({ since: 0, limit })).toEqual(range(1, limit));
        expect(await seqsOf({ since: 0, limit, descending: true })).toEqual(
          range(count - limit + 1, count).reverse(),
        );
      }
      expect(await seqsOf({ since: 100, limit: 1000 })).toEqual(range(101, 1100));
      expect(await countChanges(t.storage, 0, count)).toBe(count);
      expect(await countChanges(t.storage, 700, 1000)).toBe(count - 700);
      expect(await countChanges(t.storage, 0, 1000)).toBe(1000);
    });

    it('changes: rewritten documents still appear once each, with their content', async () => {
      const rewrites = range(0, count - 1)
        .filter((n) => n % 3 === 0)
        .map((n) =>
          docWrite(numberedId(n), [leaf('2-b')], {
            added: [node('2-b', '1-a', { body: { n, v: 2 } })],
            changed: [{ ...stored(node('1-a', null, { body: { n } })), leaf: false }],
          }),
        );
      await t.storage.writeDocs(rewrites);
      const changes = await collect(t.storage.changes({ since: 0, withContent: true }));
      expect(changes).toHaveLength(count);
      expect(new Set(changes.map((doc) => doc.id)).size).toBe(count);
      expect(changes.map((doc) => doc.seq)).toEqual([...changes.map((doc) => doc.seq)].sort((a, b) => a - b));
      for (const doc of changes) {
        const n = Number(doc.id.slice(4));
        expect(doc.content?.body).toBe(JSON.stringify(n % 3 === 0 ? { n, v: 2 } : { n }));
      }
    });

    it('docs: every id once, in order, within any bounds', async () => {
      await expectEveryIdOnce(docsScan(t).idsOf, range(0, count - 1).map(numberedId));
      const joined = await collect(t.storage.docs({ start: numberedId(1), withContent: true }));
      expect(joined.map((doc) => doc.content?.body)).toEqual(
        range(1, count - 1).map((n) => JSON.stringify({ n })),
      );
    });
  });
}
