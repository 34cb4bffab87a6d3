import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ResolutionRecord, ResolutionsScan, StoredResolution } from '../../../src/storage/types.js';
import {
  attMeta,
  compactFully,
  type Context,
  collect,
  docWrite,
  leaf,
  newDoc,
  node,
  stored,
} from './helpers.js';

/** A history entry for `docId`, told apart from others by `n`. */
function entry(docId: string, n: number, losers: ResolutionRecord['losers'] = []): ResolutionRecord {
  return {
    docId,
    at: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
    by: n % 2 === 0 ? 'user:anna' : 'resolver:last-writer-wins',
    rev: `${n + 2}-r`,
    kept: `${n + 1}-k`,
    losers: losers.length > 0 ? losers : [{ rev: `${n + 1}-l`, body: JSON.stringify({ n }) }],
  };
}

/** Which entries, by position, a scan of `entries` (seq i + 1 for entry i) reads: the model. */
function expected(entries: readonly ResolutionRecord[], scan: ResolutionsScan): number[] {
  let seqs = entries.flatMap((e, i) => (scan.docId === undefined || e.docId === scan.docId ? [i + 1] : []));
  if (scan.descending) seqs = seqs.reverse();
  if (scan.after !== undefined) {
    const after = scan.after;
    seqs = seqs.filter((seq) => (scan.descending ? seq < after : seq > after));
  }
  return seqs.slice(0, scan.limit);
}

/**
 * A conflicted document `id` (leaves 1-y, 1-x) and the write that resolves it: 1-x is deleted
 * by a tombstone 2-x, 1-y continues as 2-y. `atts` go on the loser 1-x.
 */
function conflictAndResolution(id: string, atts?: ReturnType<typeof attMeta>) {
  const loserAtts = atts && { 'loser.bin': atts };
  const loser = node('1-x', null, { body: { side: 'x' }, attachments: loserAtts });
  const conflict = docWrite(id, [leaf('1-y'), leaf('1-x')], {
    added: [node('1-y', null, { body: { side: 'y' } }), loser],
  });
  const resolution = docWrite(id, [leaf('2-y'), leaf('2-x', true)], {
    added: [
      node('2-y', '1-y', { body: { side: 'merged' } }),
      node('2-x', '1-x', { deleted: true, body: {} }),
    ],
    changed: [
      { ...stored(node('1-y', null, { body: {} })), leaf: false },
      { ...stored(loser), leaf: false },
    ],
  });
  const history: ResolutionRecord = {
    docId: id,
    at: '2026-01-02T03:04:05.000Z',
    by: 'user:anna',
    rev: '2-y',
    kept: '1-y',
    losers: [{ rev: '1-x', body: JSON.stringify({ side: 'x' }), attachments: loserAtts }],
  };
  return { conflict, resolution, history };
}

/** Conformance: the history of resolved conflicts, written with the documents it resolves. */
export function resolutionsTests(t: Context): void {
  const scanSeqs = async (scan: ResolutionsScan) =>
    (await collect(t.storage.resolutions(scan))).map((stored) => stored.seq);

  describe('resolutions', () => {
    it('starts empty', async () => {
      expect(await collect(t.storage.resolutions({}))).toEqual([]);
      expect(await t.storage.countResolutions()).toBe(0);
      expect(await t.storage.countResolutions('a')).toBe(0);
    });

    it('reads entries back whole, in the order written, with increasing seqs', async () => {
      const atts = { 'f.bin': attMeta('md5-f', 3, 2) };
      const first = entry('b', 0, [
        { rev: '1-l', body: '{"a":1}', attachments: atts },
        { rev: '1-m', body: '{}' },
      ]);
      await t.storage.writeDocs([newDoc('a'), newDoc('b')], [], [first, entry('a', 1)]);
      await t.storage.writeDocs([newDoc('c')], [], [entry('c', 2)]);
      const read = await collect(t.storage.resolutions({}));
      expect(read.map(({ seq: _seq, ...record }) => record)).toEqual([first, entry('a', 1), entry('c', 2)]);
      const seqs = read.map((stored) => stored.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(3);
      expect(read[0]?.losers[0]?.attachments).toEqual(atts);
    });

    it('keeps only the record: fields beyond it are not stored', async () => {
      const extra = { ...entry('a', 0), seq: 99, note: 'x' } as StoredResolution;
      await t.storage.writeDocs([newDoc('a')], [], [extra]);
      const [read] = await collect(t.storage.resolutions({}));
      expect(read).toEqual({ ...entry('a', 0), seq: read?.seq });
      expect(read?.seq).not.toBe(99);
    });

    it('stores entries given with no document writes', async () => {
      await t.storage.writeDocs([], [], [entry('a', 0)]);
      expect(await t.storage.countResolutions()).toBe(1);
    });

    describe('scans', () => {
      const entries = ['a', 'b', 'a', 'c', 'a', 'b'].map((id, n) => entry(id, n));
      beforeEach(async () => {
        await t.storage.writeDocs([newDoc('a'), newDoc('b'), newDoc('c')], [], entries);
      });
      // Seqs of this fresh storage are 1..6; a backend need not start there, so compare
      // positions in the full scan.
      const positions = async (scan: ResolutionsScan, all: number[]) =>
        (await scanSeqs(scan)).map((seq) => all.indexOf(seq) + 1);

      it('filters by document, counts, and honours after, descending and limit', async () => {
        const all = await scanSeqs({});
        expect(all).toHaveLength(6);
        const at = (position: number) => all[position - 1]!;
        const cases: ResolutionsScan[] = [
          {},
          { docId: 'a' },
          { docId: 'b' },
          { docId: 'unknown' },
          { descending: true },
          { docId: 'a', descending: true },
          { after: at(2) },
          { after: at(2), docId: 'a' },
          { after: at(5), descending: true },
          { after: at(5), descending: true, docId: 'a' },
          { after: at(6) },
          { after: at(1), descending: true },
          { limit: 2 },
          { limit: 0 },
          { limit: 2, descending: true, docId: 'a' },
          { limit: 1, after: at(1), docId: 'a' },
          { limit: 10, docId: 'c' },
        ];
        for (const scan of cases) {
          // The model works with positions; `after` is a seq, so translate it.
          const model = {
            ...scan,
            after: scan.after === undefined ? undefined : all.indexOf(scan.after) + 1,
          };
          expect(await positions(scan, all), JSON.stringify(scan)).toEqual(expected(entries, model));
        }
        expect(await t.storage.countResolutions()).toBe(6);
        expect(await t.storage.countResolutions('a')).toBe(3);
        expect(await t.storage.countResolutions('c')).toBe(1);
        expect(await t.storage.countResolutions('unknown')).toBe(0);
      });

      it('persist across reopen, and later entries follow', async () => {
        const before = await collect(t.storage.resolutions({}));
        const s = await t.reopen();
        expect(await collect(s.resolutions({}))).toEqual(before);
        await s.writeDocs([], [], [entry('a', 6)]);
        const after = await collect(s.resolutions({ docId: 'a' }));
        expect(after.map((stored) => stored.kept)).toEqual(['1-k', '3-k', '5-k', '7-k']);
        expect(after[3]!.seq).toBeGreaterThan(before[5]!.seq);
      });
    });

    it('a failing writeDocs stores neither the documents nor the history', async () => {
      await t.storage.writeDocs([newDoc('kept')], [], [entry('kept', 0)]);
      const duplicateRev = docWrite('bad', [leaf('1-x')], {
        added: [node('1-x', null, { body: { first: true } }), node('1-x', null, { body: { second: true } })],
      });
      await expect(
        t.storage.writeDocs([newDoc('fresh'), duplicateRev], [], [entry('fresh', 1), entry('bad', 2)]),
      ).rejects.toThrow();
      const untouched = async () => {
        expect(await t.storage.getDocs(['fresh', 'bad'])).toEqual([undefined, undefined]);
        expect((await collect(t.storage.resolutions({}))).map((stored) => stored.docId)).toEqual(['kept']);
        expect(await t.storage.countResolutions()).toBe(1);
        expect(await t.storage.countResolutions('fresh')).toBe(0);
      };
      await untouched();
      await t.reopen();
      await untouched();
      await t.storage.writeDocs([newDoc('fresh')], [], [entry('fresh', 3)]);
      expect((await collect(t.storage.resolutions({}))).map((stored) => stored.docId)).toEqual([
        'kept',
        'fresh',
      ]);
    });

    it("compaction keeps the attachment bytes a history entry's losers refer to", async () => {
      const { conflict, resolution, history } = conflictAndResolution('doc', attMeta('md5-loser', 2));
      const blobs = ['md5-loser', 'md5-orphan'].map((digest) => ({ digest, data: new Uint8Array([4, 2]) }));
      await t.storage.writeDocs([conflict], blobs);
      await t.storage.writeDocs([resolution], [], [history]);
      await compactFully(t.storage);
      // The loser's revision body is gone, as compaction promises; its history entry keeps it.
      expect(await t.storage.getRevisions('doc', ['1-x'])).toEqual([undefined]);
      expect(Array.from((await t.storage.getAttachment('md5-loser')) ?? [])).toEqual([4, 2]);
      expect(await t.storage.getAttachment('md5-orphan')).toBeUndefined();
      const s = await t.reopen();
      await compactFully(s);
      expect(await s.getAttachment('md5-loser')).toBeDefined();
      const [read] = await collect(s.resolutions({ docId: 'doc' }));
      expect(read).toMatchObject({ ...history, seq: read?.seq });
    });

    it("compaction without history drops a deleted loser's bytes (the test above is not vacuous)", async () => {
      const { conflict, resolution } = conflictAndResolution('doc', attMeta('md5-loser', 2));
      await t.storage.writeDocs([conflict], [{ digest: 'md5-loser', data: new Uint8Array([4, 2]) }]);
      await t.storage.writeDocs([resolution]);
      await compactFully(t.storage);
      expect(await t.storage.getAttachment('md5-loser')).toBeUndefined();
    });

    it('destroy removes the history with everything else', async () => {
      await t.storage.writeDocs([newDoc('a')], [], [entry('a', 0)]);
      await t.storage.destroy();
      const s = await t.open();
      expect(await collect(s.resolutions({}))).toEqual([]);
      expect(await s.countResolutions()).toBe(0);
    });
  });

  describe('resolutions across internal pages', () => {
    // More entries than any sensible internal page (SQLite reads 512 at a time); document
    // `big` alone fills more than one.
    const entries = Array.from({ length: 1300 }, (_, n) => entry(n % 3 === 2 ? `small-${n % 5}` : 'big', n));
    const docIds = ['big', 'small-0', 'small-1', 'small-2', 'small-3', 'small-4', 'none'];
    let all: number[] = [];

    beforeEach(async () => {
      await t.storage.writeDocs([], [], entries.slice(0, 700));
      await t.storage.writeDocs([], [], entries.slice(700));
      all = await scanSeqs({});
    });

    it('reads every entry once, in order, and counts them', async () => {
      expect(all).toHaveLength(entries.length);
      expect(new Set(all).size).toBe(entries.length);
      expect(all).toEqual([...all].sort((a, b) => a - b));
      expect(await scanSeqs({ descending: true })).toEqual([...all].reverse());
      const big = await collect(t.storage.resolutions({ docId: 'big' }));
      expect(big).toHaveLength(867);
      expect(big.every((stored) => stored.docId === 'big')).toBe(true);
      expect(await t.storage.countResolutions()).toBe(1300);
      expect(await t.storage.countResolutions('big')).toBe(867);
      for (const limit of [511, 512, 513, 1024]) {
        expect(await scanSeqs({ limit })).toEqual(all.slice(0, limit));
        expect(await scanSeqs({ limit, descending: true, docId: 'big' })).toHaveLength(Math.min(limit, 867));
      }
    });

    it('any scan reads exactly the filtered, ordered, limited sequence (property)', async () => {
      const scans = fc.record(
        {
          docId: fc.constantFrom(...docIds),
          after: fc.integer({ min: 0, max: entries.length + 1 }),
          descending: fc.boolean(),
          limit: fc.integer({ min: 0, max: 1400 }),
        },
        { requiredKeys: [] },
      );
      await fc.assert(
        fc.asyncProperty(scans, async (model) => {
          // `after` is drawn as a position (0 and n + 1 lie outside); the storage's seqs need not be 1..n.
          const seqAt = (p: number) =>
            p === 0 ? all[0]! - 1 : p > all.length ? all.at(-1)! + 1 : all[p - 1]!;
          const after = model.after === undefined ? undefined : seqAt(model.after);
          const read = await collect(t.storage.resolutions({ ...model, after }));
          const want = expected(entries, model);
          expect(read.map((stored) => stored.seq)).toEqual(want.map(seqAt));
          expect(read.map(({ seq: _seq, ...record }) => record)).toEqual(want.map((p) => entries[p - 1]));
        }),
        { numRuns: 60 },
      );
    });
  });
}
