import { describe, expect, it } from 'vitest';
import { SetteeError } from '../../src/core/errors.js';
import {
  ancestry,
  collectConflicts,
  collectLeaves,
  compareLeaves,
  diffTrees,
  isLeaf,
  type LeafState,
  leafCount,
  leavesFrom,
  mergePath,
  mergeTrees,
  pathFromRevisions,
  pathLeaf,
  pathOfRev,
  type RevNode,
  type RevPath,
  type RevTree,
  revisionsOf,
  revsInfo,
  stem,
  winningLeaf,
} from '../../src/core/rev-tree/index.js';

const EMPTY: RevTree = new Map();
const LIVE: LeafState = { deleted: false, hasBody: true };
const DELETED: LeafState = { deleted: true, hasBody: true };

const path = (start: number, ...hashes: string[]): RevPath => ({ start, hashes });

/** Merges root-to-leaf paths one after the other; each path's leaf gets its state (live with a body by default). */
function build(...paths: (RevPath | [RevPath, LeafState])[]): RevTree {
  let tree = EMPTY;
  for (const entry of paths) {
    const [p, state] = Array.isArray(entry) ? entry : [entry, LIVE];
    tree = mergePath(tree, p, state).tree;
  }
  return tree;
}

/** The tree's edges: every revision with its parent, which is all that defines its shape. */
function shape(tree: RevTree): Record<string, string | null> {
  return Object.fromEntries([...tree].map(([rev, node]) => [rev, node.parent]));
}

const leafRevs = (tree: RevTree) => collectLeaves(tree).map((leaf) => leaf.rev);

function errorOf(fn: () => unknown): SetteeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SetteeError);
    return err as SetteeError;
  }
  throw new Error('expected a SetteeError');
}

describe('mergePath', () => {
  it('merging into an empty tree adds the path as the only branch (new_leaf)', () => {
    const { tree, outcome } = mergePath(EMPTY, path(1, 'a'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect([...tree]).toEqual([['1-a', { gen: 1, hash: 'a', parent: null, deleted: false, hasBody: true }]]);
  });

  it('merging a longer path into an empty tree links every ancestor; only the leaf carries the state', () => {
    const { tree, outcome } = mergePath(EMPTY, path(1, 'a', 'b', 'c'), DELETED);
    expect(outcome).toBe('new_leaf');
    expect(shape(tree)).toEqual({ '1-a': null, '2-b': '1-a', '3-c': '2-b' });
    expect(tree.get('3-c')).toMatchObject({ gen: 3, hash: 'c', deleted: true, hasBody: true });
    expect(tree.get('1-a')).toMatchObject({ deleted: false, hasBody: false });
    expect(tree.get('2-b')).toMatchObject({ deleted: false, hasBody: false });
  });

  it('extending a leaf is new_leaf and keeps a single leaf', () => {
    const before = build(path(1, 'a'));
    const { tree, outcome } = mergePath(before, path(1, 'a', 'b'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(shape(tree)).toEqual({ '1-a': null, '2-b': '1-a' });
    expect(leafRevs(tree)).toEqual(['2-b']);
    // the parent keeps what it knew (its body), it is just no longer a leaf
    expect(tree.get('1-a')).toMatchObject({ hasBody: true });
  });

  it('extending a leaf by several revisions at once is new_leaf', () => {
    const before = build(path(1, 'a', 'b'));
    const { tree, outcome } = mergePath(before, path(1, 'a', 'b', 'c', 'd'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(leafRevs(tree)).toEqual(['4-d']);
    expect(tree.get('3-c')).toMatchObject({ parent: '2-b', hasBody: false });
  });

  it('adding a sibling of a leaf is new_branch: a conflict', () => {
    const before = build(path(1, 'a', 'b'));
    const { tree, outcome } = mergePath(before, path(1, 'a', 'c'), LIVE);
    expect(outcome).toBe('new_branch');
    expect(shape(tree)).toEqual({ '1-a': null, '2-b': '1-a', '2-c': '1-a' });
    expect(leafRevs(tree)).toEqual(['2-c', '2-b']);
  });

  it('adding a branch below an internal node is new_branch', () => {
    const before = build(path(1, 'a', 'b', 'c'));
    const { tree, outcome } = mergePath(before, path(1, 'a', 'x', 'y'), LIVE);
    expect(outcome).toBe('new_branch');
    expect(leafRevs(tree)).toEqual(['3-y', '3-c']);
    expect(tree.get('2-x')).toMatchObject({ parent: '1-a' });
  });

  it('a bare revision extending nothing is new_branch (COUCHDB-style conflict on an unrelated branch)', () => {
    // couch_key_tree_tests: should_produce_conflict_on_merge_with_unrelated_branch
    const before = build(path(1, '1'), path(1, '2'));
    const { tree, outcome } = mergePath(before, path(1, '3'), LIVE);
    expect(outcome).toBe('new_branch');
    expect(shape(tree)).toEqual({ '1-1': null, '1-2': null, '1-3': null });
  });

  it('unrelated paths make two branches, each with its own root', () => {
    const { tree, outcome } = mergePath(build(path(1, 'a', 'b')), path(1, 'x', 'y'), LIVE);
    expect(outcome).toBe('new_branch');
    expect(shape(tree)).toEqual({ '1-a': null, '2-b': '1-a', '1-x': null, '2-y': '1-x' });
    expect(leafRevs(tree)).toEqual(['2-y', '2-b']);
  });

  it('re-merging a path the tree holds is internal_node and leaves the tree unchanged', () => {
    const before = build(path(1, 'a', 'b', 'c'), path(1, 'a', 'x'));
    for (const p of [
      path(1, 'a', 'b', 'c'),
      path(1, 'a', 'x'),
      path(1, 'a'),
      path(2, 'b', 'c'),
      path(3, 'c'),
    ]) {
      const { tree, outcome } = mergePath(before, p);
      expect(outcome).toBe('internal_node');
      expect(tree).toEqual(before);
    }
  });

  it('merging the prefix of a tree is internal_node (couch_key_tree: prefix of a tree)', () => {
    const before = build(path(1, 'a', 'b', 'c'));
    const { tree, outcome } = mergePath(before, path(1, 'a', 'b'));
    expect(outcome).toBe('internal_node');
    expect(tree).toEqual(before);
  });

  it('merging a stemmed path that ends inside the tree is internal_node (couch_key_tree: merge with stem)', () => {
    const before = build(path(1, '1', '1a'), path(1, '1', '1b', '1bb'));
    expect(mergePath(before, path(2, '1a')).outcome).toBe('internal_node');
    expect(mergePath(before, path(3, '1bb')).outcome).toBe('internal_node');
    expect(mergePath(before, path(2, '1b', '1bb')).tree).toEqual(before);
  });

  it('merging a stemmed path into a stemmed tree is internal_node (couch_key_tree: merge stems)', () => {
    const stemmed = build(path(2, '1a', '1aa'));
    const { tree, outcome } = mergePath(stemmed, path(3, '1aa'));
    expect(outcome).toBe('internal_node');
    expect(tree).toEqual(stemmed);
  });

  it('a path that starts below the root and extends a leaf is new_leaf', () => {
    const before = build(path(1, 'a', 'b', 'c'));
    const { tree, outcome } = mergePath(before, path(3, 'c', 'd'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(shape(tree)).toEqual({ '1-a': null, '2-b': '1-a', '3-c': '2-b', '4-d': '3-c' });
  });

  it('a path whose start was stemmed grafts above the root and re-attaches the ancestors', () => {
    const stemmed = build(path(3, 'c', 'd'));
    const { tree, outcome } = mergePath(stemmed, path(1, 'a', 'b', 'c', 'd', 'e'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(shape(tree)).toEqual({ '1-a': null, '2-b': '1-a', '3-c': '2-b', '4-d': '3-c', '5-e': '4-d' });
    expect(leafRevs(tree)).toEqual(['5-e']);
    // the nodes both sides know keep what the tree knew about them
    expect(tree.get('4-d')).toMatchObject({ hasBody: true });
  });

  it('a path that shares no node with a stemmed tree becomes a separate branch', () => {
    // couch_key_tree_tests: should_create_conflicts_on_merge
    const { tree, outcome } = mergePath(build(path(1, '1', '1a')), path(3, '1aa'), LIVE);
    expect(outcome).toBe('new_branch');
    expect(shape(tree)).toEqual({ '1-1': null, '2-1a': '1-1', '3-1aa': null });
    expect(leafRevs(tree)).toEqual(['3-1aa', '2-1a']);
  });

  it('a full path joins two branches that were only separate because of stemming', () => {
    // couch_key_tree_tests: should_create_no_conflicts_on_merge. CouchDB reports new_leaf here;
    // Settee reports internal_node because the path's leaf was already known, but the tree is the same.
    const split = build(path(1, '1', '1a'), path(3, '1aa'));
    const { tree } = mergePath(split, path(1, '1', '1a', '1aa'), LIVE);
    expect(shape(tree)).toEqual({ '1-1': null, '2-1a': '1-1', '3-1aa': '2-1a' });
    expect(leafRevs(tree)).toEqual(['3-1aa']);
  });

  it('grafting a known leaf onto its stemmed ancestors gives the same tree in either order', () => {
    const long = path(1, 'a', 'b', 'c');
    const short = path(2, 'b', 'c');
    expect(shape(build(short, long))).toEqual(shape(build(long, short)));
    expect(shape(build(short, long))).toEqual({ '1-a': null, '2-b': '1-a', '3-c': '2-b' });
  });

  it('extends the right branch when the conflicting branch does not match (COUCHDB-902)', () => {
    const before = build(path(1, 'foo', 'foo2'), path(1, 'foo', 'foo3'));
    const { tree, outcome } = mergePath(before, path(1, 'foo', 'foo3', 'foo4'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(shape(tree)).toEqual({ '1-foo': null, '2-foo2': '1-foo', '2-foo3': '1-foo', '3-foo4': '2-foo3' });
    expect(leafRevs(tree)).toEqual(['3-foo4', '2-foo2']);
  });

  it('merging the odd-length tree (couch_key_tree: tree of odd length) extends one sibling', () => {
    const before = build(path(1, '1', '1a'), path(1, '1', '1b'));
    const { tree, outcome } = mergePath(before, path(1, '1', '1a', '1aa'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(leafRevs(tree)).toEqual(['3-1aa', '2-1b']);
  });

  it('does not modify the tree it is given', () => {
    const before = build(path(1, 'a', 'b'));
    const snapshot = [...before].map(([rev, node]) => [rev, { ...node }]);
    mergePath(before, path(1, 'a', 'c'), LIVE);
    mergePath(before, path(1, 'a', 'b', 'c'), DELETED);
    mergePath(before, path(1, 'x'), LIVE);
    expect([...before]).toEqual(snapshot);
  });

  it('defaults the leaf state to an unknown live revision without a body', () => {
    const { tree } = mergePath(EMPTY, path(4, 'd'));
    expect(tree.get('4-d')).toEqual({ gen: 4, hash: 'd', parent: null, deleted: false, hasBody: false });
  });
});

describe('mergeTrees', () => {
  it('is the union of both trees', () => {
    const a = build(path(1, 'a', 'b'));
    const b = build(path(1, 'a', 'c'));
    const merged = mergeTrees(a, b);
    expect(shape(merged)).toEqual({ '1-a': null, '2-b': '1-a', '2-c': '1-a' });
    expect(shape(mergeTrees(b, a))).toEqual(shape(merged));
  });

  it('keeps the richer view of a node: a known parent, a body, a tombstone', () => {
    const stemmed = build([path(2, 'b'), LIVE]);
    const full = build([path(1, 'a', 'b', 'c'), DELETED]);
    const merged = mergeTrees(stemmed, full);
    expect(merged.get('2-b')).toEqual({ gen: 2, hash: 'b', parent: '1-a', deleted: false, hasBody: true });
    expect(merged.get('3-c')).toMatchObject({ parent: '2-b', deleted: true, hasBody: true });
    expect(mergeTrees(full, stemmed)).toEqual(merged);
  });

  it('merging a tree with itself or with the empty tree changes nothing', () => {
    const tree = build(path(1, 'a', 'b'), path(1, 'a', 'c', 'd'));
    expect(mergeTrees(tree, tree)).toEqual(tree);
    expect(mergeTrees(tree, EMPTY)).toEqual(tree);
    expect(mergeTrees(EMPTY, tree)).toEqual(tree);
  });
});

describe('winner and conflicts', () => {
  it('a live leaf beats a deleted one, whatever their generations', () => {
    const tree = build([path(1, 'a', 'b'), LIVE], [path(1, 'a', 'c', 'd', 'e'), DELETED]);
    expect(winningLeaf(tree).rev).toBe('2-b');
    expect(collectConflicts(collectLeaves(tree))).toEqual({ conflicts: [], deletedConflicts: ['4-e'] });
  });

  it('among live leaves the higher generation wins, whatever the hashes', () => {
    const tree = build(path(1, 'a', 'b', 'c'), path(1, 'a', 'z'));
    expect(winningLeaf(tree).rev).toBe('3-c');
    expect(collectConflicts(collectLeaves(tree)).conflicts).toEqual(['2-z']);
  });

  it('generations compare as numbers, not as strings', () => {
    const tree = build(path(9, 'z'), path(10, 'a'));
    expect(winningLeaf(tree).rev).toBe('10-a');
  });

  it('at the same generation the greater hash wins by plain string comparison', () => {
    const tree = build(path(1, 'a', '9'), path(1, 'a', '10'), path(1, 'a', 'B'));
    // '9' > '10' and 'B' > '9' as strings: 'B' wins
    expect(leafRevs(tree)).toEqual(['2-B', '2-9', '2-10']);
    // lower case sorts after upper case: 'a' > 'Z'
    expect(winningLeaf(build(path(3, 'Z'), path(3, 'a'))).rev).toBe('3-a');
  });

  it('picks the winner among real 32-hex revision hashes', () => {
    const low = '0f8c2c4e5fd6c0f7f13bdbb8c4c40b2d';
    const high = 'f00ba4f11b79c3c5fd6b33c3fbd5ab1e';
    const tree = build(path(1, 'root', low), path(1, 'root', high));
    expect(winningLeaf(tree).rev).toBe(`2-${high}`);
    expect(collectConflicts(collectLeaves(tree)).conflicts).toEqual([`2-${low}`]);
  });

  it('when every leaf is deleted the winner is the best deleted leaf and the doc is deleted', () => {
    const tree = build([path(1, 'a', 'b'), DELETED], [path(1, 'a', 'c', 'd'), DELETED]);
    const winner = winningLeaf(tree);
    expect(winner).toEqual({ rev: '3-d', gen: 3, hash: 'd', deleted: true, hasBody: true });
    expect(collectConflicts(collectLeaves(tree))).toEqual({ conflicts: [], deletedConflicts: ['2-b'] });
  });

  it('lists _conflicts and _deleted_conflicts in descending winner order, the winner excluded', () => {
    const tree = build(
      [path(1, 'r', 'a'), LIVE],
      [path(1, 'r', 'b', 'c'), LIVE],
      [path(1, 'r', 'z'), LIVE],
      [path(1, 'r', 'd'), DELETED],
      [path(1, 'r', 'e', 'f'), DELETED],
      [path(1, 'r', 'e', 'g', 'h'), DELETED],
    );
    expect(leafRevs(tree)).toEqual(['3-c', '2-z', '2-a', '4-h', '3-f', '2-d']);
    expect(winningLeaf(tree).rev).toBe('3-c');
    expect(collectConflicts(collectLeaves(tree))).toEqual({
      conflicts: ['2-z', '2-a'],
      deletedConflicts: ['4-h', '3-f', '2-d'],
    });
    expect(leafCount(tree)).toBe(6);
  });

  it('a document without conflicts has empty conflict lists', () => {
    const tree = build(path(1, 'a', 'b'));
    expect(collectConflicts(collectLeaves(tree))).toEqual({ conflicts: [], deletedConflicts: [] });
  });

  it('an empty tree has no winner', () => {
    expect(() => winningLeaf(EMPTY)).toThrow(RangeError);
    expect(collectLeaves(EMPTY)).toEqual([]);
    expect(leafCount(EMPTY)).toBe(0);
  });

  it('compareLeaves is positive when the first argument wins', () => {
    const leaf = (gen: number, hash: string, deleted = false) => ({
      rev: `${gen}-${hash}`,
      gen,
      hash,
      deleted,
      hasBody: true,
    });
    expect(compareLeaves(leaf(1, 'a'), leaf(5, 'z', true))).toBeGreaterThan(0);
    expect(compareLeaves(leaf(5, 'z', true), leaf(1, 'a'))).toBeLessThan(0);
    expect(compareLeaves(leaf(2, 'a'), leaf(1, 'z'))).toBeGreaterThan(0);
    expect(compareLeaves(leaf(2, 'b'), leaf(2, 'a'))).toBeGreaterThan(0);
    expect(compareLeaves(leaf(2, 'a'), leaf(2, 'a'))).toBe(0);
  });

  it('isLeaf tells leaves from internal and unknown revisions', () => {
    const tree = build(path(1, 'a', 'b'), path(1, 'a', 'c'));
    expect(isLeaf(tree, '2-b')).toBe(true);
    expect(isLeaf(tree, '2-c')).toBe(true);
    expect(isLeaf(tree, '1-a')).toBe(false);
    expect(isLeaf(tree, '3-x')).toBe(false);
  });
});

describe('stem', () => {
  const chain = build(path(1, 'a', 'b', 'c', 'd', 'e'));

  it('keeps the last `limit` revisions of a linear history, the oldest kept becoming the root', () => {
    expect(shape(stem(chain, 3))).toEqual({ '3-c': null, '4-d': '3-c', '5-e': '4-d' });
    expect(shape(stem(chain, 2))).toEqual({ '4-d': null, '5-e': '4-d' });
  });

  it('keeps only the leaf with revs_limit=1', () => {
    expect(shape(stem(chain, 1))).toEqual({ '5-e': null });
    expect(stem(chain, 1).get('5-e')).toEqual({
      gen: 5,
      hash: 'e',
      parent: null,
      deleted: false,
      hasBody: true,
    });
  });

  it('returns the same tree when the history fits in the limit', () => {
    expect(stem(chain, 5)).toBe(chain);
    expect(stem(chain, 1000)).toBe(chain);
    expect(stem(EMPTY, 1)).toBe(EMPTY);
  });

  it('couch_key_tree: stemming to 1 and 2 levels, and more levels than exist', () => {
    const twoChild = build(path(1, '1', '1a', '1aa'));
    expect(shape(stem(twoChild, 1))).toEqual({ '3-1aa': null });
    expect(shape(stem(twoChild, 2))).toEqual({ '2-1a': null, '3-1aa': '2-1a' });
    expect(stem(twoChild, 3)).toBe(twoChild);
  });

  // 1-a ─ 2-b ─┬─ 3-c ─ 4-d ─ 5-e
  //            └─ 3-x
  const branched = build(path(1, 'a', 'b', 'c', 'd', 'e'), path(1, 'a', 'b', 'x'));

  it('with branches of different lengths, drops a mid-tree node and makes its kept child a new root', () => {
    const stemmed = stem(branched, 2);
    // 3-c is two revisions from its only leaf: dropped, so 4-d becomes a root. 2-b is kept for 3-x.
    expect(shape(stemmed)).toEqual({ '2-b': null, '3-x': '2-b', '4-d': null, '5-e': '4-d' });
    expect(leafRevs(stemmed)).toEqual(['5-e', '3-x']);
  });

  it('keeps a node that is close to some leaf even when another leaf below it is far', () => {
    // 1-a is 2 revisions from 3-x (< 3) though 4 from 5-e: every node survives.
    expect(stem(branched, 3)).toBe(branched);
    expect(shape(stem(branched, 1))).toEqual({ '3-x': null, '5-e': null });
  });

  it("keeps exactly the union of every leaf's last `limit` revisions", () => {
    const tree = build(
      path(1, 'a', 'b', 'c', 'd', 'e', 'f', 'g'),
      path(1, 'a', 'b', 'c', 'x'),
      path(1, 'a', 'y'),
    );
    for (const limit of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const stemmed = stem(tree, limit);
      const wanted = new Set(collectLeaves(tree).flatMap((leaf) => ancestry(tree, leaf.rev).slice(0, limit)));
      expect(new Set(stemmed.keys())).toEqual(wanted);
      for (const leaf of collectLeaves(tree)) {
        const full = ancestry(tree, leaf.rev);
        const kept = ancestry(stemmed, leaf.rev);
        expect(kept.slice(0, limit)).toEqual(full.slice(0, limit));
        expect(full.slice(0, kept.length)).toEqual(kept);
      }
    }
  });

  it('a leaf can keep more than `limit` revisions when a shared ancestor is kept for a shorter branch', () => {
    // 1-a ─┬─ 2-b ─ 3-c ─ 4-x
    //      └─ 2-y
    const tree = build(path(1, 'a', 'b', 'c', 'x'), path(1, 'a', 'y'));
    const stemmed = stem(tree, 2);
    expect(shape(stemmed)).toEqual({ '1-a': null, '2-y': '1-a', '3-c': null, '4-x': '3-c' });
    const limit3 = stem(tree, 3);
    // 2-b is kept for 4-x and 1-a for 2-y, so 4-x's history reaches back to 1-a
    expect(limit3).toBe(tree);
    expect(ancestry(limit3, '4-x')).toHaveLength(4);
  });

  it('keeps deleted leaves and the nodes flags', () => {
    const tree = build([path(1, 'a', 'b', 'c'), DELETED], [path(1, 'a', 'b', 'x', 'y'), LIVE]);
    const stemmed = stem(tree, 1);
    expect(shape(stemmed)).toEqual({ '3-c': null, '4-y': null });
    expect(stemmed.get('3-c')).toMatchObject({ deleted: true, hasBody: true });
    expect(winningLeaf(stemmed).rev).toBe('4-y');
  });

  it('stems every branch of a forest', () => {
    const forest = build(path(1, 'a', 'b', 'c'), path(4, 'p', 'q', 'r'));
    expect(shape(stem(forest, 2))).toEqual({ '2-b': null, '3-c': '2-b', '5-q': null, '6-r': '5-q' });
  });

  it('rejects a limit that is not a positive integer', () => {
    for (const limit of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => stem(chain, limit)).toThrow(RangeError);
    }
  });

  it('a stemmed tree still merges a path that overlaps it, then stems back to the limit', () => {
    const stemmed = stem(chain, 2);
    const { tree, outcome } = mergePath(stemmed, path(1, 'a', 'b', 'c', 'd', 'e', 'f'), LIVE);
    expect(outcome).toBe('new_leaf');
    expect(leafRevs(tree)).toEqual(['6-f']);
    expect(shape(stem(tree, 2))).toEqual({ '5-e': null, '6-f': '5-e' });
  });

  it('a path that missed more than `limit` revisions cannot merge and makes a spurious branch', () => {
    const stemmed = stem(build(path(1, 'a', 'b', 'c', 'd', 'e', 'f')), 2);
    const { tree, outcome } = mergePath(stemmed, path(2, 'b', 'c', 'q'), LIVE);
    expect(outcome).toBe('new_branch');
    expect(leafRevs(tree)).toEqual(['6-f', '4-q']);
  });
});

describe('history', () => {
  const chain = build(path(1, 'a', 'b', 'c', 'd', 'e'));
  const branched = build(path(1, 'a', 'b', 'c'), [path(1, 'a', 'b', 'x'), DELETED], path(1, 'a', 'y'));

  it('ancestry lists a revision and its ancestors, newest first', () => {
    expect(ancestry(chain, '5-e')).toEqual(['5-e', '4-d', '3-c', '2-b', '1-a']);
    expect(ancestry(chain, '3-c')).toEqual(['3-c', '2-b', '1-a']);
    expect(ancestry(stem(chain, 2), '5-e')).toEqual(['5-e', '4-d']);
    expect(ancestry(chain, '9-z')).toEqual([]);
  });

  it('revisionsOf gives CouchDB _revisions, optionally capped', () => {
    expect(revisionsOf(chain, '5-e')).toEqual({ start: 5, ids: ['e', 'd', 'c', 'b', 'a'] });
    expect(revisionsOf(chain, '5-e', 2)).toEqual({ start: 5, ids: ['e', 'd'] });
    expect(revisionsOf(chain, '2-b')).toEqual({ start: 2, ids: ['b', 'a'] });
    expect(revisionsOf(stem(chain, 3), '5-e')).toEqual({ start: 5, ids: ['e', 'd', 'c'] });
    expect(revisionsOf(branched, '3-x')).toEqual({ start: 3, ids: ['x', 'b', 'a'] });
    expect(() => revisionsOf(chain, '6-f')).toThrow(RangeError);
  });

  it('revisionsOf round-trips through pathFromRevisions', () => {
    for (const rev of ['5-e', '3-c', '1-a']) {
      const p = pathFromRevisions(revisionsOf(chain, rev));
      expect(pathLeaf(p)).toBe(rev);
      expect(mergePath(chain, p).outcome).toBe('internal_node');
    }
    expect(pathFromRevisions(revisionsOf(chain, '5-e'))).toEqual(path(1, 'a', 'b', 'c', 'd', 'e'));
  });

  it('revsInfo reports each ancestor as available, missing or deleted', () => {
    const tree = build([path(1, 'a'), LIVE], [path(1, 'a', 'b', 'c'), DELETED]);
    expect(revsInfo(tree, '3-c')).toEqual([
      { rev: '3-c', status: 'deleted' },
      { rev: '2-b', status: 'missing' },
      { rev: '1-a', status: 'available' },
    ]);
  });

  it('leavesFrom gives the leaves descending from a revision, winner first', () => {
    expect(leavesFrom(branched, '1-a').map((l) => l.rev)).toEqual(['3-c', '2-y', '3-x']);
    expect(leavesFrom(branched, '2-b').map((l) => l.rev)).toEqual(['3-c', '3-x']);
    expect(leavesFrom(branched, '3-x').map((l) => l.rev)).toEqual(['3-x']);
    expect(leavesFrom(branched, '2-y').map((l) => l.rev)).toEqual(['2-y']);
    expect(leavesFrom(branched, '4-nope')).toEqual([]);
    expect(leavesFrom(chain, '2-b').map((l) => l.rev)).toEqual(['5-e']);
  });

  it('pathOfRev and pathLeaf convert between a revision id and a one-node path', () => {
    expect(pathOfRev('7-abc')).toEqual(path(7, 'abc'));
    expect(pathLeaf(path(3, 'c', 'd', 'e'))).toBe('5-e');
    expect(errorOf(() => pathOfRev('nope')).error).toBe('bad_request');
  });
});

describe('pathFromRevisions', () => {
  it('turns _revisions (leaf first) into a root-to-leaf path', () => {
    expect(pathFromRevisions({ start: 3, ids: ['c', 'b', 'a'] })).toEqual(path(1, 'a', 'b', 'c'));
    expect(pathFromRevisions({ start: 10, ids: ['j', 'i'] })).toEqual(path(9, 'i', 'j'));
    expect(pathFromRevisions({ start: 1, ids: ['a'] })).toEqual(path(1, 'a'));
  });

  it('does not modify the ids it is given', () => {
    const revisions = { start: 2, ids: ['b', 'a'] };
    pathFromRevisions(revisions);
    expect(revisions.ids).toEqual(['b', 'a']);
  });

  it.each([
    ['null', null],
    ['a string', '3-abc'],
    ['a number', 3],
    ['start 0', { start: 0, ids: ['a'] }],
    ['a negative start', { start: -2, ids: ['a'] }],
    ['a fractional start', { start: 1.5, ids: ['a'] }],
    ['a string start', { start: '2', ids: ['b', 'a'] }],
    ['a missing start', { ids: ['a'] }],
    ['empty ids', { start: 2, ids: [] }],
    ['missing ids', { start: 2 }],
    ['ids that are not an array', { start: 2, ids: 'ba' }],
    ['more ids than start', { start: 2, ids: ['c', 'b', 'a'] }],
    ['an empty id', { start: 2, ids: ['b', ''] }],
    ['a non-string id', { start: 2, ids: ['b', 7] }],
    ['an id with whitespace', { start: 1, ids: ['a b'] }],
  ])('rejects %s with bad_request', (_name, revisions) => {
    const error = errorOf(() => pathFromRevisions(revisions));
    expect(error.error).toBe('bad_request');
    expect(error.status).toBe(400);
  });
});

describe('diffTrees', () => {
  it('an unchanged tree has an empty diff', () => {
    const tree = build(path(1, 'a', 'b'));
    expect(diffTrees(tree, tree)).toEqual({ added: [], removed: [], changed: [] });
    expect(diffTrees(tree, new Map(tree))).toEqual({ added: [], removed: [], changed: [] });
  });

  it('extending a leaf adds the new leaf and changes the old leaf into an internal node', () => {
    const before = build(path(1, 'a', 'b'));
    const after = mergePath(before, path(1, 'a', 'b', 'c'), LIVE).tree;
    const diff = diffTrees(before, after);
    expect(diff.added).toEqual([
      { rev: '3-c', gen: 3, hash: 'c', parent: '2-b', deleted: false, hasBody: true, leaf: true },
    ]);
    expect(diff.changed).toEqual([
      { rev: '2-b', gen: 2, hash: 'b', parent: '1-a', deleted: false, hasBody: true, leaf: false },
    ]);
    expect(diff.removed).toEqual([]);
  });

  it('adding a sibling only adds a row', () => {
    const before = build(path(1, 'a', 'b'));
    const after = mergePath(before, path(1, 'a', 'c'), LIVE).tree;
    const diff = diffTrees(before, after);
    expect(diff.added).toEqual([expect.objectContaining({ rev: '2-c', leaf: true })]);
    expect(diff.changed).toEqual([]);
    expect(diff.removed).toEqual([]);
  });

  it('stemming removes the dropped revisions and changes the new root', () => {
    const before = build(path(1, 'a', 'b', 'c'));
    const diff = diffTrees(before, stem(before, 2));
    expect(diff.removed).toEqual(['1-a']);
    expect(diff.changed).toEqual([expect.objectContaining({ rev: '2-b', parent: null, leaf: false })]);
    expect(diff.added).toEqual([]);
  });

  it('a node that gains a body, a tombstone or a parent is changed', () => {
    const before = build([path(2, 'b'), { deleted: false, hasBody: false }]);
    const withBody = build([path(2, 'b'), LIVE]);
    expect(diffTrees(before, withBody).changed).toEqual([
      expect.objectContaining({ rev: '2-b', hasBody: true, leaf: true }),
    ]);
    const tombstone = build([path(2, 'b'), DELETED]);
    expect(diffTrees(withBody, tombstone).changed).toEqual([
      expect.objectContaining({ rev: '2-b', deleted: true }),
    ]);
    const grafted = mergeTrees(before, build(path(1, 'a', 'b')));
    const diff = diffTrees(before, grafted);
    expect(diff.added).toEqual([expect.objectContaining({ rev: '1-a', leaf: false })]);
    expect(diff.changed).toEqual([expect.objectContaining({ rev: '2-b', parent: '1-a', leaf: true })]);
  });

  it('a node whose children all went away becomes a leaf', () => {
    const before = build(path(1, 'a', 'b'));
    const after: RevTree = new Map<string, RevNode>([['1-a', before.get('1-a')!]]);
    const diff = diffTrees(before, after);
    expect(diff.removed).toEqual(['2-b']);
    expect(diff.changed).toEqual([expect.objectContaining({ rev: '1-a', leaf: true })]);
    expect(diff.added).toEqual([]);
  });

  it('lists every row of a new document as added', () => {
    const after = build(path(1, 'a', 'b'), path(1, 'a', 'c'));
    const diff = diffTrees(EMPTY, after);
    expect(diff.added.map((n) => n.rev).sort()).toEqual(['1-a', '2-b', '2-c']);
    expect(diff.added.find((n) => n.rev === '1-a')?.leaf).toBe(false);
    expect(diffTrees(after, EMPTY).removed.sort()).toEqual(['1-a', '2-b', '2-c']);
  });
});
