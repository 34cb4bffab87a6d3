import { rememberLeaves, toLeaf } from '../core/rev-tree/leaves.js';
import type { RevNode, RevTree } from '../core/rev-tree/types.js';
import type { Storage } from '../storage/types.js';

const EMPTY: RevTree = new Map();
const MIN_CACHED_NODES = 16;

/**
 * Document trees, read from storage and kept in a bounded least-recently-used cache. A hot
 * document — edited thousands of times, or with hundreds of conflicts — is then not re-read
 * node by node on every write. Coherent because one Database owns its storage (the SQLite
 * backend holds an exclusive lock) and every write passes through `remember`.
 */
export class TreeCache {
  private readonly trees = new Map<string, RevTree>();
  private nodes = 0;

  constructor(
    private readonly storage: Storage,
    private readonly maxNodes = 100_000,
  ) {}

  /** The document's tree (empty when the document is unknown). */
  async get(id: string): Promise<RevTree> {
    const cached = this.trees.get(id);
    if (cached) {
      // Re-insert: a Map iterates in insertion order, which makes it an LRU list.
      this.trees.delete(id);
      this.trees.set(id, cached);
      return cached;
    }
    const [record] = await this.storage.getDocs([id], { withTree: true });
    const nodes = record?.tree ?? [];
    if (nodes.length === 0) return EMPTY;
    const tree = new Map<string, RevNode>(nodes.map(({ rev, leaf: _leaf, ...node }) => [rev, node]));
    rememberLeaves(
      tree,
      nodes.filter((node) => node.leaf).map((node) => toLeaf(node.rev, node)),
    );
    this.remember(id, tree);
    return tree;
  }

  /** Records a document's tree as now stored. */
  remember(id: string, tree: RevTree): void {
    this.forget(id);
    // Small trees are as cheap to read again as to keep: caching them would only make memory
    // grow with the number of documents written.
    if (tree.size < MIN_CACHED_NODES) return;
    this.trees.set(id, tree);
    this.nodes += tree.size;
    for (const [oldest, old] of this.trees) {
      if (this.nodes <= this.maxNodes || oldest === id) break;
      this.trees.delete(oldest);
      this.nodes -= old.size;
    }
  }

  forget(id: string): void {
    const old = this.trees.get(id);
    if (!old) return;
    this.trees.delete(id);
    this.nodes -= old.size;
  }

  clear(): void {
    this.trees.clear();
    this.nodes = 0;
  }
}
