import type { NewDoc } from '../../core/api.js';
import { planResolution as planLeafResolution } from '../../conflicts/plan.js';
import { type Resolver, sameJson, sortLeaves, userFields } from '../../conflicts/resolvers.js';
import type { EditOptions } from '../writer.js';
import type { ReadLeaf } from './leaves.js';

/** The writes of an automatic resolution, each with how it is written. */
export interface AutomaticResolution {
  /** The leaf the merged revision continues (CouchDB's winner). */
  kept: string;
  /** The live leaves it deletes. */
  losers: string[];
  /** The merged revision, last of the writes; none when the winner already is the outcome. */
  merged?: NewDoc;
  writes: { doc: NewDoc; options: EditOptions }[];
}

/**
 * What `resolver` makes of a document's leaves, as writes: a tombstone under each losing leaf and
 * the merged body under the winner, none of them stamped — every replica holding the same leaves
 * must write the same revisions. Null when the resolver keeps things as they are.
 *
 * The merged revision keeps the attachments of the leaf whose version it takes (the first, in
 * winner order, whose fields equal the merged body), or else the winner's.
 */
export function planAutomaticResolution(
  id: string,
  leaves: readonly ReadLeaf[],
  resolver: Resolver,
): AutomaticResolution | null {
  const plan = planLeafResolution(leaves, resolver.resolve(leaves));
  if (!plan) return null;
  const writes: AutomaticResolution['writes'] = plan.tombstones.map(({ parentRev }) => ({
    doc: { _id: id, _rev: parentRev, _deleted: true },
    options: {},
  }));
  const merged: NewDoc = { ...plan.merged.body, _id: id, _rev: plan.merged.parentRev };
  const options: EditOptions = {};
  let source: ReadLeaf | undefined;
  if (plan.merged.deleted) merged._deleted = true;
  else {
    const sorted = sortLeaves(leaves) as ReadLeaf[];
    source =
      sorted.find((leaf) => !leaf.deleted && sameJson(userFields(leaf.doc), plan.merged.body)) ??
      sorted.find((leaf) => leaf.rev === plan.merged.parentRev);
    if (source?.doc._attachments) {
      merged._attachments = source.doc._attachments;
      options.attachmentsFrom = source.rev;
    }
  }
  // The winner already is the outcome (a replica that holds another's resolution beside its own
  // losing leaf): deleting the losers resolves it, and a revision repeating the winner would be
  // one more write for every replica to replicate.
  const winnerStands =
    source?.rev === plan.merged.parentRev && sameJson(userFields(source.doc), plan.merged.body);
  if (!winnerStands) writes.push({ doc: merged, options });
  return {
    kept: plan.merged.parentRev,
    losers: plan.tombstones.map((write) => write.parentRev),
    ...(winnerStands ? {} : { merged }),
    writes,
  };
}
