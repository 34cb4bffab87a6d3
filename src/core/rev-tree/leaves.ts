import type { Leaf, RevNode, RevTree } from './types.js';

/** Revision ids that are the parent of some node (the tree's internal nodes). */
export function parentsOf(tree: RevTree): Set<string> {
  const parents = new Set<string>();
  for (const node of tree.values()) if (node.parent !== null) parents.add(node.parent);
  return parents;
}

/**
 * CouchDB's winner order (protocol.md §1.4): a live leaf beats a deleted one, then the higher
 * generation, then the greater hash by plain string comparison. Positive when `a` wins.
 */
export function compareLeaves(a: Leaf | RevNode, b: Leaf | RevNode): number {
  if (a.deleted !== b.deleted) return a.deleted ? -1 : 1;
  if (a.gen !== b.gen) return a.gen - b.gen;
  return a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0;
}

/** Every leaf of the tree, the winner first, then the others in descending winner order. */
export function collectLeaves(tree: RevTree): Leaf[] {
  const parents = parentsOf(tree);
  const leaves: Leaf[] = [];
  for (const [rev, node] of tree) {
    if (parents.has(rev)) continue;
    leaves.push({ rev, gen: node.gen, hash: node.hash, deleted: node.deleted, hasBody: node.hasBody });
  }
  return leaves.sort((a, b) => compareLeaves(b, a));
}

export function leafCount(tree: RevTree): number {
  return tree.size - parentsOf(tree).size;
}

/** The winning leaf, which every replica holding the same tree picks without coordination. */
export function winningLeaf(tree: RevTree): Leaf {
  const winner = collectLeaves(tree)[0];
  if (!winner) throw new RangeError('an empty revision tree has no winner');
  return winner;
}

/** True when a revision is a leaf of the tree. */
export function isLeaf(tree: RevTree, rev: string): boolean {
  if (!tree.has(rev)) return false;
  for (const node of tree.values()) if (node.parent === rev) return false;
  return true;
}

/**
 * `_conflicts` (live leaves other than the winner) and `_deleted_conflicts` (deleted leaves other
 * than the winner), both in descending winner order as CouchDB lists them.
 */
export function collectConflicts(leaves: readonly Leaf[]): {
  conflicts: string[];
  deletedConflicts: string[];
} {
  const conflicts: string[] = [];
  const deletedConflicts: string[] = [];
  for (const leaf of leaves.slice(1)) (leaf.deleted ? deletedConflicts : conflicts).push(leaf.rev);
  return { conflicts, deletedConflicts };
}
