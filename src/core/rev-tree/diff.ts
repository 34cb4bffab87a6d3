import { parentsOf } from './leaves.js';
import type { RevNode, RevTree } from './types.js';

/** A node as storage keeps it: the tree node plus whether it is a leaf. */
export interface StoredNode extends RevNode {
  readonly rev: string;
  readonly leaf: boolean;
}

/** What a write changes in a document's tree: the only rows storage has to touch. */
export interface TreeDiff {
  added: StoredNode[];
  removed: string[];
  changed: StoredNode[];
}

/** The difference between a document's stored tree and its new tree. */
export function diffTrees(before: RevTree, after: RevTree): TreeDiff {
  const parentsBefore = parentsOf(before);
  const parentsAfter = parentsOf(after);
  const diff: TreeDiff = { added: [], removed: [], changed: [] };
  for (const [rev, node] of after) {
    const leaf = !parentsAfter.has(rev);
    const old = before.get(rev);
    if (!old) diff.added.push({ ...node, rev, leaf });
    else if (!sameNode(old, node) || leaf === parentsBefore.has(rev))
      diff.changed.push({ ...node, rev, leaf });
  }
  for (const rev of before.keys()) if (!after.has(rev)) diff.removed.push(rev);
  return diff;
}

function sameNode(a: RevNode, b: RevNode): boolean {
  return a === b || (a.parent === b.parent && a.deleted === b.deleted && a.hasBody === b.hasBody);
}
