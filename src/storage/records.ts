import type { LeafRecord } from './types.js';

/** What conflicts are read from: the winning revision and every leaf. */
interface Leaves {
  winner: string;
  leaves: readonly LeafRecord[];
}

/**
 * A document's conflicts (CouchDB's `_conflicts`): its live leaves besides the winner, in
 * descending winner order. A deleted winner has none, since every live leaf beats a tombstone.
 */
export function conflictRevs(record: Leaves): string[] {
  const revs: string[] = [];
  for (const leaf of record.leaves) if (!leaf.deleted && leaf.rev !== record.winner) revs.push(leaf.rev);
  return revs;
}

/** Whether a document is conflicted: it has a live leaf besides the winner. */
export function isConflicted(record: Leaves): boolean {
  return record.leaves.some((leaf) => !leaf.deleted && leaf.rev !== record.winner);
}
