/**
 * Revision trees as CouchDB defines them (protocol.md §1.3), held flat: every revision the replica
 * knows is a node keyed by its revision id, with a pointer to its parent when the parent is known.
 * A node whose parent is unknown (the first edit, or an ancestor stemmed away) is a root.
 *
 * Flat trees make merging a union of nodes and edges — commutative, associative and idempotent
 * by construction — and map one-to-one onto storage rows, so a write touches only the nodes that
 * changed. Deep histories need no recursion.
 */
export interface RevNode {
  /** Generation: depth from the document's first revision (1 for the first edit). */
  readonly gen: number;
  readonly hash: string;
  /** Revision id of the parent, or null when this node is a root of its branch. */
  readonly parent: string | null;
  /** The revision is a tombstone (`_deleted: true`). */
  readonly deleted: boolean;
  /** This replica holds the revision's body (false for ancestors known only by id, or compacted). */
  readonly hasBody: boolean;
}

/** A document's revision tree: its nodes keyed by revision id (`"gen-hash"`). */
export type RevTree = ReadonlyMap<string, RevNode>;

/** A root-to-leaf path: `hashes[0]` has generation `start`, the leaf is last. */
export interface RevPath {
  readonly start: number;
  readonly hashes: readonly string[];
}

/** CouchDB's `_revisions` field: `ids` lists the revision first, then its ancestors. */
export interface Revisions {
  start: number;
  ids: string[];
}

/** A leaf of the tree: a complete version of the document. */
export interface Leaf {
  readonly rev: string;
  readonly gen: number;
  readonly hash: string;
  readonly deleted: boolean;
  readonly hasBody: boolean;
}

/**
 * How merging a path changed the tree, in CouchDB's terms: it extended a leaf, added a new leaf
 * beside existing ones (a conflict, or an unrelated branch), or brought nothing new.
 */
export type MergeOutcome = 'new_leaf' | 'new_branch' | 'internal_node';
