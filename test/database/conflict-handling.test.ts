/**
 * Conflict handling reads what it needs once, and the backlog sweep settles what a write settles.
 *
 * Reads are counted on a real SqliteStorage through a thin wrapper that records each read it
 * serves and passes it on unchanged.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Doc, NewDoc } from '../../src/core/api.js';
import { lastWriterWins } from '../../src/conflicts/index.js';
import { Database, type DatabaseOptions } from '../../src/database/database.js';
import { SqliteStorage } from '../../src/storage/sqlite/sqlite-storage.js';
import type { Storage } from '../../src/storage/types.js';
import { replicate } from '../../src/replication/index.js';
import { dbState } from '../replication/helpers.js';
import { expectError, useTempDatabases } from './helpers.js';

const dbs = useTempDatabases();
const T0 = 2_000_000_000_000;

/** One read storage served: a summary (`getDocs`, with or without the tree) or revision bodies. */
interface Read {
  method: 'getDocs' | 'getRevisions';
  ids: readonly string[];
  revs?: readonly string[];
}

const dirs: string[] = [];
const closing: Database[] = [];
afterEach(async () => {
  for (const db of closing.splice(0)) await db.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

/** A database over a real SqliteStorage whose reads by id are recorded in `reads`. */
async function countedDatabase(options: DatabaseOptions): Promise<{ db: Database; reads: Read[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settee-reads-'));
  dirs.push(dir);
  const storage = new SqliteStorage(path.join(dir, 'db.sqlite'));
  const reads: Read[] = [];
  const counted = new Proxy(storage, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (key === 'getDocs') reads.push({ method: key, ids: args[0] as string[] });
        if (key === 'getRevisions') {
          reads.push({ method: key, ids: [args[0] as string], revs: args[1] as string[] });
        }
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  }) as Storage;
  const db = await Database.fromStorage(counted, 'db', options);
  closing.push(db);
  return { db, reads };
}

/** How often each revision's body was read, and how many summaries of `id` were read. */
function tally(reads: readonly Read[], id: string): { summaries: number; bodies: Record<string, number> } {
  const bodies: Record<string, number> = {};
  let summaries = 0;
  for (const read of reads) {
    if (!read.ids.includes(id)) continue;
    if (read.method === 'getDocs') summaries++;
    for (const rev of read.revs ?? []) bodies[rev] = (bodies[rev] ?? 0) + 1;
  }
  return { summaries, bodies };
}

/**
 * Document `id` edited apart: another replica edits it to `a`, `into` to `b` (later: `into`'s
 * clock is ahead); returns the other replica's leaf as a replicator would write it into `into`
 * (`new_edits: false`), and the two leaves.
 */
async function editedApart(into: Database, id: string): Promise<{ leaf: Doc; leaves: string[] }> {
  const from = await dbs.open({ stamping: { node: 'from', now: () => T0 } });
  await from.put({ _id: id, v: 0 });
  await replicate(from, into).done;
  const theirs = await from.put({ ...(await from.get(id)), v: 'a' });
  const ours = await into.put({ ...(await into.get(id)), v: 'b' });
  const [read] = await from.getOpenRevs(id, [theirs.rev], { revs: true });
  if (!read || !('ok' in read)) throw new Error('leaf missing');
  return { leaf: read.ok, leaves: [theirs.rev, ours.rev] };
}

describe('an automatic resolution', () => {
  it('reads each leaf once, and the document once, when a write brings the conflict in', async () => {
    let time = T0;
    const { db, reads } = await countedDatabase({
      stamping: { node: 'into', now: () => (time += 2_000) },
      resolver: lastWriterWins(),
      history: true,
    });
    const { leaf, leaves } = await editedApart(db, 'doc');
    reads.length = 0;
    await db.bulkDocs([leaf], { newEdits: false });
    const { summaries, bodies } = tally(reads, 'doc');
    // Before, the resolution read the document again, its tree again, and each leaf's body up
    // to three times: for the resolver, for the history entry and for the write batch. Now
    // only the write that brought the leaf in reads the document (its tree, for the merge).
    expect(summaries).toBe(1);
    expect(leaves.map((rev) => bodies[rev])).toEqual([1, 1]);
    // It did resolve, and kept the history (what the bodies read were handed on to).
    expect((await db.get('doc', { conflicts: true }))._conflicts).toBeUndefined();
    expect((await db.resolutions({ id: 'doc' })).total_rows).toBe(1);
  });

  it('reads each leaf once when the sweep resolves the backlog, or a person resolves by hand', async () => {
    let time = T0;
    const { db, reads } = await countedDatabase({
      stamping: { node: 'into', now: () => (time += 2_000) },
      history: true,
    });
    const swept = await editedApart(db, 'swept');
    await db.bulkDocs([swept.leaf], { newEdits: false });
    reads.length = 0;
    expect(await db.setResolver(lastWriterWins())).toBe(1);
    expect(swept.leaves.map((rev) => tally(reads, 'swept').bodies[rev])).toEqual([1, 1]);

    await db.setResolver(null);
    const byHand = await editedApart(db, 'by-hand');
    await db.bulkDocs([byHand.leaf], { newEdits: false });
    const doc = await db.get('by-hand', { conflicts: true });
    reads.length = 0;
    await db.resolve('by-hand', { merged: { v: 'both' }, losers: doc._conflicts });
    expect(byHand.leaves.map((rev) => tally(reads, 'by-hand').bodies[rev])).toEqual([1, 1]);
    expect((await db.resolutions()).rows.map((row) => [row.docId, row.losers.length])).toEqual([
      ['swept', 1],
      ['by-hand', 2],
    ]);
  });

  it('reads each leaf once when a person resolves with a resolver, which stays unset', async () => {
    let time = T0;
    const { db, reads } = await countedDatabase({
      stamping: { node: 'into', now: () => (time += 2_000) },
      history: true,
    });
    const { leaf, leaves } = await editedApart(db, 'doc');
    await db.bulkDocs([leaf], { newEdits: false });
    reads.length = 0;
    const result = await db.resolveWith('doc', lastWriterWins(), { by: 'user:anna' });
    // Before, the server read the leaves through getOpenRevs and `resolve` read them again.
    expect(leaves.map((rev) => tally(reads, 'doc').bodies[rev])).toEqual([1, 1]);
    // Ours is later: kept as it is, theirs deleted; the history says which resolver, and who.
    expect(result).toEqual({ ok: true, id: 'doc', rev: leaves[1], deleted: [leaves[0]], resolved: true });
    const [entry] = (await db.resolutions({ id: 'doc' })).rows;
    expect([entry?.by, entry?.losers.map((loser) => loser.rev)]).toEqual([
      'resolver:last-writer-wins by user:anna',
      [leaves[0]],
    ]);
    expect(db.getResolver()).toBeUndefined();
  });
});

describe('the backlog sweep', () => {
  /**
   * A live edit from a client that does not stamp (as PouchDB) and a later stamped deletion of
   * the same revision: last writer wins deletes the document (a stamped leaf beats an unstamped
   * one). `resolver` replicas resolve as the second leaf arrives; the others have no resolver.
   */
  async function editAndLaterDeletion(replicas: Database[]): Promise<void> {
    let time = T0;
    const server = await dbs.open({ stamping: { node: 'srv', now: () => time } });
    const client = await dbs.open();
    await server.put({ _id: 'x', v: 1 });
    await replicate(server, client).done;
    const base = await client.get('x');
    await client.put({ ...base, v: 2 });
    time += 1_000;
    await server.remove('x', base._rev);
    for (const replica of replicas) {
      await replicate(client, replica).done;
      await replicate(server, replica).done;
    }
  }

  it('settles a live leaf facing a later stamped deletion as a write would', async () => {
    const atWrite = await dbs.open({ resolver: lastWriterWins() });
    const bySweep = await dbs.open();
    await editAndLaterDeletion([atWrite, bySweep]);
    await expectError(atWrite.get('x'), 'not_found', 'deleted');
    // No live conflict (the other leaf is deleted), but a leaf the resolver would settle.
    expect(await bySweep.conflictCount()).toBe(0);
    expect((await bySweep.get('x')).v).toBe(2);

    expect(await bySweep.setResolver(lastWriterWins())).toBe(1);
    await expectError(bySweep.get('x'), 'not_found', 'deleted');
    expect(await dbState(bySweep)).toEqual(await dbState(atWrite));
    // Settled: a second sweep writes nothing.
    const seq = bySweep.updateSeq();
    expect(await bySweep.setResolver(lastWriterWins())).toBe(0);
    expect(bySweep.updateSeq()).toBe(seq);
  });
});

/**
 * A leaf written with its history (`new_edits: false`), `path` newest first: `['3-c', '2-b', '1-a']`
 * (generation and one hash letter, repeated).
 */
function leafOf(id: string, path: readonly string[], body: Record<string, unknown> = {}): NewDoc {
  const revs = path.map((short) => `${short.slice(0, -1)}${short.slice(-1).repeat(32)}`);
  const start = Number(path[0]!.split('-')[0]);
  return {
    ...body,
    _id: id,
    _rev: revs[0],
    _revisions: { start, ids: revs.map((rev) => rev.split('-')[1]!) },
  };
}

const EARLY = '002000000000000-0000-early';
const LATE = '002000000060000-0000-later';

/** Leaves a write may bring in, and what last writer wins makes of them by any path. */
const SCENARIOS: { name: string; leaves: NewDoc[]; contending: string[]; outcome: unknown }[] = [
  {
    name: 'a lone live leaf facing a later stamped deletion',
    leaves: [
      leafOf('x', ['2-b', '1-a'], { v: 'edit', settee_hlc: EARLY }),
      leafOf('x', ['2-d', '1-a'], { _deleted: true, settee_hlc: LATE }),
    ],
    contending: ['2-d'],
    outcome: 'deleted',
  },
  {
    name: 'two live leaves, a later stamped deletion and an older unstamped tombstone',
    leaves: [
      leafOf('x', ['2-t', '1-a'], { _deleted: true }),
      leafOf('x', ['3-p', '2-m', '1-a'], { v: 'p', settee_hlc: EARLY }),
      leafOf('x', ['3-q', '2-m', '1-a'], { v: 'q', settee_hlc: EARLY }),
      leafOf('x', ['3-d', '2-m', '1-a'], { _deleted: true, settee_hlc: LATE }),
    ],
    // Every deleted leaf takes part, the older tombstone too (unstamped, it never wins).
    contending: ['3-d', '2-t'],
    outcome: 'deleted',
  },
  {
    name: 'a document re-created after a deletion, facing a later stamped deletion',
    leaves: [
      // The deletion first, so the tree knows it: a re-creation continues a tombstone.
      leafOf('x', ['2-d', '1-a'], { _deleted: true }),
      leafOf('x', ['3-r', '2-d', '1-a'], { v: 'again' }),
      leafOf('x', ['3-s', '2-d', '1-a'], { v: 'again too' }),
      leafOf('x', ['2-x', '1-a'], { _deleted: true, settee_hlc: LATE }),
    ],
    contending: [],
    outcome: { v: 'again too' },
  },
];

describe('one rule for the leaves a resolution weighs', () => {
  /** The document as `get` shows it (no `_` fields), or `deleted`. */
  async function outcomeOf(db: Database): Promise<unknown> {
    const doc = await db.get('x').catch(() => undefined);
    return doc ? Object.fromEntries(Object.entries(doc).filter(([key]) => !key.startsWith('_'))) : 'deleted';
  }

  for (const scenario of SCENARIOS) {
    it(`the versions shown, a write, the sweep and a person agree on ${scenario.name}`, async () => {
      const atWrite = await dbs.open({ resolver: lastWriterWins() });
      const bySweep = await dbs.open();
      const byHand = await dbs.open();
      for (const db of [atWrite, bySweep, byHand]) await db.bulkDocs(scenario.leaves, { newEdits: false });
      const shown = (await byHand.conflictVersions('x')).deleted_leaves.map(({ rev }) => rev);
      expect(shown).toEqual(scenario.contending.map((short) => leafOf('x', [short])._rev));
      await bySweep.setResolver(lastWriterWins());
      await byHand.resolveWith('x', lastWriterWins());
      for (const db of [atWrite, bySweep, byHand]) expect(await outcomeOf(db)).toEqual(scenario.outcome);
    });
  }
});

describe('the tombstones a resolution leaves', () => {
  it('are flagged retired where it was written and where it was replicated to', async () => {
    const here = await dbs.open();
    const there = await dbs.open();
    await here.bulkDocs([leafOf('x', ['2-a', '1-o'], { v: 'a' }), leafOf('x', ['2-b', '1-o'], { v: 'b' })], {
      newEdits: false,
    });
    const loser = leafOf('x', ['2-a'])._rev!;
    expect((await here.resolve('x')).deleted).toEqual([loser]);
    // The kept version is edited apart afterwards: a new conflict, beside the old tombstone.
    await here.bulkDocs(
      [leafOf('x', ['3-p', '2-b', '1-o'], { v: 'p' }), leafOf('x', ['3-q', '2-b', '1-o'], { v: 'q' })],
      { newEdits: false },
    );
    await replicate(here, there).done;
    for (const db of [here, there]) {
      const [tombstone, ...others] = (await db.conflictVersions('x')).deleted_leaves;
      // Still among the leaves a resolution weighs; only flagged for the people shown them.
      expect(others).toEqual([]);
      expect(tombstone).toMatchObject({ doc: { _deleted: true }, retired: true });
      const [read] = await db.getOpenRevs('x', [tombstone!.rev], { revs: true });
      expect(read && 'ok' in read && read.ok._revisions?.ids[1]).toBe(loser.split('-')[1]);
    }
  });
});
