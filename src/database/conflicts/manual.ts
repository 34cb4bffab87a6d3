import type { NewDoc } from '../../core/api.js';
import { badRequest, SetteeError } from '../../core/errors.js';
import { isRev } from '../../core/revision.js';
import { conflictRevs } from '../../storage/records.js';
import type { DocRecord } from '../../storage/types.js';

export interface ResolveOptions {
  /**
   * The body of the resolved document (a whole document body, as for `put`: attachments not
   * listed in `_attachments` are dropped), written as a child of `keep`. Without it, `keep`
   * stays as it is and only the other leaves are deleted.
   */
  merged?: Record<string, unknown>;
  /** The live leaf the resolution continues; the winner when absent. */
  keep?: string;
  /**
   * The other live leaves as the caller saw them, all deleted by the resolution. When given and
   * the document's live leaves are no longer exactly `keep` plus these, the resolution fails
   * with `conflict` and writes nothing; when absent, every other live leaf is deleted.
   */
  losers?: string[];
  /** Who resolves, for the history of resolutions: e.g. `user:anna`. Default `user`. */
  by?: string;
}

export interface ResolveResult {
  ok: true;
  id: string;
  /** The revision the document now has: the merged one, or `keep` when nothing was merged. */
  rev: string;
  /** The leaves that were deleted (each got a tombstone child). */
  deleted: string[];
}

/** Checks the shape of resolve's options before anything is read. */
export function checkResolveOptions(options: ResolveOptions): void {
  const { merged, keep, losers, by } = options as Record<string, unknown>;
  if (by !== undefined && typeof by !== 'string') throw badRequest('by must be a string');
  if (merged !== undefined && (typeof merged !== 'object' || merged === null || Array.isArray(merged))) {
    throw badRequest('merged must be a JSON object');
  }
  if (keep !== undefined && !isRev(keep)) throw badRequest('keep must be a revision id');
  if (losers !== undefined && (!Array.isArray(losers) || !losers.every((rev) => isRev(rev)))) {
    throw badRequest('losers must be an array of revision ids');
  }
}

/** The writes of a resolution by hand: the kept leaf, the live leaves it deletes, and the docs. */
export interface ResolutionPlan {
  keep: string;
  losers: string[];
  /** A tombstone under each loser, then the merged body (if any) under `keep`. */
  docs: NewDoc[];
}

/**
 * The writes of a resolution against the document as it is now: a tombstone under each loser,
 * then the merged body under the kept leaf. Throws `conflict` when the caller's view of the
 * leaves is out of date.
 */
export function planResolution(record: DocRecord, options: ResolveOptions): ResolutionPlan {
  const keep = options.keep ?? record.winner;
  const live = record.leaves.filter((leaf) => !leaf.deleted).map((leaf) => leaf.rev);
  if (!live.includes(keep)) throw stale(`${keep} is not a live leaf of the document`);
  // The live leaves besides the kept one, in winner order: CouchDB's `_conflicts` plus the
  // winner when another leaf is kept.
  const others = keep === record.winner ? conflictRevs(record) : live.filter((rev) => rev !== keep);
  if (options.losers !== undefined) {
    const named = new Set(options.losers);
    if (named.has(keep)) throw badRequest('The kept revision cannot also be a loser');
    if (named.size !== others.length || !others.every((rev) => named.has(rev))) {
      throw stale('The document’s leaves changed since they were read');
    }
  }
  const { id } = record;
  const docs: NewDoc[] = others.map((rev) => ({ _id: id, _rev: rev, _deleted: true }));
  if (options.merged !== undefined) {
    // A document read back (with its `_rev`, `_revisions`, `_conflicts`) may serve as the body.
    const { _id, _rev, _revisions, ...body } = options.merged as NewDoc;
    if (_id !== undefined && _id !== id) throw badRequest('merged has another _id');
    docs.push({ ...body, _id: id, _rev: keep });
  }
  return { keep, losers: others, docs };
}

function stale(reason: string): SetteeError {
  return new SetteeError('conflict', reason);
}
