import { badRequest } from '../errors.js';
import { formatRev, MAX_GENERATION, parseRev } from '../revision.js';
import { collectLeaves } from './leaves.js';
import type { Leaf, Revisions, RevPath, RevTree } from './types.js';

/** A revision and its known ancestors, newest first (stops where the tree was stemmed). */
export function ancestry(tree: RevTree, rev: string): string[] {
  const revs: string[] = [];
  for (let at: string | null = rev; at !== null;) {
    const node = tree.get(at);
    if (!node) break;
    revs.push(at);
    at = node.parent;
  }
  return revs;
}

/**
 * The newest revision that every one of `revs` descends from (or is), or undefined when they
 * share none the tree still knows (separate roots, or history stemmed away).
 */
export function commonAncestor(tree: RevTree, revs: readonly string[]): string | undefined {
  const [first, ...others] = revs;
  if (first === undefined) return undefined;
  const lines = others.map((rev) => new Set(ancestry(tree, rev)));
  return ancestry(tree, first).find((rev) => lines.every((line) => line.has(rev)));
}

/** CouchDB's `_revisions` for a revision the tree holds, capped at `limit` entries. */
export function revisionsOf(tree: RevTree, rev: string, limit = Number.POSITIVE_INFINITY): Revisions {
  const node = tree.get(rev);
  if (!node) throw new RangeError(`revision ${rev} is not in the tree`);
  const ids: string[] = [];
  for (let at: string | null = rev; at !== null && ids.length < limit;) {
    const current = tree.get(at);
    if (!current) break;
    ids.push(current.hash);
    at = current.parent;
  }
  return { start: node.gen, ids };
}

/** `_revs_info`: the revision's ancestry with each one's status on this replica. */
export function revsInfo(
  tree: RevTree,
  rev: string,
): { rev: string; status: 'available' | 'missing' | 'deleted' }[] {
  return ancestry(tree, rev).map((id) => {
    const node = tree.get(id)!;
    const status = !node.hasBody ? 'missing' : node.deleted ? 'deleted' : 'available';
    return { rev: id, status };
  });
}

/** Validates a `_revisions` value and turns it into a root-to-leaf path. */
export function pathFromRevisions(revisions: unknown): RevPath {
  if (typeof revisions !== 'object' || revisions === null) throw badRequest('_revisions must be an object');
  const { start, ids } = revisions as { start?: unknown; ids?: unknown };
  // A start past MAX_GENERATION was already rounded by JSON.parse: it names no revision exactly.
  if (typeof start !== 'number' || !Number.isSafeInteger(start) || start < 1) {
    throw badRequest(`_revisions.start must be a positive integer of at most ${MAX_GENERATION}`);
  }
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > start) {
    throw badRequest('_revisions.ids must be a non-empty array no longer than _revisions.start');
  }
  for (const [i, hash] of ids.entries()) parseRev(`${start - i}-${typeof hash === 'string' ? hash : ''}`);
  return { start: start - ids.length + 1, hashes: [...(ids as string[])].reverse() };
}

/** The one-node path of a bare revision id. */
export function pathOfRev(rev: string): RevPath {
  const { gen, hash } = parseRev(rev);
  return { start: gen, hashes: [hash] };
}

/** The revision id at the end of a path. */
export function pathLeaf(path: RevPath): string {
  const last = path.hashes.length - 1;
  return formatRev(path.start + last, path.hashes[last]!);
}

/**
 * The leaves that descend from `rev` (itself when it is a leaf): what `latest=true` answers for
 * a revision that has been edited since the client learnt of it.
 */
export function leavesFrom(tree: RevTree, rev: string): Leaf[] {
  return collectLeaves(tree).filter((leaf) => ancestry(tree, leaf.rev).includes(rev));
}
