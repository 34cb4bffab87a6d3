import type { StoredNode } from '../../../src/core/rev-tree/diff.js';
import type {
  AttachmentMeta,
  ChangedNode,
  DocWrite,
  LeafRecord,
  NodeWrite,
  RevisionContent,
  Storage,
} from '../../../src/storage/types.js';

/** The suite's state for the running test; `storage` changes when a test reopens. */
export interface Context {
  storage: Storage;
  /** Closes the current storage and opens the same place again. */
  reopen(): Promise<Storage>;
  /** Opens the same place without closing first (after `destroy`). */
  open(): Promise<Storage>;
}

/** What a node of a test write holds besides its place in the tree. */
export interface NodeOptions {
  deleted?: boolean;
  /** Defaults to true: most test writes add a single leaf. */
  leaf?: boolean;
  /** The body as a value (stored as its JSON text); omitted for a node held without a body. */
  body?: unknown;
  attachments?: Record<string, AttachmentMeta>;
}

/**
 * A tree node as the Database would add it: `node('2-b', '1-a', { body: { n: 2 } })`.
 * `hasBody` follows whether content is supplied, as a backend reports it.
 */
export function node(rev: string, parent: string | null, options: NodeOptions = {}): NodeWrite {
  const dash = rev.indexOf('-');
  const written: NodeWrite = {
    rev,
    gen: Number(rev.slice(0, dash)),
    hash: rev.slice(dash + 1),
    parent,
    deleted: options.deleted ?? false,
    leaf: options.leaf ?? true,
    hasBody: options.body !== undefined,
  };
  if (options.body !== undefined) written.content = content(options.body, options.attachments);
  return written;
}

/** The content a node written with this body and these attachments reads back as. */
export function content(body: unknown, attachments?: Record<string, AttachmentMeta>): RevisionContent {
  return { body: JSON.stringify(body), attachments };
}

/** A node as a tree read reports it: the written node without its content. */
export function stored(written: NodeWrite): StoredNode {
  const { content: _content, ...rest } = written;
  return rest;
}

/** A leaf of a document summary: `leaf('3-c')`, `leaf('2-x', true)` for a tombstone. */
export function leaf(rev: string, deleted = false): LeafRecord {
  return { rev, deleted };
}

/**
 * One document's write. The summary is taken from `leaves` (the winner first); the storage
 * does not check it against the tree, so tests may state any summary they need.
 */
export function docWrite(
  id: string,
  leaves: readonly LeafRecord[],
  diff: { added?: NodeWrite[]; removed?: string[]; changed?: ChangedNode[] } = {},
): DocWrite {
  const winner = leaves[0];
  if (!winner) throw new Error('a document has at least one leaf');
  return {
    record: { id, winner: winner.rev, deleted: winner.deleted, leaves: [...leaves] },
    added: diff.added ?? [],
    removed: diff.removed ?? [],
    changed: diff.changed ?? [],
  };
}

/** A new document with one revision and a body: the commonest write. */
export function newDoc(id: string, rev = '1-a', body: unknown = { id }): DocWrite {
  return docWrite(id, [leaf(rev)], { added: [node(rev, null, { body })] });
}

/** Attachment metadata for a blob of `length` bytes. */
export function attMeta(digest: string, length: number, revpos = 1): AttachmentMeta {
  return { content_type: 'application/octet-stream', digest, length, revpos };
}

/** A document's tree as `getDocs` reads it with `withTree`; empty when the document is unknown. */
export async function treeOf(storage: Storage, id: string): Promise<StoredNode[]> {
  const [record] = await storage.getDocs([id], { withTree: true });
  return record?.tree ?? [];
}

/** Ordering of ids as CouchDB's raw collation sees them: by Unicode code point (= UTF-8 bytes). */
export function compareCodePoints(a: string, b: string): number {
  const left = Array.from(a, (char) => char.codePointAt(0)!);
  const right = Array.from(b, (char) => char.codePointAt(0)!);
  const shared = Math.min(left.length, right.length);
  for (let i = 0; i < shared; i++) {
    const diff = left[i]! - right[i]!;
    if (diff !== 0) return diff;
  }
  return left.length - right.length;
}

/** Every row of a paged scan, in order; a page is never empty. */
export async function collect<T>(pages: AsyncIterable<T[]>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) {
    if (page.length === 0) throw new Error('a scan yielded an empty page');
    all.push(...page);
  }
  return all;
}

/** Zero-padded ids (`doc-00042`) so their id order is their numeric order. */
export function numberedId(n: number): string {
  return `doc-${String(n).padStart(5, '0')}`;
}

/** Orders nodes by rev, since a tree read promises no order. */
export function byRev(nodes: readonly StoredNode[]): StoredNode[] {
  return [...nodes].sort((a, b) => (a.rev < b.rev ? -1 : a.rev > b.rev ? 1 : 0));
}

/** Runs a compaction to its end, step after step, as the database does. */
export async function compactFully(storage: Storage): Promise<void> {
  const steps = storage.compaction();
  while (await steps.step());
}
