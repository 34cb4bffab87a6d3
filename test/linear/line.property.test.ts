/**
 * `Line`, a linear document's tree held as a window over shared slots (src/core/rev-tree/line.ts):
 * a local edit extends it in time independent of its length, and what it yields must be exactly
 * what merging the edit into the tree and cutting the line again yields — the way every write
 * went before — with a touched set that names every row the edit changes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { diffTrees, type TreeDiff } from '../../src/core/rev-tree/diff.js';
import { collectLeaves } from '../../src/core/rev-tree/leaves.js';
import { Line } from '../../src/core/rev-tree/line.js';
import { extendLine, linearLine, lineOf } from '../../src/core/rev-tree/linear.js';
import { mergePath } from '../../src/core/rev-tree/merge.js';
import type { RevNode, RevPath, RevTree } from '../../src/core/rev-tree/types.js';

const LIVE = { deleted: false, hasBody: true };

/** The entries of a tree, as comparable values. */
const entriesOf = (tree: RevTree): [string, RevNode][] => [...tree.entries()];

/** A diff in an order of its own: candidates are compared in no particular order. */
function sortedDiff(diff: TreeDiff): TreeDiff {
  const byRev = (a: { rev: string }, b: { rev: string }) => (a.rev < b.rev ? -1 : a.rev > b.rev ? 1 : 0);
  return { added: diff.added.sort(byRev), removed: diff.removed.sort(), changed: diff.changed.sort(byRev) };
}

/** A local edit of the line's newest revision, as `WriteBatch.edit` builds it. */
function editPath(tree: RevTree, hash: string): RevPath {
  const head = collectLeaves(tree)[0]!;
  return { start: head.gen, hashes: [head.hash, hash] };
}

/** The way a linear write went before `Line`: merge, then cut the line from the result. */
const mergedAndCut = (tree: RevTree, path: RevPath, limit: number, deleted: boolean) =>
  linearLine(
    mergePath(tree, path, { deleted, hasBody: true }).tree,
    `${path.start + 1}-${path.hashes[1]}`,
    limit,
  );

const editsArb = fc.array(fc.boolean(), { minLength: 1, maxLength: 60 });

describe('extending a line', () => {
  it('is merging and cutting, but for older ids kept up to a tenth past the limit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 25 }), editsArb, (limit, deletions) => {
        let line: RevTree = lineOf({ rev: '1-h0', gen: 1, hash: 'h0', deleted: false });
        for (const [i, deleted] of deletions.entries()) {
          const path = editPath(line, `h${i + 1}`);
          const extended = extendLine(line, path, { deleted, hasBody: true }, limit)!;
          const expected = mergedAndCut(line, path, limit, deleted);
          // The newest `limit` revisions are exactly the cut line's, and reads show no more.
          expect(entriesOf((extended.tree as Line).last(limit))).toEqual(entriesOf(expected));
          expect(extended.tree.size).toBeLessThanOrEqual(limit + Math.floor(limit / 10));
          // The exact touched set finds every row a full comparison finds.
          expect(sortedDiff(diffTrees(line, extended.tree, extended.touched))).toEqual(
            sortedDiff(diffTrees(line, extended.tree)),
          );
          expect(extended.touched.length).toBeLessThanOrEqual(4 + Math.floor(limit / 10));
          line = extended.tree;
        }
      }),
      { numRuns: 60 },
    );
  });

  it('leaves the line it extends as it was, even when it is extended twice', () => {
    let line = lineOf({ rev: '1-a', gen: 1, hash: 'a', deleted: false });
    for (let i = 0; i < 150; i++) line = extendLine(line, editPath(line, `a${i}`), LIVE, 100)!.tree as Line;
    const before = entriesOf(line);
    const one = extendLine(line, editPath(line, 'one'), LIVE, 100)!.tree;
    // A second edit of the same line cannot append to the slots the first one extended.
    const two = extendLine(line, editPath(line, 'two'), LIVE, 100)!.tree;
    expect(entriesOf(line)).toEqual(before);
    expect(one.has('152-one') && !one.has('152-two')).toBe(true);
    expect(two.has('152-two') && !two.has('152-one')).toBe(true);
    expect(entriesOf(two).slice(0, -1)).toEqual(entriesOf(one).slice(0, -1));
  });

  it('is a tree like any other: a Map built from it holds the same nodes, one leaf, one root', () => {
    let line = lineOf({ rev: '1-a', gen: 1, hash: 'a', deleted: false });
    for (let i = 0; i < 30; i++) line = extendLine(line, editPath(line, `a${i}`), LIVE, 10)!.tree as Line;
    const copy = new Map(line);
    expect(Line.of(copy)).toBeDefined();
    expect(entriesOf(Line.of(copy)!)).toEqual(entriesOf(line));
    expect([...copy.values()].filter((node) => node.parent === null)).toHaveLength(1);
    expect([...copy.values()].filter((node) => node.hasBody)).toHaveLength(1);
    expect(collectLeaves(copy).map((leaf) => leaf.rev)).toEqual(['31-a29']);
  });

  it('is left to merging for anything but an edit of the newest revision', () => {
    const line = linearLine(
      mergePath(new Map(), { start: 1, hashes: ['a', 'b', 'c'] }, LIVE).tree,
      '3-c',
      10,
    );
    expect(extendLine(line, { start: 2, hashes: ['b', 'x'] }, LIVE, 10)).toBeUndefined();
    expect(extendLine(line, { start: 3, hashes: ['c', 'x', 'y'] }, LIVE, 10)).toBeUndefined();
    const branched = mergePath(line, { start: 2, hashes: ['b', 'z'] }, LIVE).tree;
    expect(extendLine(branched, { start: 3, hashes: ['c', 'x'] }, LIVE, 10)).toBeUndefined();
  });
});
