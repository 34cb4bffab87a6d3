import { formatRev } from '../revision.js';
import { collectLeaves, compareLeaves } from './leaves.js';
import { type Extended, Line } from './line.js';
import type { LeafState } from './merge.js';
import type { Leaf, RevNode, RevPath, RevTree } from './types.js';

/**
 * Linear histories (docs/linear-history.md): a document of a linear database is a tree that never
 * branches — one line of at most `revs_limit` revisions, of which only the last holds a body.
 * These pure functions keep a tree so and settle an incoming revision against it.
 */

/** A version of a document as settling compares them. */
export type Version = Pick<Leaf, 'rev' | 'gen' | 'hash' | 'deleted'>;

/**
 * `rev`'s line in `tree`: its ancestry, at most `limit` revisions, the oldest kept one a root;
 * only `rev` keeps its body (its ancestors become ids). Whatever else the tree held is gone.
 */
export function linearLine(tree: RevTree, rev: string, limit: number): Line {
  return Line.cut(tree, rev, limit);
}

/** A line of one revision with no ancestry: a revision a linear database writes in its own right. */
export function lineOf(rev: Version): Line {
  const node: RevNode = { gen: rev.gen, hash: rev.hash, parent: null, deleted: rev.deleted, hasBody: true };
  return Line.cut(new Map([[rev.rev, node]]), rev.rev, 1);
}

/**
 * A local edit of a linear document, `path` naming the line's newest revision and its child:
 * the line extended in time independent of its length (see `Line.extend`). Undefined for any
 * other write — a new document, a replicated path — which is merged and its line cut instead.
 */
export function extendLine(
  tree: RevTree,
  path: RevPath,
  leaf: LeafState,
  limit: number,
): Extended | undefined {
  if (path.hashes.length !== 2) return undefined;
  const line = Line.of(tree);
  if (line?.newest !== formatRev(path.start, path.hashes[0]!)) return undefined;
  const gen = path.start + 1;
  const hash = path.hashes[1]!;
  return line.extend({ rev: formatRev(gen, hash), gen, hash, ...leaf }, limit);
}

/**
 * Most edits wins: the higher number, then CouchDB's leaf order (live before deleted, then the
 * greater hash). Positive when `a` wins.
 */
export function compareEdits(a: Version, b: Version): number {
  return a.gen !== b.gen ? a.gen - b.gen : compareLeaves(a, b);
}

/** How a linear database takes an incoming revision (see `settleIncoming`). */
export type Settlement =
  /** The line holds it already: nothing to write. */
  | { kind: 'held' }
  /** It descends from the current revision, or won: the line becomes the incoming path. */
  | { kind: 'take'; loser?: Version }
  /** The current revision won: the line stays; the incoming one lost. */
  | { kind: 'keep'; loser: Version }
  /**
   * A re-creation: the live one of two unrelated versions wins over the deleted one, written as
   * a new revision at `gen`, the sum of both numbers, above every revision of the old line.
   */
  | { kind: 'recreate'; gen: number; live: 'incoming' | 'current'; loser: Version };

/**
 * Settles `incoming` (whose path is `path`) against `line`, a linear document's tree (empty for
 * a new document), by the rules of docs/linear-history.md.
 */
export function settleIncoming(line: RevTree, path: RevPath, incoming: Version): Settlement {
  if (line.has(incoming.rev)) return { kind: 'held' };
  const current = collectLeaves(line)[0];
  if (!current) return { kind: 'take' };
  const revs = pathRevs(path);
  if (revs.includes(current.rev)) return { kind: 'take' };
  if (isRecreation(line, revs, path, current, incoming)) {
    const live = incoming.deleted ? 'current' : 'incoming';
    const loser = live === 'incoming' ? current : incoming;
    return { kind: 'recreate', gen: current.gen + incoming.gen, live, loser };
  }
  return compareEdits(incoming, current) > 0
    ? { kind: 'take', loser: current }
    : { kind: 'keep', loser: incoming };
}

/**
 * Two unrelated versions where one is deleted and the live one has fewer edits: the line and the
 * path share no revision although they cover common generations (so their histories differ
 * there), which a deletion followed by a new `1-` document, or two separate creations, leave.
 */
function isRecreation(
  line: RevTree,
  revs: readonly string[],
  path: RevPath,
  current: Leaf,
  incoming: Version,
) {
  if (current.deleted === incoming.deleted) return false;
  const live = current.deleted ? incoming : current;
  const deleted = current.deleted ? current : incoming;
  if (live.gen >= deleted.gen) return false;
  if (revs.some((rev) => line.has(rev))) return false;
  const oldest = Math.min(...[...line.values()].map((node) => node.gen));
  return path.start <= current.gen && incoming.gen >= oldest;
}

function pathRevs(path: RevPath): string[] {
  return path.hashes.map((hash, i) => formatRev(path.start + i, hash));
}
