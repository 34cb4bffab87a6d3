export { diffTrees, type StoredNode, type TreeDiff } from './diff.js';
export {
  ancestry,
  commonAncestor,
  leavesFrom,
  pathFromRevisions,
  pathLeaf,
  pathOfRev,
  revisionsOf,
  revsInfo,
} from './history.js';
export { collectConflicts, collectLeaves, compareLeaves, isLeaf, leafCount, winningLeaf } from './leaves.js';
export { type LeafState, mergePath, mergeTrees } from './merge.js';
export { stem } from './stem.js';
export type { Leaf, MergeOutcome, Revisions, RevNode, RevPath, RevTree } from './types.js';
