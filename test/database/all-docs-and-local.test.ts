import { describe, expect, it } from 'vitest';
import type { AllDocsRow } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { expectError, rev, useTempDatabases, writeReplicated } from './helpers.js';

const dbs = useTempDatabases();

const ids = (rows: AllDocsRow[]) => rows.map((row) => row.id);

/** Documents a..f (written out of order), `gone` deleted, and a local document. */
async function letters(): Promise<Database> {
  const db = await dbs.open();
  for (const id of ['d', 'b', 'f', 'a', 'e', 'c']) await db.put({ _id: id, letter: id });
  const gone = await db.put({ _id: 'gone' });
  await db.remove('gone', gone.rev);
  await db.putLocal({ _id: '_local/cp', seq: 1 });
  return db;
}

describe('allDocs', () => {
  it('lists live documents in id order with their winning revision', async () => {
    const db = await letters();
    const all = await db.allDocs();
    expect(ids(all.rows)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    const a = await db.get('a');
    expect(all.rows[0]).toEqual({ id: 'a', key: 'a', value: { rev: a._rev } });
    expect(all.total_rows).toBe(6);
    expect(all.offset).toBe(0);
    expect(all.update_seq).toBeUndefined();
  });

  it('orders ids by raw code point, not by collation or UTF-16 units', async () => {
    const db = await dbs.open();
    const written = ['b', 'B', '1', 'a', '_design/d', 'é', '\u{1F600}', '\uFF01', 'aa', 'Z', '~'];
    for (const id of written) await db.put({ _id: id });
    const byCodePoint = [...written].sort((x, y) => {
      const a = [...x].map((c) => c.codePointAt(0)!);
      const b = [...y].map((c) => c.codePointAt(0)!);
      for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
      return a.length - b.length;
    });
    expect(byCodePoint).toEqual([
      '1',
      'B',
      'Z',
      '_design/d',
      'a',
      'aa',
      'b',
      '~',
      'é',
      '\uFF01',
      '\u{1F600}',
    ]);
    expect(ids((await db.allDocs()).rows)).toEqual(byCodePoint);
    expect(ids((await db.allDocs({ descending: true })).rows)).toEqual([...byCodePoint].reverse());
    // A range bound above U+FFFF also compares by code point.
    expect(ids((await db.allDocs({ startkey: '\uFF01' })).rows)).toEqual(['\uFF01', '\u{1F600}']);
  });

  it('startkey, endkey and inclusive_end', async () => {
    const db = await letters();
    expect(ids((await db.allDocs({ startkey: 'b', endkey: 'd' })).rows)).toEqual(['b', 'c', 'd']);
    expect(ids((await db.allDocs({ startkey: 'b', endkey: 'd', inclusive_end: false })).rows)).toEqual([
      'b',
      'c',
    ]);
    expect(ids((await db.allDocs({ startkey: 'bb' })).rows)).toEqual(['c', 'd', 'e', 'f']);
    expect(ids((await db.allDocs({ endkey: 'b' })).rows)).toEqual(['a', 'b']);
    expect(ids((await db.allDocs({ startkey: 'x' })).rows)).toEqual([]);
    expect(ids((await db.allDocs({ key: 'c' })).rows)).toEqual(['c']);
    expect(ids((await db.allDocs({ key: 'gone' })).rows)).toEqual([]);
    // total_rows is always the document count.
    expect((await db.allDocs({ startkey: 'x' })).total_rows).toBe(6);
  });

  it('descending walks backwards from startkey toward endkey', async () => {
    const db = await letters();
    expect(ids((await db.allDocs({ descending: true })).rows)).toEqual(['f', 'e', 'd', 'c', 'b', 'a']);
    expect(ids((await db.allDocs({ descending: true, startkey: 'd', endkey: 'b' })).rows)).toEqual([
      'd',
      'c',
      'b',
    ]);
    expect(
      ids((await db.allDocs({ descending: true, startkey: 'd', endkey: 'b', inclusive_end: false })).rows),
    ).toEqual(['d', 'c']);
  });

  it('limit and skip', async () => {
    const db = await letters();
    const page = await db.allDocs({ limit: 2, skip: 1 });
    expect(ids(page.rows)).toEqual(['b', 'c']);
    expect(page.offset).toBe(1);
    expect(ids((await db.allDocs({ limit: 0 })).rows)).toEqual([]);
    expect(ids((await db.allDocs({ skip: 10 })).rows)).toEqual([]);
    expect(ids((await db.allDocs({ descending: true, limit: 2, skip: 1 })).rows)).toEqual(['e', 'd']);
    await expectError(() => db.allDocs({ limit: -1 }), 'bad_request');
    await expectError(() => db.allDocs({ skip: 1.5 }), 'bad_request');
  });

  it('include_docs and conflicts', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'x', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'x', [rev(2, 'b'), rev(1, '1')], { v: 'b' });
    const y = await db.put({ _id: 'y', v: 'y' });
    const plain = await db.allDocs({ include_docs: true });
    expect(plain.rows).toEqual([
      { id: 'x', key: 'x', value: { rev: rev(2, 'b') }, doc: { _id: 'x', _rev: rev(2, 'b'), v: 'b' } },
      { id: 'y', key: 'y', value: { rev: y.rev }, doc: { _id: 'y', _rev: y.rev, v: 'y' } },
    ]);
    const withConflicts = await db.allDocs({ include_docs: true, conflicts: true });
    expect(withConflicts.rows[0]!.doc).toEqual({
      _id: 'x',
      _rev: rev(2, 'b'),
      v: 'b',
      _conflicts: [rev(2, 'a')],
    });
    expect(withConflicts.rows[1]!.doc).toEqual({ _id: 'y', _rev: y.rev, v: 'y' });
  });

  it('include_docs with attachments inlines data; without, stubs', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a', _attachments: { f: { content_type: 'text/plain', data: 'aGk=' } } });
    const stubs = await db.allDocs({ include_docs: true });
    expect(stubs.rows[0]!.doc!._attachments!.f).toMatchObject({ stub: true, length: 2 });
    const inline = await db.allDocs({ include_docs: true, attachments: true });
    expect(inline.rows[0]!.doc!._attachments!.f).toMatchObject({ data: 'aGk=' });
    const byKey = await db.allDocs({ keys: ['a'], include_docs: true, attachments: true });
    expect(byKey.rows[0]!.doc!._attachments!.f).toMatchObject({ data: 'aGk=' });
  });

  it('update_seq adds the current sequence', async () => {
    const db = await letters();
    expect((await db.allDocs({ update_seq: true })).update_seq).toBe(8);
  });

  it('keys: rows in the order given, duplicates repeated, missing and deleted reported', async () => {
    const db = await letters();
    const [c, a] = [await db.get('c'), await db.get('a')];
    const gone = (await db.changes({ doc_ids: ['gone'] })).results[0]!.changes[0]!.rev;
    const result = await db.allDocs({ keys: ['c', 'nope', 'a', 'gone', 'c', '_local/cp'] });
    expect(result.rows).toEqual([
      { id: 'c', key: 'c', value: { rev: c._rev } },
      { key: 'nope', error: 'not_found' },
      { id: 'a', key: 'a', value: { rev: a._rev } },
      { id: 'gone', key: 'gone', value: { rev: gone, deleted: true } },
      { id: 'c', key: 'c', value: { rev: c._rev } },
      { key: '_local/cp', error: 'not_found' },
    ]);
    const withDocs = await db.allDocs({ keys: ['gone', 'a', 'nope'], include_docs: true });
    expect(withDocs.rows).toEqual([
      { id: 'gone', key: 'gone', value: { rev: gone, deleted: true }, doc: null },
      { id: 'a', key: 'a', value: { rev: a._rev }, doc: { _id: 'a', _rev: a._rev, letter: 'a' } },
      { key: 'nope', error: 'not_found' },
    ]);
    expect(ids((await db.allDocs({ keys: [] })).rows)).toEqual([]);
  });

  it('deleted documents are excluded from ranges, and come back when recreated', async () => {
    const db = await letters();
    expect(ids((await db.allDocs()).rows)).not.toContain('gone');
    await db.put({ _id: 'gone', back: true });
    expect(ids((await db.allDocs()).rows)).toContain('gone');
    expect((await db.allDocs()).total_rows).toBe(7);
  });

  it('a document whose winner is live is listed even if it has deleted leaves', async () => {
    const db = await dbs.open();
    await writeReplicated(db, 'x', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'x', [rev(2, 'b'), rev(1, '1')], { v: 'b' });
    await db.remove('x', rev(2, 'b'));
    expect((await db.allDocs()).rows).toEqual([{ id: 'x', key: 'x', value: { rev: rev(2, 'a') } }]);
  });

  it('allDocsStream yields the same rows as allDocs', async () => {
    const db = await dbs.open();
    for (let i = 0; i < 1100; i++) await db.put({ _id: `k${String(i).padStart(4, '0')}` });
    const streamed: AllDocsRow[] = [];
    for await (const row of db.allDocsStream({ startkey: 'k0100', include_docs: true })) streamed.push(row);
    const collected = await db.allDocs({ startkey: 'k0100', include_docs: true });
    expect(streamed).toEqual(collected.rows);
    expect(streamed).toHaveLength(1000);
    expect(new Set(ids(streamed)).size).toBe(1000);
    const descending = await db.allDocs({ descending: true, endkey: 'k0500' });
    expect(descending.rows).toHaveLength(600);
    expect(descending.rows[0]!.id).toBe('k1099');
  });
});

describe('local documents', () => {
  it('get their first revision 0-1 and count up from the supplied _rev', async () => {
    const db = await dbs.open();
    const first = await db.putLocal({ _id: '_local/cp', seq: 1 });
    expect(first).toEqual({ ok: true, id: '_local/cp', rev: '0-1' });
    expect(await db.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-1', seq: 1 });
    const second = await db.putLocal({ _id: '_local/cp', _rev: '0-1', seq: 2 });
    expect(second.rev).toBe('0-2');
    expect(await db.get('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-2', seq: 2 });
  });

  it('do no conflict checks: a stale _rev still writes 0-(N+1)', async () => {
    const db = await dbs.open();
    await db.putLocal({ _id: '_local/cp', seq: 1 });
    await db.putLocal({ _id: '_local/cp', _rev: '0-1', seq: 2 });
    await db.putLocal({ _id: '_local/cp', _rev: '0-2', seq: 3 });
    const stale = await db.putLocal({ _id: '_local/cp', _rev: '0-1', seq: 'stale' });
    expect(stale.rev).toBe('0-2');
    expect(await db.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-2', seq: 'stale' });
    // Without _rev on an existing document: 0-1 again, no conflict.
    const bare = await db.putLocal({ _id: '_local/cp', seq: 'bare' });
    expect(bare.rev).toBe('0-1');
  });

  it('can be written and read through put/get/remove too', async () => {
    const db = await dbs.open();
    const written = await db.put({ _id: '_local/x', v: 1 });
    expect(written).toEqual({ ok: true, id: '_local/x', rev: '0-1' });
    expect(await db.get('_local/x')).toEqual({ _id: '_local/x', _rev: '0-1', v: 1 });
    const updated = await db.put({ _id: '_local/x', _rev: '0-1', v: 2 });
    expect(updated.rev).toBe('0-2');
    expect(await db.remove('_local/x', '0-2')).toEqual({ ok: true, id: '_local/x', rev: '0-0' });
    await expectError(db.get('_local/x'), 'not_found', 'missing');
  });

  it('deleting answers 0-0 and removes the document', async () => {
    const db = await dbs.open();
    await db.putLocal({ _id: '_local/a', v: 1 });
    await db.putLocal({ _id: '_local/b', v: 1 });
    expect(await db.removeLocal('_local/a')).toEqual({ ok: true, id: '_local/a', rev: '0-0' });
    expect(await db.getLocal('_local/a')).toBeUndefined();
    expect(await db.putLocal({ _id: '_local/b', _deleted: true })).toEqual({
      ok: true,
      id: '_local/b',
      rev: '0-0',
    });
    expect(await db.getLocal('_local/b')).toBeUndefined();
    await expectError(db.removeLocal('_local/none'), 'not_found');
    // Written again after deletion: starts from the supplied rev (none) again.
    expect((await db.putLocal({ _id: '_local/a', v: 2 })).rev).toBe('0-1');
  });

  it('are absent from changes, allDocs, doc_count and update_seq', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'a' });
    const before = await db.info();
    await db.putLocal({ _id: '_local/cp', seq: 1 });
    await db.putLocal({ _id: '_local/cp', _rev: '0-1', seq: 2 });
    const after = await db.info();
    expect(after.update_seq).toBe(before.update_seq);
    expect(after.doc_count).toBe(1);
    expect(after.doc_del_count).toBe(0);
    expect((await db.changes()).results.map((row) => row.id)).toEqual(['a']);
    expect((await db.allDocs()).rows.map((row) => row.id)).toEqual(['a']);
    expect((await db.allDocs({ startkey: '_local/', endkey: '_local/\uffff' })).rows).toEqual([]);
    await db.removeLocal('_local/cp');
    expect((await db.info()).update_seq).toBe(before.update_seq);
  });

  it('persist across close and reopen', async () => {
    const db = await dbs.open();
    await db.putLocal({ _id: '_local/cp', seq: 'x' });
    const reopened = await dbs.reopen(db);
    expect(await reopened.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-1', seq: 'x' });
  });

  it('keep a write without its attachments, reject non-local ids; a missing one reads as undefined', async () => {
    const db = await dbs.open();
    // CouchDB 3.5 accepts `_attachments` on a local document and stores it without them.
    const written = await db.putLocal({
      _id: '_local/a',
      v: 1,
      _attachments: { f: { data: 'aGk=', content_type: 'text/plain' } },
    });
    expect(written).toEqual({ ok: true, id: '_local/a', rev: '0-1' });
    expect(await db.getLocal('_local/a')).toEqual({ _id: '_local/a', _rev: '0-1', v: 1 });
    await expectError(db.putLocal({ _id: 'plain', v: 1 }), 'bad_request');
    expect(await db.getLocal('_local/none')).toBeUndefined();
    await expectError(db.get('_local/none'), 'not_found', 'missing');
  });

  it('reject a _rev that is not 0-N', async () => {
    const db = await dbs.open();
    await db.putLocal({ _id: '_local/cp', seq: 1 });
    await expectError(db.putLocal({ _id: '_local/cp', _rev: '0-abc', seq: 2 }), 'bad_request');
    await expectError(db.putLocal({ _id: '_local/cp', _rev: 'nonsense', seq: 2 }), 'bad_request');
    expect(await db.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-1', seq: 1 });
  });

  it('ignore a _revisions written with a checkpoint', async () => {
    const db = await dbs.open();
    const result = await db.putLocal({
      _id: '_local/cp',
      _revisions: { start: 1, ids: ['1'] },
      seq: 5,
    } as never);
    expect(result.rev).toBe('0-1');
    expect(await db.getLocal('_local/cp')).toEqual({ _id: '_local/cp', _rev: '0-1', seq: 5 });
  });
});
