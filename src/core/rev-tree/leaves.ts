import type { Leaf, RevNode, RevTree } from './types.js';

// Trees are immutable values, so what is derived from one is kept as long as the tree lives.
// Merging derives the new tree's leaves from the old one's, so a hot document's leaves are
// never recomputed from all its nodes.
const leavesCache = new WeakMap<RevTree, readonly Leaf[]>();
const leafRevsCache = new WeakMap<RevTree, ReadonlySet<string>>();

/** What the winner order looks at. */
type Ranked = Pick<Leaf, 'deleted' | 'gen' | 'hash'>;

/**
 * CouchDB's winner order (protocol.md §1.4): a live leaf beats a deleted one, then the higher
 * generation, then the greater hash by plain string comparison. Positive when `a` wins.
 */
export function compareLeaves(a: Ranked, b: Ranked): number {
  if (a.deleted !== b.deleted) return a.deleted ? -1 : 1;
  if (a.gen !== b.gen) return a.gen - b.gen;
  return a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0;
}

/** Every leaf of the tree, the winner first, then the others in descending winner order. */
export function collectLeaves(tree: RevTree): readonly Leaf[] {
  let leaves = leavesCache.get(tree);
  if (!leaves) {
    leaves = findLeaves(tree);
    leavesCache.set(tree, leaves);
  }
  return leaves;
}

/** Records the leaves of a tree derived by an operation that knows them (winner first). */
export function rememberLeaves(tree: RevTree, leaves: Leaf[]): void {
  leavesCache.set(
    tree,
    leaves.sort((a, b) => compareLeaves(b, a)),
  );
}

function findLeaves(tree: RevTree): Leaf[] {
  const parents = new Set<string>();
  for (const node of tree.values()) if (node.parent !== null) parents.add(node.parent);
  const leaves: Leaf[] = [];
  for (const [rev, node] of tree) if (!parents.has(rev)) leaves.push(toLeaf(rev, node));
  return leaves.sort((a, b) => compareLeaves(b, a));
}

export function toLeaf(rev: string, node: RevNode): Leaf {
  return { rev, gen: node.gen, hash: node.hash, deleted: node.deleted, hasBody: node.hasBody };
}

/** The revision ids of the leaves. */
export function leafRevs(tree: RevTree): ReadonlySet<string> {
  let revs = leafRevsCache.get(tree);
  if (!revs) {
    revs = new Set(collectLeaves(tree).map((leaf) => leaf.rev));
    leafRevsCache.set(tree, revs);
  }
  return revs;
}

export function leafCount(tree: RevTree): number {
  return collectLeaves(tree).length;
}

/** The winning leaf, which every replica holding the same tree picks without coordination. */
export function winningLeaf(tree: RevTree): Leaf {
  const winner = collectLeaves(tree)[0];
  if (!winner) throw new RangeError('an empty revision tree has no winner');
  return winner;
}

/** True when a revision is a leaf of the tree. */
export function isLeaf(tree: RevTree, rev: string): boolean {
  return leafRevs(tree).has(rev);
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
