import { describe, expect, it } from 'vitest';
import type { ChangeRow } from '../../src/core/api.js';
import type { Database } from '../../src/database/database.js';
import { expectError, rev, useTempDatabases, writeReplicated } from './helpers.js';

const dbs = useTempDatabases();

/** [id, seq] of each row, to keep expectations short. */
const idsAndSeqs = (rows: ChangeRow[]) => rows.map((row) => [row.id, row.seq]);

/** Five documents a..e at seqs 1..5. */
async function fiveDocs(): Promise<Database> {
  const db = await dbs.open();
  for (const id of ['a', 'b', 'c', 'd', 'e']) await db.put({ _id: id, n: id });
  return db;
}

describe('changes', () => {
  it('lists every document once, in sequence order, with last_seq and pending', async () => {
    const db = await fiveDocs();
    const changes = await db.changes();
    expect(idsAndSeqs(changes.results)).toEqual([
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
      ['e', 5],
    ]);
    const a = await db.get('a');
    expect(changes.results[0]).toEqual({ seq: 1, id: 'a', changes: [{ rev: a._rev }] });
    expect(changes.last_seq).toBe(5);
    expect(changes.pending).toBe(0);
  });

  it('an empty database has no rows and last_seq 0', async () => {
    const db = await dbs.open();
    expect(await db.changes()).toEqual({ results: [], last_seq: 0, pending: 0 });
  });

  it('a document appears once, at the sequence of its latest update', async () => {
    const db = await fiveDocs();
    const b = await db.get('b');
    const b2 = await db.put({ _id: 'b', _rev: b._rev, n: 'b2' });
    const d = await db.get('d');
    const removed = await db.remove('d', d._rev);
    const changes = await db.changes();
    expect(idsAndSeqs(changes.results)).toEqual([
      ['a', 1],
      ['c', 3],
      ['e', 5],
      ['b', 6],
      ['d', 7],
    ]);
    expect(changes.results[3]!.changes).toEqual([{ rev: b2.rev }]);
    expect(changes.results[4]).toEqual({ seq: 7, id: 'd', changes: [{ rev: removed.rev }], deleted: true });
  });

  it('since is exclusive and accepts a number, a numeric string and now', async () => {
    const db = await fiveDocs();
    expect(idsAndSeqs((await db.changes({ since: 3 })).results)).toEqual([
      ['d', 4],
      ['e', 5],
    ]);
    expect(idsAndSeqs((await db.changes({ since: '4' })).results)).toEqual([['e', 5]]);
    const now = await db.changes({ since: 'now' });
    expect(now).toEqual({ results: [], last_seq: 5, pending: 0 });
    // A numeric head with a suffix, as opaque CouchDB-style seqs look.
    expect(idsAndSeqs((await db.changes({ since: '4-g1AAAA' })).results)).toEqual([['e', 5]]);
    const past = await db.changes({ since: 99 });
    expect(past.results).toEqual([]);
  });

  it('a malformed since is a bad_request', async () => {
    const db = await fiveDocs();
    for (const since of ['abc', -1, 1.5, '', '1e2', ' 3', '-3', Number.NaN]) {
      await expectError(
        () => db.changes({ since: since as never }),
        'bad_request',
        "Malformed sequence supplied in 'since' parameter.",
      );
    }
  });

  it('limit: last_seq is the last returned row and pending counts the rest', async () => {
    const db = await fiveDocs();
    const page = await db.changes({ limit: 2 });
    expect(idsAndSeqs(page.results)).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    expect(page.last_seq).toBe(2);
    expect(page.pending).toBe(3);

    const zero = await db.changes({ since: 1, limit: 0 });
    expect(zero).toEqual({ results: [], last_seq: 1, pending: 4 });
    await expectError(() => db.changes({ limit: -1 }), 'bad_request');
  });

  it('paging with last_seq visits every document exactly once', async () => {
    const db = await dbs.open();
    for (let i = 0; i < 23; i++) await db.put({ _id: `doc${String(i).padStart(2, '0')}` });
    const seen: string[] = [];
    let since = 0;
    for (;;) {
      const page = await db.changes({ since, limit: 5 });
      if (page.results.length === 0) break;
      seen.push(...page.results.map((row) => row.id));
      expect(page.pending).toBe(23 - seen.length);
      since = page.last_seq;
    }
    expect(seen).toHaveLength(23);
    expect(new Set(seen).size).toBe(23);
  });

  it('descending lists the newest first', async () => {
    const db = await fiveDocs();
    const changes = await db.changes({ descending: true });
    expect(changes.results.map((row) => row.id)).toEqual(['e', 'd', 'c', 'b', 'a']);
    const limited = await db.changes({ descending: true, limit: 2 });
    expect(idsAndSeqs(limited.results)).toEqual([
      ['e', 5],
      ['d', 4],
    ]);
    expect(limited.last_seq).toBe(4);
  });

  it('include_docs adds the winning revision, and tombstones as {_id, _rev, _deleted}', async () => {
    const db = await dbs.open();
    const a = await db.put({ _id: 'a', v: 1 });
    const b = await db.put({ _id: 'b', v: 2 });
    const removed = await db.remove('b', b.rev);
    const changes = await db.changes({ include_docs: true });
    expect(changes.results).toEqual([
      { seq: 1, id: 'a', changes: [{ rev: a.rev }], doc: { _id: 'a', _rev: a.rev, v: 1 } },
      {
        seq: 3,
        id: 'b',
        changes: [{ rev: removed.rev }],
        deleted: true,
        doc: { _id: 'b', _rev: removed.rev, _deleted: true },
      },
    ]);
  });

  it('doc_ids lists only those documents; last_seq is still the end of the range', async () => {
    const db = await fiveDocs();
    const changes = await db.changes({ doc_ids: ['d', 'b', 'zz'] });
    expect(idsAndSeqs(changes.results)).toEqual([
      ['b', 2],
      ['d', 4],
    ]);
    expect(changes.last_seq).toBe(5);
    expect(changes.pending).toBe(0);
  });

  it('a Mango selector keeps only matching documents; last_seq is the end of the range', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'apple', type: 'fruit', price: 3 });
    await db.put({ _id: 'carrot', type: 'veg', price: 1 });
    await db.put({ _id: 'banana', type: 'fruit', price: 5 });
    await db.put({ _id: 'stone', type: 'mineral' });
    const fruit = await db.changes({ selector: { type: 'fruit' } });
    expect(idsAndSeqs(fruit.results)).toEqual([
      ['apple', 1],
      ['banana', 3],
    ]);
    expect(fruit.last_seq).toBe(4);
    expect(fruit.pending).toBe(0);

    const dear = await db.changes({ selector: { type: 'fruit', price: { $gt: 4 } }, include_docs: true });
    expect(dear.results.map((row) => row.doc)).toEqual([
      expect.objectContaining({ _id: 'banana', price: 5 }),
    ]);

    // With a limit, last_seq is the last returned row.
    const one = await db.changes({ selector: { type: 'fruit' }, limit: 1 });
    expect(idsAndSeqs(one.results)).toEqual([['apple', 1]]);
    expect(one.last_seq).toBe(1);

    // An update that makes a document match brings it in; a deletion takes it out.
    const carrot = await db.get('carrot');
    await db.put({ ...carrot, type: 'fruit' });
    const banana = await db.get('banana');
    await db.remove('banana', banana._rev);
    const after = await db.changes({ selector: { type: 'fruit' } });
    expect(idsAndSeqs(after.results)).toEqual([
      ['apple', 1],
      ['carrot', 5],
    ]);
    expect(after.last_seq).toBe(6);
  });

  it('an invalid selector is rejected', async () => {
    const db = await fiveDocs();
    await expectError(() => db.changes({ selector: { n: { $nope: 1 } } }), 'bad_request');
  });

  it('doc_ids with a limit: last_seq is the last returned row', async () => {
    const db = await fiveDocs();
    const changes = await db.changes({ doc_ids: ['b', 'd', 'e'], limit: 2 });
    expect(idsAndSeqs(changes.results)).toEqual([
      ['b', 2],
      ['d', 4],
    ]);
    expect(changes.last_seq).toBe(4);
    expect(changes.pending).toBe(1);
  });

  it('streams across storage pages in both directions', async () => {
    const db = await dbs.open();
    await db.bulkDocs(Array.from({ length: 1100 }, (_, i) => ({ _id: `d${String(i).padStart(4, '0')}` })));
    const all = await db.changes();
    expect(all.results).toHaveLength(1100);
    expect(all.results.map((row) => row.seq)).toEqual(Array.from({ length: 1100 }, (_, i) => i + 1));
    const page = await db.changes({ since: 100, limit: 600 });
    expect(page.results).toHaveLength(600);
    expect(page.results[0]!.seq).toBe(101);
    expect(page.last_seq).toBe(700);
    expect(page.pending).toBe(400);
    const descending = await db.changes({ descending: true });
    expect(descending.results.map((row) => row.seq)).toEqual(
      Array.from({ length: 1100 }, (_, i) => 1100 - i),
    );
    const selected = await db.changes({ selector: { _id: { $gt: 'd1090' } } });
    expect(selected.results.map((row) => row.id)).toEqual(
      Array.from({ length: 9 }, (_, i) => `d${1091 + i}`),
    );
    expect(selected.last_seq).toBe(1100);
  });

  it('pending counts the changes after last_seq', async () => {
    const db = await fiveDocs();
    expect((await db.changes({ since: 2 })).pending).toBe(0);
    expect((await db.changes({ since: 2, limit: 1 })).pending).toBe(2);
  });
});

describe('changes of conflicted documents', () => {
  /** `a`: live leaves 2-a and 2-c (2-c wins), a deleted leaf 3-d below 2-b. Then `z`. */
  async function conflicted(): Promise<Database> {
    const db = await dbs.open();
    await writeReplicated(db, 'a', [rev(2, 'a'), rev(1, '1')], { v: 'a' });
    await writeReplicated(db, 'a', [rev(2, 'c'), rev(1, '1')], { v: 'c' });
    await db.bulkDocs([{ ...replicatedTomb('a', [rev(3, 'd'), rev(2, 'b'), rev(1, '1')]) }], {
      newEdits: false,
    });
    await db.put({ _id: 'z' });
    return db;
  }

  function replicatedTomb(id: string, revs: string[]) {
    const start = Number(revs[0]!.split('-')[0]);
    return {
      _id: id,
      _rev: revs[0]!,
      _deleted: true,
      _revisions: { start, ids: revs.map((r) => r.slice(r.indexOf('-') + 1)) },
    };
  }

  it('main_only lists the winner; all_docs lists every leaf, winner first', async () => {
    const db = await conflicted();
    const main = await db.changes();
    expect(main.results[0]).toEqual({ seq: 3, id: 'a', changes: [{ rev: rev(2, 'c') }] });
    const explicitMain = await db.changes({ style: 'main_only' });
    expect(explicitMain.results).toEqual(main.results);

    const all = await db.changes({ style: 'all_docs' });
    const row = all.results[0]!;
    expect(row.id).toBe('a');
    expect(row.changes[0]).toEqual({ rev: rev(2, 'c') });
    expect(row.changes.map((c) => c.rev).sort()).toEqual([rev(2, 'a'), rev(2, 'c'), rev(3, 'd')]);
    // deleted refers to the winner only.
    expect(row.deleted).toBeUndefined();
  });

  it('deleted is set when the winner is a tombstone; all_docs still lists live-less leaves', async () => {
    const db = await conflicted();
    await db.remove('a', rev(2, 'c'));
    await db.remove('a', rev(2, 'a'));
    const all = await db.changes({ style: 'all_docs', include_docs: true });
    const row = all.results.find((r) => r.id === 'a')!;
    expect(row.deleted).toBe(true);
    expect(row.changes).toHaveLength(3);
    expect(row.doc).toEqual({ _id: 'a', _rev: row.changes[0]!.rev, _deleted: true });
  });

  it('conflicts with include_docs adds _conflicts to the winner', async () => {
    const db = await conflicted();
    const changes = await db.changes({ include_docs: true, conflicts: true });
    expect(changes.results[0]!.doc).toEqual({
      _id: 'a',
      _rev: rev(2, 'c'),
      v: 'c',
      _conflicts: [rev(2, 'a')],
    });
    const plain = await db.changes({ include_docs: true });
    expect(plain.results[0]!.doc).toEqual({ _id: 'a', _rev: rev(2, 'c'), v: 'c' });
  });

  it('with a selector and all_docs a row lists only the matching leaves', async () => {
    const db = await conflicted();
    const changes = await db.changes({ style: 'all_docs', selector: { v: 'a' } });
    expect(changes.results).toEqual([{ seq: 3, id: 'a', changes: [{ rev: rev(2, 'a') }] }]);
    expect(changes.last_seq).toBe(4);
  });
});

describe('live changes', () => {
  it('emits writes made after the feed started, until aborted', async () => {
    const db = await dbs.open();
    await db.put({ _id: 'before' });
    const controller = new AbortController();
    const feed = db.changesFeed({ live: true, since: 'now', signal: controller.signal, include_docs: true });
    const rows = feed[Symbol.asyncIterator]();

    const first = rows.next();
    const a = await db.put({ _id: 'a', v: 1 });
    expect(await first).toEqual({
      done: false,
      value: { seq: 2, id: 'a', changes: [{ rev: a.rev }], doc: { _id: 'a', _rev: a.rev, v: 1 } },
    });

    const second = rows.next();
    const a2 = await db.put({ _id: 'a', _rev: a.rev, v: 2 });
    const second2 = await second;
    expect(second2.value).toMatchObject({ seq: 3, id: 'a', changes: [{ rev: a2.rev }] });

    // Two writes before the next read: both are emitted, in order.
    await db.put({ _id: 'b' });
    await db.put({ _id: 'c' });
    expect((await rows.next()).value).toMatchObject({ seq: 4, id: 'b' });
    expect((await rows.next()).value).toMatchObject({ seq: 5, id: 'c' });

    const waiting = rows.next();
    controller.abort();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(feed.lastSeq).toBe(5);
  });

  it('first emits the existing changes after since, then goes on with new writes', async () => {
    const db = await fiveDocs();
    const controller = new AbortController();
    const feed = db.changesFeed({ live: true, since: 3, signal: controller.signal });
    const writer = (async () => {
      for (const id of ['f', 'g', 'h']) await db.put({ _id: id });
    })();
    const seen: [string, number][] = [];
    for await (const row of feed) {
      seen.push([row.id, row.seq]);
      if (seen.length === 5) break;
    }
    controller.abort();
    await writer;
    expect(seen).toEqual([
      ['d', 4],
      ['e', 5],
      ['f', 6],
      ['g', 7],
      ['h', 8],
    ]);
  });

  it('a live feed with a filter emits only matching documents', async () => {
    const db = await dbs.open();
    const controller = new AbortController();
    const feed = db.changesFeed({ live: true, doc_ids: ['wanted'], signal: controller.signal });
    const rows = feed[Symbol.asyncIterator]();
    const next = rows.next();
    await db.put({ _id: 'other' });
    await db.put({ _id: 'another' });
    await db.put({ _id: 'wanted' });
    expect((await next).value).toMatchObject({ id: 'wanted', seq: 3 });
    const waiting = rows.next();
    await db.put({ _id: 'noise' });
    controller.abort();
    expect(await waiting).toEqual({ done: true, value: undefined });
  });

  it('a live feed with a limit ends after that many rows', async () => {
    const db = await dbs.open();
    const feed = db.changesFeed({ live: true, limit: 2 });
    const rows: string[] = [];
    const reading = (async () => {
      for await (const row of feed) rows.push(row.id);
    })();
    await db.put({ _id: 'x' });
    await db.put({ _id: 'y' });
    await db.put({ _id: 'z' });
    await reading;
    expect(rows).toEqual(['x', 'y']);
    expect(feed.lastSeq).toBe(2);
  });

  it('an already aborted signal ends a live feed after the existing rows', async () => {
    const db = await fiveDocs();
    const controller = new AbortController();
    controller.abort();
    const rows: string[] = [];
    for await (const row of db.changesFeed({ live: true, since: 4, signal: controller.signal }))
      rows.push(row.id);
    expect(rows.length).toBeLessThanOrEqual(1);
  });
});
