/**
 * Documents with conflicts, for the `winning_revs_only` tests: what a source looks like after
 * replicas edited the same documents, and how to read a database's leaves and winners.
 */
import { expect } from 'vitest';
import type { Doc } from '../../src/core/api.js';
import { SetteeError } from '../../src/core/errors.js';
import type { Database } from '../../src/database/database.js';

/** The two branches' revision hashes: `2-bbb…` wins over `2-aaa…` (equal depth, higher id). */
export const A = 'a'.repeat(32);
export const B = 'b'.repeat(32);

/** The documents `fillSource` writes. */
export const SOURCE_IDS = ['both-live', 'loser-deleted', 'all-deleted', 'deleted', 'plain'];

/**
 * Writes `id` as `1-…` with two children `2-aaa…` and `2-bbb…`, as a replication from two
 * replicas would; `deleted` deletes the children named. Returns the root's revision.
 */
export async function conflicted(db: Database, id: string, deleted: ('a' | 'b')[] = []): Promise<string> {
  const root = (await db.put({ _id: id, v: 'root' })).rev;
  await addBranches(db, id, root, deleted);
  return root;
}

/** Gives `root` of `id` the children `2-aaa…` and `2-bbb…`; deletes those in `deleted`. */
export async function addBranches(
  db: Database,
  id: string,
  root: string,
  deleted: ('a' | 'b')[] = [],
): Promise<void> {
  const branch = (name: 'a' | 'b', hash: string): Doc => ({
    _id: id,
    _rev: `2-${hash}`,
    _revisions: { start: 2, ids: [hash, root.slice(2)] },
    v: name,
    ...(deleted.includes(name) ? { _deleted: true } : {}),
  });
  const results = await db.bulkDocs([branch('a', A), branch('b', B)], { newEdits: false });
  expect(results.filter((result) => 'error' in result)).toEqual([]);
}

/**
 * The source of most tests (`SOURCE_IDS`): two live branches, a deleted losing leaf, every leaf
 * deleted (a deleted winner), a plain document deleted, a plain document.
 */
export async function fillSource(db: Database): Promise<void> {
  await conflicted(db, 'both-live');
  await conflicted(db, 'loser-deleted', ['a']);
  await conflicted(db, 'all-deleted', ['a', 'b']);
  const plain = await db.put({ _id: 'deleted', v: 1 });
  await db.remove('deleted', plain.rev);
  await db.put({ _id: 'plain', v: 1 });
}

/** Every leaf of `id` (deleted ones too), with its ancestry; none when `db` lacks `id`. */
export async function leaves(db: Database, id: string): Promise<Doc[]> {
  const results = await db.getOpenRevs(id, 'all', { revs: true }).catch((error: unknown) => {
    if (error instanceof SetteeError && error.status === 404) return [];
    throw error;
  });
  return results.flatMap((result) => ('ok' in result ? [result.ok] : []));
}

/** The revisions of `id`'s leaves. */
export async function leafRevs(db: Database, id: string): Promise<string[]> {
  return (await leaves(db, id)).map((leaf) => leaf._rev);
}

/** The winning leaf of `id` (deleted or not) with its history: what `_changes` names, read in full. */
export async function winnerWithHistory(db: Database, id: string): Promise<Doc> {
  const { results } = await db.changes({ doc_ids: [id], style: 'main_only' });
  const rev = results[0]!.changes[0]!.rev;
  return (await leaves(db, id)).find((leaf) => leaf._rev === rev)!;
}

/** Asserts that `target` holds, of every `SOURCE_IDS` document, only the source's winner. */
export async function expectWinnersOnly(source: Database, target: Database): Promise<void> {
  for (const id of SOURCE_IDS) {
    expect(await leaves(target, id), id).toEqual([await winnerWithHistory(source, id)]);
  }
}
