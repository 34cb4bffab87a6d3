/**
 * A pure model of replicas for the conflict tests: a replica is a revision tree (revision id →
 * parent, tombstone flag, body); syncing two replicas is the union of their trees (what
 * replication does, minus the wire); resolving writes the resolver's plan with Settee's
 * deterministic revision ids.
 */
import { newRevisionId } from '../../src/core/rev-hash.js';
import { type Leaf, planResolution, type Resolver, type ResolutionWrite } from '../../src/conflicts/index.js';

export interface Node {
  readonly rev: string;
  readonly parent: string | null;
  readonly deleted: boolean;
  readonly body: Record<string, unknown>;
}

export type Tree = ReadonlyMap<string, Node>;

export const emptyTree: Tree = new Map();

/** The revision id Settee gives a write (no attachments). */
export function revOf(
  write: ResolutionWrite | { parentRev: string | null; deleted: boolean; body: Record<string, unknown> },
): string {
  return newRevisionId({ ...write, attachments: [] });
}

/** Adds one revision; returns the new tree and the revision id. */
export function write(
  tree: Tree,
  parentRev: string | null,
  body: Record<string, unknown>,
  deleted = false,
): { tree: Tree; rev: string } {
  const rev = revOf({ parentRev, deleted, body });
  if (tree.has(rev)) return { tree, rev };
  const next = new Map(tree);
  next.set(rev, { rev, parent: parentRev, deleted, body });
  return { tree: next, rev };
}

export function leavesOf(tree: Tree): Leaf[] {
  const parents = new Set<string>();
  for (const node of tree.values()) if (node.parent !== null) parents.add(node.parent);
  return [...tree.values()]
    .filter((node) => !parents.has(node.rev))
    .map((node) => ({ rev: node.rev, deleted: node.deleted, doc: node.body }));
}

export function liveLeaves(tree: Tree): Leaf[] {
  return leavesOf(tree).filter((leaf) => !leaf.deleted);
}

/** Replication both ways: each side ends with every revision either held. */
export function union(a: Tree, b: Tree): Tree {
  if (a.size === 0) return b;
  const next = new Map(a);
  for (const [rev, node] of b) next.set(rev, node);
  return next;
}

/** Runs the resolver on the tree's leaves and writes its plan; the tree is unchanged on `keep`. */
export function resolveTree(tree: Tree, resolver: Resolver): Tree {
  const leaves = leavesOf(tree);
  if (leaves.length === 0) return tree;
  const plan = planResolution(leaves, resolver.resolve(leaves));
  if (!plan) return tree;
  let next = tree;
  for (const w of [plan.merged, ...plan.tombstones]) next = write(next, w.parentRev, w.body, w.deleted).tree;
  return next;
}

export function sameTree(a: Tree, b: Tree): boolean {
  return a.size === b.size && [...a.keys()].every((rev) => b.has(rev));
}

/**
 * Sync rounds after editing has stopped: for every pair in turn, replicate both ways, then each
 * side resolves; until a whole cycle writes nothing. Returns the replicas and the cycles it took.
 */
export function quiesce(
  replicas: readonly Tree[],
  resolver: Resolver,
  maxCycles = 20,
): { replicas: Tree[]; cycles: number } {
  const trees = [...replicas];
  for (let cycle = 1; cycle <= maxCycles; cycle++) {
    let wrote = false;
    for (let i = 0; i < trees.length; i++) {
      for (let j = i + 1; j < trees.length; j++) {
        // Each side holds the union with its own revisions first, so leaves come in another order.
        const before = union(trees[i]!, trees[j]!);
        const a = resolveTree(before, resolver);
        const b = resolveTree(union(trees[j]!, trees[i]!), resolver);
        if (!sameTree(a, b)) throw new Error('two replicas resolved the same leaves differently');
        if (!sameTree(a, before)) wrote = true;
        trees[i] = a;
        trees[j] = b;
      }
    }
    if (!wrote) return { replicas: trees, cycles: cycle };
  }
  throw new Error(`no quiescence after ${maxCycles} cycles`);
}
