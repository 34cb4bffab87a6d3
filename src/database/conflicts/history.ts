import { badRequest } from '../../core/errors.js';
import { sameJson, userFields } from '../../conflicts/resolvers.js';
import type {
  ResolutionRecord,
  ResolutionsScan,
  RevisionContent,
  Storage,
  StoredResolution,
} from '../../storage/types.js';

/** Options of `resolutions()`: which history entries, oldest first unless `descending`. */
export interface ResolutionsOptions {
  /** Only this document's resolutions. */
  id?: string;
  /** Only entries after this `seq` (before it when `descending`). */
  since?: number;
  descending?: boolean;
  limit?: number;
}

/** What a resolution writes over the kept leaf: a body, a deletion (null), or nothing (undefined). */
export type ResolutionResult = Record<string, unknown> | null | undefined;

/** A resolution about to be written, as its history entry describes it. */
export interface ResolutionSummary {
  docId: string;
  kept: string;
  losers: readonly string[];
  result: ResolutionResult;
  by: string;
}

/**
 * The history's entries that `options` choose, a page of storage at a time. A database that keeps
 * no history, and bad options, throw here, before the first row.
 */
export function resolutionRows(
  storage: Storage,
  keepsHistory: boolean,
  options: ResolutionsOptions,
): AsyncIterable<StoredResolution> {
  requireHistory(keepsHistory);
  const pages = storage.resolutions(resolutionsScan(options));
  return (async function* () {
    for await (const page of pages) yield* page;
  })();
}

/** An empty answer would claim that nothing was ever resolved, which nobody recorded. */
export function requireHistory(keepsHistory: boolean): void {
  if (!keepsHistory) {
    throw badRequest('This database keeps no history of resolutions: open it with `history: true`');
  }
}

/** The storage scan of `resolutions()`' options; bad options throw. */
export function resolutionsScan(options: ResolutionsOptions): ResolutionsScan {
  for (const key of ['since', 'limit'] as const) {
    const value = options[key];
    if (value !== undefined && (!Number.isInteger(value) || value < 0)) {
      throw badRequest(`${key} must be a non-negative integer`);
    }
  }
  if (options.id !== undefined && typeof options.id !== 'string') throw badRequest('id must be a string');
  return { docId: options.id, after: options.since, descending: options.descending, limit: options.limit };
}

/**
 * The history entry of a resolution about to be written, as a function of the revision the
 * document will have (known once the write batch has computed it); undefined when it discards no
 * content. The versions it replaces — the tombstoned leaves, and the kept one when something is
 * written over it — come from `contents`, read before they become inner revisions that
 * compaction may drop, and are kept unless the result equals them (a loser whose body the
 * result took lost nothing).
 */
export function historyEntry(
  resolution: ResolutionSummary,
  contents: ReadonlyMap<string, RevisionContent>,
): ((rev: string) => ResolutionRecord) | undefined {
  const { docId, kept, by, result } = resolution;
  const replaced = result === undefined ? [...resolution.losers] : [kept, ...resolution.losers];
  const outcome = result ? userFields(result) : undefined;
  const losers = replaced.flatMap((rev) => {
    const content = contents.get(rev);
    if (!content) return [];
    if (outcome && sameJson(JSON.parse(content.body), outcome)) return [];
    return [
      { rev, body: content.body, ...(content.attachments ? { attachments: content.attachments } : {}) },
    ];
  });
  if (losers.length === 0) return undefined;
  const at = new Date().toISOString();
  return (rev) => ({ docId, at, by, kept, rev, losers });
}
