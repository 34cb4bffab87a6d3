import type { RevNode, RevTree } from './types.js';

/**
 * Stems a tree to `limit` revisions per leaf, as CouchDB's `couch_key_tree:stem`: a node survives
 * when some leaf below it (or itself) is fewer than `limit` generations away. Every leaf keeps
 * exactly its last `limit` ancestors-including-itself; a surviving node whose parent was dropped
 * becomes a root. Pure: returns the input tree itself when nothing needs to go.
 */
export function stem(tree: RevTree, limit: number): RevTree {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`revs_limit must be a positive integer`);
  if (span(tree) <= limit) return tree;

  // deepest[rev] = generation of the deepest leaf below the node. Children have a higher
  // generation than their parent, so visiting deepest-first settles children before parents.
  const deepest = new Map<string, number>();
  const byDepth = [...tree].sort((a, b) => b[1].gen - a[1].gen);
  for (const [rev, node] of byDepth) {
    const own = deepest.get(rev) ?? node.gen;
    deepest.set(rev, own);
    if (node.parent !== null && tree.has(node.parent)) {
      deepest.set(node.parent, Math.max(deepest.get(node.parent) ?? 0, own));
    }
  }

  const kept = new Map<string, RevNode>();
  for (const [rev, node] of tree) if (deepest.get(rev)! - node.gen < limit) kept.set(rev, node);
  if (kept.size === tree.size) return tree;
  for (const [rev, node] of kept) {
    if (node.parent !== null && !kept.has(node.parent)) kept.set(rev, { ...node, parent: null });
  }
  return kept;
}

/** Generations between the shallowest and the deepest node: no stemming is needed within the limit. */
function span(tree: RevTree): number {
  let min = Number.POSITIVE_INFINITY;
  let max = 0;
  for (const node of tree.values()) {
    if (node.gen < min) min = node.gen;
    if (node.gen > max) max = node.gen;
  }
  return max - min + 1;
}
