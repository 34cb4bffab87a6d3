import { formatRev } from '../revision.js';
import { leafCount } from './leaves.js';
import type { MergeOutcome, RevNode, RevPath, RevTree } from './types.js';

/** What the merged path says about its last revision. */
export interface LeafState {
  deleted: boolean;
  hasBody: boolean;
}

const UNKNOWN: LeafState = { deleted: false, hasBody: false };

/**
 * Merges a root-to-leaf path (from `_revisions`, or a single `_rev`) into a tree, as CouchDB's
 * `couch_key_tree:merge` does: nodes the tree already holds are kept, missing ones are added with
 * the path's parent links, and a path that shares no node with the tree becomes a new branch.
 * Pure: the input tree is not modified.
 *
 * @param leaf what is known of the path's last revision (deleted, body present)
 */
export function mergePath(
  tree: RevTree,
  path: RevPath,
  leaf: LeafState = UNKNOWN,
): { tree: RevTree; outcome: MergeOutcome } {
  const last = path.hashes.length - 1;
  const leafRev = formatRev(path.start + last, path.hashes[last]!);
  if (tree.has(leafRev)) return { tree, outcome: 'internal_node' };

  const merged = new Map(tree);
  let parent: string | null = null;
  path.hashes.forEach((hash, i) => {
    const gen = path.start + i;
    const rev = formatRev(gen, hash);
    const state = i === last ? leaf : UNKNOWN;
    const incoming: RevNode = { gen, hash, parent, deleted: state.deleted, hasBody: state.hasBody };
    const existing = merged.get(rev);
    merged.set(rev, existing ? unite(existing, incoming) : incoming);
    parent = rev;
  });
  return { tree: merged, outcome: outcomeOf(tree, merged) };
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

function outcomeOf(before: RevTree, after: RevTree): MergeOutcome {
  if (before.size === 0) return 'new_leaf';
  // Extending a leaf keeps the number of leaves; anything else adds one beside the others.
  return leafCount(after) > leafCount(before) ? 'new_branch' : 'new_leaf';
}
