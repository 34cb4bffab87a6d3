import { rememberLeaves, toLeaf } from '../core/rev-tree/leaves.js';
import type { StoredNode } from '../core/rev-tree/diff.js';
import type { RevNode, RevTree } from '../core/rev-tree/types.js';
import type { Storage } from '../storage/types.js';

const EMPTY: RevTree = new Map();

/** A document's tree with the sequence it was stored at (0: the document does not exist). */
export interface StoredTree {
  tree: RevTree;
  seq: number;
}
const MIN_CACHED_NODES = 16;

/**
 * Document trees, read from storage and kept in a bounded least-recently-used cache. A hot
 * document — edited thousands of times, or with hundreds of conflicts — is then not re-read
 * node by node on every write. Coherent because one Database owns its storage (the SQLite
 * backend holds an exclusive lock) and every write passes through `remember`.
 */
export class TreeCache {
  private readonly trees = new Map<string, StoredTree>();
  private nodes = 0;

  constructor(
    private readonly storage: Storage,
    private readonly maxNodes = 100_000,
  ) {}

  /**
   * The document's tree (empty when the document is unknown). Given the sequence of a summary
   * just read, a cached tree of another sequence is read again: another server on the same
   * storage may have written the document since it was cached.
   */
  async get(id: string, seq?: number): Promise<RevTree> {
    return (await this.read(id, seq)).tree;
  }

  /**
   * The document's tree and the sequence it was read or written at (0 when the document is
   * unknown): what a write computed from this tree names as its base (`DocWrite.base`).
   */
  async read(id: string, seq?: number): Promise<StoredTree> {
    return (await this.readMany([id], [seq]))[0]!;
  }

  /**
   * The trees of several documents, in the same order, as `read` reads one: those not cached (or
   * cached at another sequence than `seqs` gives) in one storage read, whatever their number — a
   * batch costs one round trip to a database server, not one per document.
   */
  async readMany(ids: readonly string[], seqs: readonly (number | undefined)[] = []): Promise<StoredTree[]> {
    const found = new Map<string, StoredTree>();
    const missing = new Set<string>();
    for (const [i, id] of ids.entries()) {
      const cached = this.cached(id, seqs[i]);
      if (cached) found.set(id, cached);
      else missing.add(id);
    }
    if (missing.size > 0) {
      const unknown = [...missing];
      const records = await this.storage.getDocs(unknown, { withTree: true });
      for (const [i, id] of unknown.entries()) {
        const record = records[i];
        if (record?.tree && record.tree.length > 0) found.set(id, this.stored(id, record.tree, record.seq));
      }
    }
    return ids.map((id) => found.get(id) ?? { tree: EMPTY, seq: 0 });
  }

  /** The cached tree, unless absent or of another sequence than a summary just read shows. */
  private cached(id: string, seq: number | undefined): StoredTree | undefined {
    const cached = this.trees.get(id);
    if (!cached) return undefined;
    this.trees.delete(id);
    if (seq !== undefined && cached.seq !== seq) {
      this.nodes -= cached.tree.size;
      return undefined;
    }
    // Re-inserted: a Map iterates in insertion order, which makes it an LRU list.
    this.trees.set(id, cached);
    return cached;
  }

  /** A tree as storage read it, remembered. */
  private stored(id: string, nodes: readonly StoredNode[], seq: number): StoredTree {
    const tree = new Map<string, RevNode>(nodes.map(({ rev, leaf: _leaf, ...node }) => [rev, node]));
    rememberLeaves(
      tree,
      nodes.filter((node) => node.leaf).map((node) => toLeaf(node.rev, node)),
    );
    this.remember(id, tree, seq);
    return { tree, seq };
  }

  /** Records a document's tree as now stored, at this sequence. */
  remember(id: string, tree: RevTree, seq: number): void {
    this.forget(id);
    // Small trees are as cheap to read again as to keep: caching them would only make memory
    // grow with the number of documents written.
    if (tree.size < MIN_CACHED_NODES) return;
    this.trees.set(id, { tree, seq });
    this.nodes += tree.size;
    for (const [oldest, old] of this.trees) {
      if (this.nodes <= this.maxNodes || oldest === id) break;
      this.trees.delete(oldest);
      this.nodes -= old.tree.size;
    }
  }

  forget(id: string): void {
    const old = this.trees.get(id);
    if (!old) return;
    this.trees.delete(id);
    this.nodes -= old.tree.size;
  }

  clear(): void {
    this.trees.clear();
    this.nodes = 0;
  }
}
