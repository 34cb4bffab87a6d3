/**
 * A big tree: one document with hundreds of conflicting leaves, half of them deleted, as
 * replication leaves it when many replicas edited the same document. Reads and writes of it
 * should take milliseconds.
 */
import type { NewDoc } from '../../src/core/api.js';
import { Database } from '../../src/database/database.js';
import { type Body, hashOf, median } from '../lib.js';
import { openPouch } from './pouch.js';

export const CONFLICTED_ID = 'conflicted';

export interface ConflictFigures {
  /** Writing the branches (one bulkDocs, new_edits=false), ms. */
  writeBranches: number;
  /** Writing the tombstones on half of them, ms. */
  writeTombstones: number;
  /** get with conflicts:true, ms (median). */
  get: number;
  /** Changes read of the document (include_docs, conflicts, style=all_docs), ms (median). */
  changes: number;
  /** An edit of the winner, tree already in memory, ms (median). */
  editWarm: number;
  /** For reference: an edit of a plain one-leaf doc in the same database, interleaved with those. */
  editPlain: number;
  /** After reopening: get with conflicts, then an edit of the winner (tree read from disk), ms. */
  getCold: number;
  editCold: number;
  /** What the reads returned, to check the figures are of the right thing. */
  conflicts: number;
  changeRevs: number;
}

/** The documents: `1-root`, `branches` children `2-…`, then `tombstones` of them deleted `3-…`. */
export function conflictDocs(body: Body, branches: number, tombstones: number) {
  const root = hashOf('root');
  const hashes = Array.from({ length: branches }, (_, i) => hashOf(`branch-${i}`));
  const first: NewDoc = { ...body, _id: CONFLICTED_ID, _rev: `1-${root}` };
  const children: NewDoc[] = hashes.map((hash, i) => ({
    ...body,
    _id: CONFLICTED_ID,
    _rev: `2-${hash}`,
    _revisions: { start: 2, ids: [hash, root] },
    branch: i,
  }));
  const deletions: NewDoc[] = hashes.slice(0, tombstones).map((hash, i) => {
    const tomb = hashOf(`tombstone-${i}`);
    return {
      _id: CONFLICTED_ID,
      _rev: `3-${tomb}`,
      _revisions: { start: 3, ids: [tomb, hash, root] },
      _deleted: true,
    };
  });
  return { first, children, deletions };
}

/** How many times each warm read and edit is timed; the median is reported. */
export const REPEATS = 21;

/** What the scenario needs of a database, so one driver serves Settee and PouchDB alike. */
interface Contender {
  replicate(docs: NewDoc[]): Promise<unknown>;
  /** The winner; with `conflicts`, its `_conflicts`. */
  get(id: string, conflicts: boolean): Promise<Record<string, unknown> & { _conflicts?: string[] }>;
  /** A changes read of the database: its rows' `changes` (style all_docs). */
  changes(): Promise<{ changes: unknown[] }[]>;
  put(doc: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

async function timeOf(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return performance.now() - start;
}

async function repeat(times: number, fn: () => Promise<unknown>): Promise<number> {
  const all: number[] = [];
  for (let i = 0; i < times; i++) all.push(await timeOf(fn));
  return median(all);
}

/** The winner of `id`, edited: read untimed, written timed. */
async function edit(db: Contender, id: string): Promise<number> {
  const { _conflicts, ...winner } = await db.get(id, false);
  return timeOf(() => db.put({ ...winner, edited: (Number(winner.edited) || 0) + 1 }));
}

async function run(
  open: () => Promise<Contender>,
  body: Body,
  branches: number,
  tombstones: number,
): Promise<ConflictFigures> {
  const docs = conflictDocs(body, branches, tombstones);
  let db = await open();
  await db.replicate([docs.first]);
  const writeBranches = await timeOf(() => db.replicate(docs.children));
  const writeTombstones = await timeOf(() => db.replicate(docs.deletions));

  const doc = await db.get(CONFLICTED_ID, true);
  const get = await repeat(REPEATS, () => db.get(CONFLICTED_ID, true));
  const changed = await db.changes();
  const changes = await repeat(REPEATS, () => db.changes());
  // Edits of the big tree alternate with edits of a plain document: both meet the same disk.
  await db.put({ ...body, _id: PLAIN_ID });
  const edits: number[] = [];
  const plainEdits: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    edits.push(await edit(db, CONFLICTED_ID));
    plainEdits.push(await edit(db, PLAIN_ID));
  }

  await db.close();
  db = await open();
  const getCold = await timeOf(() => db.get(CONFLICTED_ID, true));
  const editCold = await edit(db, CONFLICTED_ID);
  await db.close();
  return {
    writeBranches,
    writeTombstones,
    get,
    changes,
    editWarm: median(edits),
    editPlain: median(plainEdits),
    getCold,
    editCold,
    conflicts: doc._conflicts?.length ?? 0,
    changeRevs: changed[0]?.changes.length ?? 0,
  };
}

const PLAIN_ID = 'plain';

export function setteeConflicts(path: string, body: Body, branches: number, tombstones: number) {
  const open = async (): Promise<Contender> => {
    const db = await Database.open(path, { durability: 'full' });
    return {
      replicate: (docs) => db.bulkDocs(docs, { newEdits: false }),
      get: (id, conflicts) => db.get(id, { conflicts }),
      changes: async () =>
        (await db.changes({ include_docs: true, conflicts: true, style: 'all_docs' })).results,
      put: (doc) => db.put(doc),
      close: () => db.close(),
    };
  };
  return run(open, body, branches, tombstones);
}

export function pouchConflicts(path: string, body: Body, branches: number, tombstones: number) {
  const open = async (): Promise<Contender> => {
    const db = openPouch(path);
    await db.info();
    return {
      replicate: (docs) => db.bulkDocs(docs, { new_edits: false }),
      get: (id, conflicts) => db.get(id, { conflicts }),
      changes: async () =>
        (await db.changes({ since: 0, include_docs: true, conflicts: true, style: 'all_docs' })).results,
      put: (doc) => db.put(doc),
      close: () => db.close(),
    };
  };
  return run(open, body, branches, tombstones);
}
