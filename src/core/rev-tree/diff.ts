import { leafRevs } from './leaves.js';
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

/**
 * The difference between a document's stored tree and its new tree. With `candidates` — the
 * revisions an operation reports it touched — only those are compared, which keeps a write to a
 * document with a long history as cheap as one to a new document.
 */
export function diffTrees(before: RevTree, after: RevTree, candidates?: Iterable<string>): TreeDiff {
  const leavesBefore = leafRevs(before);
  const leavesAfter = leafRevs(after);
  const diff: TreeDiff = { added: [], removed: [], changed: [] };
  for (const rev of candidates ?? new Set([...before.keys(), ...after.keys()])) {
    const node = after.get(rev);
    const old = before.get(rev);
    if (!node) {
      if (old) diff.removed.push(rev);
      continue;
    }
    const leaf = leavesAfter.has(rev);
    if (!old) diff.added.push({ ...node, rev, leaf });
    else if (!sameNode(old, node) || leaf !== leavesBefore.has(rev))
      diff.changed.push({ ...node, rev, leaf });
  }
  return diff;
}

function sameNode(a: RevNode, b: RevNode): boolean {
  return a === b || (a.parent === b.parent && a.deleted === b.deleted && a.hasBody === b.hasBody);
}
