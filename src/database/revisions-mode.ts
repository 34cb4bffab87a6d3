import { badRequest } from '../core/errors.js';
import type { Storage } from '../storage/types.js';

/**
 * How a database keeps its documents' revisions: CouchDB's revision trees, or one line per
 * document where most edits wins (docs/linear-history.md). Chosen when the database is created.
 */
export type RevisionsMode = 'tree' | 'linear';

/** The meta key of the mode, beside the database's other settings (`revs_limit`, the resolver). */
const REVISIONS_KEY = 'revisions';

/** `revs_limit` of a new database: a linear one keeps a short line of ids, not a tree. */
export function defaultRevsLimit(mode: RevisionsMode): number {
  return mode === 'linear' ? 100 : 1000;
}

/**
 * The mode of a database: for a new one, the mode `asked` (a tree by default), stored; for an
 * existing one, the mode it was created with (a tree for files older than the setting). Asking an
 * existing database for another mode is refused rather than ignored: its documents are shaped by
 * the one it has.
 */
export async function revisionsMode(
  storage: Storage,
  asked: unknown,
  isNew: boolean,
): Promise<RevisionsMode> {
  if (asked !== undefined && asked !== 'tree' && asked !== 'linear') {
    throw badRequest('revisions must be "tree" or "linear"');
  }
  if (isNew) {
    const mode = asked ?? 'tree';
    await storage.setMeta(REVISIONS_KEY, mode);
    return mode;
  }
  const mode = (await storage.getMeta(REVISIONS_KEY)) === 'linear' ? 'linear' : 'tree';
  if (asked !== undefined && asked !== mode) {
    throw badRequest(
      `This database keeps ${mode} revisions: the revisions option applies only when a database is created`,
    );
  }
  return mode;
}
