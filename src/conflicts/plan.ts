import { type Leaf, type Resolution, sortLeaves, userFields } from './resolvers.js';

/** One revision a resolution writes: its parent leaf, tombstone flag and user fields. */
export interface ResolutionWrite {
  parentRev: string;
  deleted: boolean;
  body: Record<string, unknown>;
}

/** The revisions that carry out a `merge` resolution, to be written in one batch. */
export interface ResolutionPlan {
  /** The merged body, a child of the CouchDB winner. */
  merged: ResolutionWrite;
  /** One tombstone, with an empty body, for every other live leaf, in winner order. */
  tombstones: ResolutionWrite[];
}

/**
 * The writes that carry out a resolution, or null for `keep`. Everything here is a function of
 * the leaves and the resolution, so replicas planning the same resolution write the same
 * revisions (with `newRevisionId`, protocol.md §1.8) and their resolutions replicate into one.
 *
 * The losing leaves are deleted with an **empty** body: an unstamped tombstone carries no vote
 * in a later resolution, whereas a tombstone copying a loser's stamps would reintroduce it.
 */
export function planResolution(leaves: readonly Leaf[], resolution: Resolution): ResolutionPlan | null {
  if (resolution.kind === 'keep') return null;
  const sorted = sortLeaves(leaves);
  const [winner] = sorted;
  if (!winner) return null;
  const tombstones = sorted
    .filter((leaf) => leaf !== winner && !leaf.deleted)
    .map((leaf) => ({ parentRev: leaf.rev, deleted: true, body: {} }));
  return {
    merged: {
      parentRev: winner.rev,
      deleted: resolution.deleted === true,
      body: userFields(resolution.body),
    },
    tombstones,
  };
}
