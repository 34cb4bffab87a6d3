/**
 * A changes feed filtered by a selector, read from a Mango index that serves the selector rather
 * than from every change: the index names the documents that may match, in sequence order.
 */
import type { IndexChanges, ScannedDoc, Storage } from '../../storage/types.js';
import type { MangoQueries } from './mango.js';
import type { Selector } from '../../core/mango/index.js';

/**
 * The documents changed after `since` that may match `selector`, by sequence, or `undefined`
 * when no index serves it (or reading the changes costs about as much).
 *
 * An index holds winners only. With `allLeaves` (`style=all_docs`, as replicators read) a losing
 * leaf may match where its winner does not, so the documents with more than one leaf are added
 * from the storage's own index of them — at most as many as the index path allows, or the feed
 * reads the changes instead.
 */
export async function selectorChanges(
  storage: Storage,
  mango: MangoQueries,
  selector: Selector,
  since: number,
  allLeaves: boolean,
): Promise<IndexChanges | undefined> {
  const indexed = await mango.changesMatching(selector, since);
  if (!indexed || !allLeaves) return indexed;
  const branched = await branchedSince(storage, since, indexed.asOf, mango.maxIndexedChanges);
  if (!branched) return undefined;
  return { asOf: indexed.asOf, docs: mergeBySeq(indexed.docs, branched) };
}

/** Documents with more than one leaf, changed after `since` and not after `asOf`, by sequence. */
async function branchedSince(
  storage: Storage,
  since: number,
  asOf: number,
  max: number,
): Promise<ScannedDoc[] | undefined> {
  const found: ScannedDoc[] = [];
  for await (const page of storage.conflicts({ deletedLeaves: true })) {
    for (const record of page) {
      if (record.seq <= since || record.seq > asOf) continue;
      if (found.length === max) return undefined;
      found.push(record);
    }
  }
  return found.sort((a, b) => a.seq - b.seq);
}

/** Two lists by sequence as one, each document once (the index's copy carries its content). */
async function* mergeBySeq(
  indexed: AsyncIterable<ScannedDoc[]>,
  branched: ScannedDoc[],
): AsyncIterable<ScannedDoc[]> {
  let next = 0;
  for await (const page of indexed) {
    const merged: ScannedDoc[] = [];
    for (const doc of page) {
      while (next < branched.length && branched[next]!.seq < doc.seq) merged.push(branched[next++]!);
      if (next < branched.length && branched[next]!.seq === doc.seq) next++;
      merged.push(doc);
    }
    yield merged;
  }
  if (next < branched.length) yield branched.slice(next);
}
