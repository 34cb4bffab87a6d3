import type { DocWrite, LeafRecord, ResolutionRecord } from './types.js';

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

/**
 * A history entry as a backend's row keeps it: everything but the document id, which has a
 * column of its own.
 */
export function entryJson(record: ResolutionRecord): string {
  const { at, by, rev, kept, losers } = record;
  // Only the record's own fields: a StoredResolution passed back in must not bring its seq along.
  const versions = losers.map(({ rev, body, attachments }) => ({ rev, body, attachments }));
  return JSON.stringify({ at, by, rev, kept, losers: versions });
}

/** The attachment digests an entry's losers refer to, which compaction keeps; null if none. */
export function loserDigests(record: ResolutionRecord): string[] | null {
  const digests = new Set(
    record.losers.flatMap((loser) => Object.values(loser.attachments ?? {}).map((meta) => meta.digest)),
  );
  return digests.size > 0 ? [...digests] : null;
}

/**
 * Whether a write leaves a stored revision its content: not when it removes the revision or
 * drops its content (`ChangedNode.dropContent`). A backend that keeps the winner's content in
 * the document's row moves a dethroned winner's back into its revision's only then.
 */
export function keepsContent(write: DocWrite, rev: string): boolean {
  return !write.removed.includes(rev) && !write.changed.some((node) => node.rev === rev && node.dropContent);
}
