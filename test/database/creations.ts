/**
 * Documents written without a `_rev`: created when new, a conflict when they exist (whoever
 * created them: this database, or another tab on the same IndexedDB), extending the tombstone
 * when deleted — as CouchDB answers. Run on SQLite (creations.test.ts) and on IndexedDB in
 * Chromium (test/browser/indexeddb.test.ts), so nothing here uses a Node built-in.
 */
import { describe, expect, it } from 'vitest';
import type { WriteResult } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';
import type { Database } from '../../src/database/database.js';

/** How a test gets a new, empty database (closed and removed by the caller's own hooks). */
export type OpenDatabase = () => Promise<Database>;

const outcome = (result: WriteResult) => ('error' in result ? result.error : 'ok');

export function describeCreations(open: OpenDatabase): void {
  describe('documents written without a revision', () => {
    it('are created, while one that exists is a conflict and changes nothing', async () => {
      const db = await open();
      const { rev } = await db.put({ _id: 'kept', v: 1 });
      const results = await db.bulkDocs([{ _id: 'new-1' }, { _id: 'kept', v: 2 }, { _id: 'new-2' }]);
      expect(results.map(outcome)).toEqual(['ok', 'conflict', 'ok']);
      expect(await db.get('kept')).toEqual({ _id: 'kept', _rev: rev, v: 1 });
      expect((await db.info()).update_seq).toBe(3);
      expect((await db.info()).doc_count).toBe(3);
    });

    it('a put of one that exists is a conflict (CouchDB 409), the document unchanged', async () => {
      const db = await open();
      const { rev } = await db.put({ _id: 'a', v: 1 });
      const failure = await db.put({ _id: 'a', v: 2 }).catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(SetteeError);
      expect((failure as SetteeError).status).toBe(409);
      expect((await db.get('a'))._rev).toBe(rev);
    });

    it('extend the tombstone of a deleted document, one generation on', async () => {
      const db = await open();
      const first = await db.put({ _id: 'gone', v: 1 });
      const deleted = await db.remove('gone', first.rev);
      const [again] = await db.bulkDocs([{ _id: 'gone', v: 3 }]);
      expect(again).toMatchObject({ ok: true, id: 'gone' });
      const rev = (again as { rev: string }).rev;
      expect(rev.startsWith('3-')).toBe(true);
      const doc = await db.get('gone', { revs: true });
      const ids = doc._revisions!.ids;
      expect([`3-${ids[0]}`, `2-${ids[1]}`, `1-${ids[2]}`]).toEqual([rev, deleted.rev, first.rev]);
      expect((await db.info()).doc_count).toBe(1);
    });

    it('given twice in one batch: created by the first, a conflict for the second', async () => {
      const db = await open();
      const results = await db.bulkDocs([
        { _id: 'twice', n: 1 },
        { _id: 'twice', n: 2 },
      ]);
      expect(results.map(outcome)).toEqual(['ok', 'conflict']);
      expect(await db.get('twice')).toMatchObject({ n: 1, _rev: (results[0] as { rev: string }).rev });
    });

    it('given after an edit of the same document in one batch: the edit applies, the second conflicts', async () => {
      const db = await open();
      const { rev } = await db.put({ _id: 'e', n: 1 });
      const results = await db.bulkDocs([
        { _id: 'e', _rev: rev, n: 2 },
        { _id: 'e', n: 3 },
      ]);
      expect(results.map(outcome)).toEqual(['ok', 'conflict']);
      expect(await db.get('e')).toMatchObject({ n: 2 });
    });

    it('failing for itself while it exists: answered as from its tree (a conflict, not its own error)', async () => {
      const db = await open();
      const data = { content_type: 'text/plain', data: 'aGk=' };
      await db.put({ _id: 'stubbed', _attachments: { 'f.txt': data } });
      // A stub needs the revision it comes from: alone, it is missing_stub (412)…
      const stub = { _attachments: { 'f.txt': { stub: true } } };
      const [alone] = await db.bulkDocs([{ _id: 'nowhere', ...stub }]);
      expect(outcome(alone!)).toBe('missing_stub');
      // …but a document that exists, edited without its revision, conflicts first.
      const [existing] = await db.bulkDocs([{ _id: 'stubbed', ...stub }]);
      expect(outcome(existing!)).toBe('conflict');
    });

    it('with one that exists in an atomic batch: nothing of the batch is written', async () => {
      const db = await open();
      await db.put({ _id: 'there' });
      const failure = await db
        .bulkDocs([{ _id: 'fresh' }, { _id: 'there' }], { atomic: true })
        .catch((error: unknown) => error);
      expect((failure as SetteeError).error).toBe('conflict');
      expect((await db.allDocs()).rows.map((row) => row.id)).toEqual(['there']);
      expect((await db.info()).update_seq).toBe(1);
    });

    it('each get the revision a database that read its tree gives: the same edit, the same rev', async () => {
      // Revision ids are computed from content and parent (CouchDB's deterministic revs): two
      // databases creating the same document give the same id, assumed new or not.
      const [one, two] = [await open(), await open()];
      await two.put({ _id: 'other' });
      const [a] = await one.bulkDocs([{ _id: 'same', v: [1, 'x'] }]);
      const [b] = await two.bulkDocs([{ _id: 'same', v: [1, 'x'] }, { _id: 'other' }]);
      expect(outcome(b!)).toBe('ok');
      expect((b as { rev: string }).rev).toBe((a as { rev: string }).rev);
    });
  });
}
