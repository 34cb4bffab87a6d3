import type { StoredNode } from '../core/rev-tree/diff.js';

/**
 * The Storage interface: what a backend must do, and nothing of CouchDB's semantics. The
 * Database computes revision trees, winners and bodies; a backend stores them atomically, hands
 * out update sequences, and scans documents by id and by sequence without holding a whole
 * database in memory. Everything is async so IndexedDB and PostgreSQL backends fit later.
 *
 * It is as small as the database's needs allow, so that a new backend is little work. Each
 * method is one the database cannot build from the others without reading far more:
 * - `getDocs` and `getRevisions`, the reads by id: summaries (with `withTree`, the revision
 *   trees too, which only writes and history reads need) and the bodies of named revisions;
 *   `getRevisionsOf`, the bodies of revisions of many documents in one read, so that a batch
 *   (`_bulk_get`) costs one round trip to a database server rather than one per document.
 * - `writeDocs`, the one atomic write: trees, bodies, blobs, history, sequences and counts.
 * - `changes` and `docs`, the two orders documents are read in (by sequence, by id), in pages.
 * - `conflicts`/`countConflicts` and `resolutions`/`countResolutions`: indexes every write keeps,
 *   since finding conflicted documents or one document's history by scanning would not scale.
 * - `stats`: counts every write keeps (counting by a scan reads the whole database) and the
 *   size on disk, which only the backend knows.
 * - `getMeta`/`setMeta`: settings and identity, neither documents nor replicated.
 * - `putLocal`/`localDocs`: local documents, written without a sequence and, as checkpoints,
 *   without the sync a document write pays.
 * - `getAttachment`, `compaction`, `close` and `destroy`.
 *
 * What the database derives instead: a document's tree is a `getDocs` read `withTree` (its
 * summary comes along in the same read); a local document is a `localDocs` range of one id, and
 * `pending` near the end of a feed counts a bounded `changes` scan (`storage/derived.ts`).
 *
 * Every backend runs the conformance suite in `test/storage/conformance.ts`.
 */
export interface Storage {
  /** Per-database settings and identity (uuid, revs_limit, …). */
  getMeta(key: string): Promise<string | undefined>;
  setMeta(key: string, value: string): Promise<void>;

  /**
   * The summary rows of these documents, in the same order (`undefined` when unknown); with
   * `withTree`, each with every node of its revision tree.
   */
  getDocs(ids: readonly string[], read?: DocsRead): Promise<(FetchedDoc | undefined)[]>;
  /** Bodies of some revisions of a document, in the same order (`undefined` when not held). */
  getRevisions(id: string, revs: readonly string[]): Promise<(RevisionContent | undefined)[]>;
  /**
   * Bodies of revisions of several documents in one read: for each entry, its revisions' contents
   * in the same order (`undefined` when not held), as `getRevisions` reads one document's. An id
   * may appear in several entries.
   */
  getRevisionsOf(wanted: readonly RevisionsWanted[]): Promise<(RevisionContent | undefined)[][]>;

  /**
   * Applies all writes in one atomic transaction. Each write gives its document the next update
   * sequence; the sequences are returned in order. Attachment blobs are stored once per digest.
   * History entries (resolved conflicts) are stored in the same transaction: a resolution and
   * its entry commit or fail together.
   */
  writeDocs(
    writes: readonly DocWrite[],
    blobs?: readonly AttachmentBlob[],
    history?: readonly ResolutionRecord[],
  ): Promise<number[]>;

  /**
   * Documents by update sequence, each once at its latest sequence, after `since`, in pages:
   * a page per read keeps memory flat and spares callers an await per row.
   */
  changes(options: ChangesScan): AsyncIterable<ScannedDoc[]>;
  /** Documents by id in raw code-point order, in pages. */
  docs(options: DocsScan): AsyncIterable<ScannedDoc[]>;
  /**
   * The conflicted documents — those with a live leaf besides the winner (CouchDB's non-empty
   * `_conflicts`), or with `deletedLeaves` every document with more than one leaf — by id in raw
   * code-point order, in pages, from an index kept up to date by every write: never a scan of
   * the whole database.
   */
  conflicts(options: ConflictsScan): AsyncIterable<DocRecord[]>;
  /** How many documents are conflicted, from the same index. */
  countConflicts(): Promise<number>;
  /**
   * The history of resolved conflicts by `seq`, optionally one document's, in pages. Entries
   * are never changed or removed (only `destroy` removes them).
   */
  resolutions(scan: ResolutionsScan): AsyncIterable<StoredResolution[]>;
  /** How many history entries there are, or for one document. */
  countResolutions(docId?: string): Promise<number>;
  /** Document counts and the update sequence as of the last commit, and the size on disk. */
  stats(): Promise<StorageStats>;

  /** Writes (or with `record` null, deletes) a local document. */
  putLocal(id: string, record: LocalRecord | null): Promise<void>;
  /**
   * Local documents by id in raw code-point order, in pages, as `docs` reads documents; a range
   * from an id to itself reads that one document.
   */
  localDocs(options: LocalDocsScan): AsyncIterable<ScannedLocal[]>;

  getAttachment(digest: string): Promise<Uint8Array | undefined>;

  /**
   * Secondary indexes — Mango JSON indexes and map/reduce views alike: each a table of rows
   * sorted by their key's bytes, then document id, that the database brings up to date from the
   * changes feed (`seq` is how far). A backend keeps them as real sorted indexes (a B-tree for
   * SQLite) and never computes keys: the database encodes them (`core/mango/key-encoding.ts`).
   */
  indexes(): Promise<IndexState[]>;
  /**
   * The index named `name`, created empty when absent. One stored with a different signature
   * (its definition or the key encoding changed) is emptied and starts again from sequence 0.
   */
  openIndex(name: string, signature: string): Promise<IndexState>;
  /**
   * In one atomic write: replaces every row of each listed document by its new rows (none: the
   * document leaves the index) and advances the index to `seq`. Index writes skip the sync a
   * document write pays: an index lost to a power cut is rebuilt from the documents.
   */
  updateIndex(name: string, update: IndexUpdate): Promise<void>;
  /** An index's rows within a byte range of keys, by key then document id, in pages. */
  scanIndex(name: string, scan: IndexScan): AsyncIterable<IndexRow[]>;
  /** Removes an index and its rows (nothing happens when absent). */
  dropIndex(name: string): Promise<void>;
  /**
   * The documents with a row in an index's byte range that changed after `since`, each once at
   * its latest sequence, by sequence, with their winning content, in pages: what a changes feed
   * filtered by a selector reads when an index serves the selector, instead of every change.
   * Resolves to `undefined` when the range holds more than `maxRows` rows: reading it would cost
   * more than the caller saves (and the list of documents would not stay small).
   */
  indexChanges(name: string, scan: IndexChangesScan): Promise<IndexChanges | undefined>;

  /**
   * A compaction, run one bounded step at a time: it drops bodies of non-leaf revisions and
   * attachments that neither a stored body nor a history entry's losers refer to, and gives the
   * space back to the disk. The database interleaves the steps with its writes (one write-queue
   * turn per step), so a backend never blocks reads or writes for a whole compaction, and each
   * step must be atomic: a crash between or during steps loses nothing. A backend that has
   * nothing to do in steps may do everything in its first.
   */
  compaction(): CompactionSteps;
  close(): Promise<void>;
  /** Closes and deletes everything this storage holds. */
  destroy(): Promise<void>;
  /**
   * Calls `listener` after each write to this database that another process committed (another
   * server on the same PostgreSQL), so that the database's live feeds and caches follow it;
   * returns the call that stops it. Absent from a backend that one process owns alone (SQLite
   * holds its file's lock), where every write passes through the one `Database`.
   */
  onExternalWrite?(listener: (write: ExternalWrite) => void): () => void;
  /**
   * Runs `work` with every other writer of this database held off: `locked` reads what the last
   * commit left and its `writeDocs` joins one transaction that commits when `work` resolves (or
   * writes nothing when it throws). For a write refused as stale (`StaleWriteError`) that must not
   * lose the race again — a replicated revision, which always adds to the tree — against writers
   * of other processes that never pause. Use `locked` alone inside `work`: this storage could wait
   * for the lock `work` holds. Absent where one process owns the database (nothing goes stale).
   */
  exclusively?<T>(work: (locked: Storage) => Promise<T>): Promise<T>;
}

/** A write another process committed to a database (see `Storage.onExternalWrite`). */
export interface ExternalWrite {
  /** The update sequence the database reached with it. */
  seq: number;
  /** The documents it wrote; absent when unknown (too many to tell): any of them may have changed. */
  ids?: readonly string[];
}

/** A document's summary row. */
export interface DocRecord {
  id: string;
  seq: number;
  /** The winning revision. */
  winner: string;
  /** True when the winner is a tombstone. */
  deleted: boolean;
  /** Every leaf, the winner first, in descending winner order. */
  leaves: LeafRecord[];
}

/** How `getDocs` reads. */
export interface DocsRead {
  /** Read each document's revision tree too: what a write or a read of history needs. */
  withTree?: boolean;
}

/** Some revisions of one document, as `getRevisionsOf` reads them. */
export interface RevisionsWanted {
  id: string;
  revs: readonly string[];
}

/** A summary row as `getDocs` reads it: its tree only when asked for. */
export interface FetchedDoc extends DocRecord {
  /** Every node of the revision tree, without bodies, in no particular order. */
  tree?: StoredNode[];
}

export interface LeafRecord {
  rev: string;
  deleted: boolean;
}

/** Attachment metadata kept with a revision; bytes are stored once per digest. */
export interface AttachmentMeta {
  content_type: string;
  digest: string;
  length: number;
  revpos: number;
}

export interface RevisionContent {
  /** The body as JSON text (reserved `_` fields excluded). */
  body: string;
  attachments: Record<string, AttachmentMeta> | undefined;
}

/** A tree node being added, with its content when the writer supplies one. */
export interface NodeWrite extends StoredNode {
  content?: RevisionContent;
}

/** A stored tree node whose place changed (parent, leaf, deleted), and maybe its content. */
export interface ChangedNode extends StoredNode {
  /**
   * The revision's content (body and attachments) goes with this write while its row stays (its
   * `hasBody` is false): a linear document's previous revision, as it becomes an ancestor. A
   * backend drops it in place, in the same update of the row, rather than removing the row and
   * adding it again.
   */
  dropContent?: boolean;
}

/** One document's change: its new summary and the tree rows that changed. */
export interface DocWrite {
  record: Omit<DocRecord, 'seq'>;
  /**
   * The document's sequence when the write was computed from its tree: `0` when it did not
   * exist, absent to skip the check. A backend that other processes write too (several servers
   * on one PostgreSQL) checks it under the document's lock and fails the whole call with a
   * `StaleWriteError` when the document has moved on, so the database reads it again and
   * recomputes: a write is never computed from a tree another server has since changed.
   */
  base?: number;
  added: NodeWrite[];
  removed: string[];
  changed: ChangedNode[];
}

export interface AttachmentBlob {
  digest: string;
  data: Uint8Array;
}

export interface ChangesScan {
  since: number;
  descending?: boolean;
  limit?: number;
  /** Join the winning revision's content. */
  withContent?: boolean;
}

/** Ids from `start` to `end` in raw code-point order, or the reverse: what an id scan reads. */
export interface IdRange {
  /** First id (inclusive) in scan order. */
  start?: string;
  /** Last id in scan order. */
  end?: string;
  inclusiveEnd?: boolean;
  descending?: boolean;
}

export interface DocsScan extends IdRange {
  /** Join the winning revision's content. */
  withContent?: boolean;
}

export interface LocalDocsScan extends IdRange {
  /** Read each body too. */
  withBody?: boolean;
}

export interface ConflictsScan {
  /** First id (inclusive). */
  start?: string;
  limit?: number;
  /**
   * Deleted leaves count too: every document with more than one leaf, live or deleted, not only
   * the conflicted ones — what an automatic resolver's sweep must visit, since a stamped deletion
   * may be later than the live leaf beside it. From an index as well, never a whole scan.
   */
  deletedLeaves?: boolean;
}

export interface ScannedDoc extends DocRecord {
  /** The winner's content, when asked for and held. */
  content?: RevisionContent;
}

export interface StorageStats {
  docCount: number;
  deletedCount: number;
  updateSeq: number;
  /** Bytes on disk: every file of the database (a SQLite file's write-ahead log included). */
  fileSize: number;
  /**
   * Bytes of live data: what the files would hold after a compaction (CouchDB's `sizes.active`),
   * so that `fileSize - activeSize` is what compacting would give back.
   */
  activeSize: number;
}

/** One compaction under way (see `Storage.compaction`). */
export interface CompactionSteps {
  /** Does one bounded, atomic step; resolves to false once the compaction is complete. */
  step(): Promise<boolean>;
  /** How far the compaction is, from 0 to 1. */
  readonly progress: number;
}

export interface LocalRecord {
  /** The counter N of revision `0-N`. */
  rev: number;
  body: string;
}

/** A local document as a scan reads it: its body only when asked for. */
export interface ScannedLocal {
  id: string;
  rev: number;
  body?: string;
}

/** One resolved conflict as history keeps it. */
export interface ResolutionRecord {
  /** The document. */
  docId: string;
  /** When, as an ISO-8601 string (the caller's clock). */
  at: string;
  /** Who or what resolved it: e.g. "user:anna" or "resolver:last-writer-wins". */
  by: string;
  /** The revision the document has after the resolution. */
  rev: string;
  /** The leaf the resolution continued. */
  kept: string;
  /**
   * The versions whose content the resolution discarded, with their bodies as JSON text and
   * attachment metadata: each replaced live leaf (the kept one included, when a different body or
   * a deletion was written over it) unless the result equals it.
   */
  losers: { rev: string; body: string; attachments?: Record<string, AttachmentMeta> }[];
}

export interface StoredResolution extends ResolutionRecord {
  /** Position in the history, increasing. */
  seq: number;
}

export interface ResolutionsScan {
  docId?: string;
  /** only entries with seq > after (ascending) or < after (descending) */
  after?: number;
  descending?: boolean;
  limit?: number;
}

/** An index as the storage keeps it. */
export interface IndexState {
  name: string;
  signature: string;
  /** The update sequence the index reflects: documents changed after it are not in it yet. */
  seq: number;
  /** How many rows the index holds. */
  rows: number;
}

/** One row a document puts in an index. */
export interface IndexEntry {
  /**
   * The key's bytes: rows sort by them (memcmp order). They are `encodeKey` of the key
   * (core/mango/key-encoding.ts): when `exact`, a backend may rebuild them from `keyJson`
   * instead of reading them back.
   */
  key: Uint8Array;
  /** False when the bytes only place the key near its neighbours (see `encodeKey`). */
  exact: boolean;
  /** The key itself, as JSON. */
  keyJson: string;
  /** The value, as JSON; null for indexes without values (Mango's). */
  valueJson: string | null;
}

/** An index row as a scan reads it. */
export interface IndexRow extends IndexEntry {
  docId: string;
  /** The document's summary and winning content, with `withDocs` (absent if gone since). */
  doc?: ScannedDoc;
}

export interface IndexUpdate {
  /** The update sequence the index reflects after this write. */
  seq: number;
  /** Each document's complete set of rows (an empty list removes the document). */
  docs: { id: string; rows: IndexEntry[] }[];
}

export interface IndexScan {
  /** The first key in scan order (inclusive); absent: from the start. */
  start?: Uint8Array;
  /** The last key in scan order; absent: to the end. */
  end?: Uint8Array;
  /** Whether rows whose key equals `end` are read. Default true. */
  inclusiveEnd?: boolean;
  descending?: boolean;
  /** Join each row's document (summary and winning content). */
  withDocs?: boolean;
  limit?: number;
  /**
   * Rows of the first read, when the caller expects to need only a few (a query's limit); later
   * reads take the backend's page size. A hint: it changes no result.
   */
  firstPage?: number;
}

export interface IndexChangesScan {
  /** The byte range of keys (both ends inclusive; absent: open). */
  start?: Uint8Array;
  end?: Uint8Array;
  since: number;
  /** Above this many rows in the range, answer `undefined`. */
  maxRows: number;
}

export interface IndexChanges {
  /**
   * The update sequence the documents were chosen at: a change after it is not among them (a
   * feed that ends here goes on from this sequence and misses nothing).
   */
  asOf: number;
  docs: AsyncIterable<ScannedDoc[]>;
}
