import { collectLeaves, rememberLeaves } from './leaves.js';
import type { RevNode, RevTree } from './types.js';

/**
 * Stems a tree to `limit` revisions per leaf, as CouchDB's `couch_key_tree:stem`: a node survives
 * when some leaf below it (or itself) is fewer than `limit` generations away. Every leaf keeps
 * exactly its last `limit` ancestors-including-itself; a surviving node whose parent was dropped
 * becomes a root. Pure: returns the input tree itself when nothing needs to go.
 */
export function stem(tree: RevTree, limit: number): RevTree {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError('revs_limit must be a positive integer');
  if (tree.size <= limit) return tree;

  // Walk up from every leaf, `limit` nodes at most. `budget` remembers how many more steps the
  // walk that reached a node had left, so shared ancestry is walked once per better budget.
  const budget = new Map<string, number>();
  const leaves = collectLeaves(tree);
  for (const leaf of leaves) {
    let at: string | null = leaf.rev;
    for (let left = limit - 1; at !== null && left >= 0; left--) {
      if ((budget.get(at) ?? -1) >= left) break;
      budget.set(at, left);
      at = tree.get(at)?.parent ?? null;
    }
  }
  if (budget.size === tree.size) return tree;

  const kept = new Map<string, RevNode>();
  for (const rev of budget.keys()) {
    const node = tree.get(rev)!;
    kept.set(rev, node.parent !== null && !budget.has(node.parent) ? { ...node, parent: null } : node);
  }
  rememberLeaves(kept, [...leaves]);
  return kept;
}
