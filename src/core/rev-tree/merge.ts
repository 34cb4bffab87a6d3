import { formatRev } from '../revision.js';
import { collectLeaves, rememberLeaves, toLeaf } from './leaves.js';
import type { MergeOutcome, RevNode, RevPath, RevTree } from './types.js';

/** What the merged path says about its last revision. */
export interface LeafState {
  deleted: boolean;
  hasBody: boolean;
}

const UNKNOWN: LeafState = { deleted: false, hasBody: false };

/** The result of a merge: the new tree, CouchDB's outcome, and the revisions it added or altered. */
export interface MergeResult {
  tree: RevTree;
  outcome: MergeOutcome;
  touched: string[];
}

/**
 * Merges a root-to-leaf path (from `_revisions`, or a single `_rev`) into a tree, as CouchDB's
 * `couch_key_tree:merge` does: nodes the tree already holds are kept, missing ones are added with
 * the path's parent links, and a path that shares no node with the tree becomes a new branch.
 * Pure: the input tree is not modified. Costs one copy of the tree plus the path's length.
 *
 * @param leaf what is known of the path's last revision (deleted, body present)
 */
export function mergePath(tree: RevTree, path: RevPath, leaf: LeafState = UNKNOWN): MergeResult {
  const last = path.hashes.length - 1;
  const leafRev = formatRev(path.start + last, path.hashes[last]!);
  const known = tree.has(leafRev);
  const before = collectLeaves(tree);
  const merged = new Map(tree);
  const touched: string[] = [];
  let parent: string | null = null;
  for (const [i, hash] of path.hashes.entries()) {
    const gen = path.start + i;
    const rev = formatRev(gen, hash);
    const state = i === last ? leaf : UNKNOWN;
    const incoming: RevNode = { gen, hash, parent, deleted: state.deleted, hasBody: state.hasBody };
    const existing = merged.get(rev);
    const node = existing ? unite(existing, incoming) : incoming;
    if (node !== existing) {
      merged.set(rev, node);
      touched.push(rev);
    }
    parent = rev;
  }
  // Only the path's nodes above its last gained children, and only its last node can be a new
  // leaf (when new, nothing points to it), so the leaves follow from the old ones.
  // A known last node keeps its children: it stays a leaf only if it was one.
  if (touched.length === 0) return { tree, outcome: 'internal_node', touched };
  const inner = new Set(path.hashes.slice(0, -1).map((hash, i) => formatRev(path.start + i, hash)));
  const leaves = before.filter((l) => !inner.has(l.rev) && l.rev !== leafRev);
  for (const l of before) if (inner.has(l.rev) && !touched.includes(l.rev)) touched.push(l.rev);
  if (!known || before.some((l) => l.rev === leafRev)) leaves.push(toLeaf(leafRev, merged.get(leafRev)!));
  rememberLeaves(merged, leaves);
  if (known) return { tree: merged, outcome: 'internal_node', touched };
  const outcome = before.length === 0 || leaves.length <= before.length ? 'new_leaf' : 'new_branch';
  return { tree: merged, outcome, touched };
}

/** Merges every node and edge of `source` into `target` (the union of two trees). */
export function mergeTrees(target: RevTree, source: RevTree): RevTree {
  const merged = new Map(target);
  for (const [rev, node] of source) {
    const existing = merged.get(rev);
    merged.set(rev, existing ? unite(existing, node) : node);
  }
  return merged;
}

/**
 * Two views of the same revision: keep what either knows. A parent link known on one side is
 * kept (it re-attaches a branch that was stemmed), a body beats no body, and a tombstone stays one.
 */
function unite(a: RevNode, b: RevNode): RevNode {
  const parent = a.parent ?? b.parent;
  const deleted = a.deleted || b.deleted;
  const hasBody = a.hasBody || b.hasBody;
  if (parent === a.parent && deleted === a.deleted && hasBody === a.hasBody) return a;
  return { ...a, parent, deleted, hasBody };
}
