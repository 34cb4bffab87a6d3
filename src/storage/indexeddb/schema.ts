/**
 * The IndexedDB layout: an object store per kind of record, each keyed and indexed for the reads
 * Settee makes of it, so that every scan is a walk of one key range (see docs/browser.md).
 *
 * - `docs`: a document's summary and its winner's content, by `idKey(id)` (code-point order).
 *   Indexes: `seq` (the changes feed; not unique since version 2, see `seqNotUnique`),
 *   `conflicted` and `branched` (sparse: a record is in them only while it has the field, so
 *   listing conflicts walks only conflicted documents), and `digests` (multi-entry: the
 *   attachments the winner refers to, for compaction).
 * - `revs`: a node of a revision tree, by [document key, rev], so a tree is one key range —
 *   every node but the winner's, which the document's record holds (its `winner`, `deleted` and
 *   `parent`): a new document is one record, not two. (Records of winners that earlier versions
 *   wrote here are read as the same node.) Indexes: `purgeable` (sparse: non-leaf revisions still
 *   holding content, what compaction drops) and `digests`.
 * - `local`: local documents, by `idKey(id)`. `attachments`: blobs, by digest; `blob_sizes`: their
 *   sizes, by digest, so that compaction counts what it deletes without reading the bytes.
 * - `resolutions`: history entries, by a generated `seq`; index `doc` on [docId, seq].
 * - `indexes`: the registry of secondary indexes, by name; `index_rows`: their rows, by
 *   [index number, key bytes, document key, n] (IndexedDB compares binary keys byte by byte,
 *   which is the order `encodeKey` gives), with index `doc` on [index number, document key].
 * - `meta`: settings; `state`: one record of the counters every write keeps.
 *
 * The layout's version is IndexedDB's own database version; `upgrade` brings an older one here.
 */
import type { AttachmentMeta, LeafRecord } from '../types.js';
import type { IdbDatabase, IdbFactory, IdbObjectStore, IdbTransaction } from './idb.js';

export const SCHEMA_VERSION = 2;

export const STORE = {
  meta: 'meta',
  state: 'state',
  docs: 'docs',
  revs: 'revs',
  local: 'local',
  attachments: 'attachments',
  blobSizes: 'blob_sizes',
  resolutions: 'resolutions',
  indexes: 'indexes',
  indexRows: 'index_rows',
} as const;

/** The key of the one record of `state`. */
export const STATE_KEY = 'state';

export type Attachments = Record<string, AttachmentMeta>;

export interface DocRow {
  key: string;
  id: string;
  seq: number;
  winner: string;
  deleted: boolean;
  /** The winner's parent revision (absent in records of earlier versions: see `revs`). */
  parent?: string | null;
  /** Every leaf, the winner first; null when the winner is the only one. */
  leaves: LeafRecord[] | null;
  body: string | null;
  atts: Attachments | null;
  /** `key`, while a live leaf besides the winner exists: puts the record in index `conflicted`. */
  conflicted?: string;
  /** `key`, while the document has more than one leaf: puts it in index `branched`. */
  branched?: string;
  digests?: string[];
}

export interface RevRow {
  doc: string;
  rev: string;
  parent: string | null;
  deleted: boolean;
  leaf: boolean;
  /** Null when not held (known by id only, compacted) and for the winner (its body is the doc's). */
  body: string | null;
  atts: Attachments | null;
  /** 1 while a non-leaf revision holds content: puts it in index `purgeable`. */
  purgeable?: 1;
  digests?: string[];
}

export interface LocalRow {
  key: string;
  id: string;
  rev: number;
  body: string;
}

export interface BlobRow {
  digest: string;
  data: Uint8Array;
}

export interface ResolutionRow {
  seq?: number;
  docId: string;
  /** JSON {at, by, rev, kept, losers} (records.ts `entryJson`). */
  entry: string;
  digests?: string[];
}

export interface RegistryRow {
  name: string;
  /** Names the index's rows; never given to another index. */
  num: number;
  signature: string;
  seq: number;
  rows: number;
}

export interface IndexRowRecord {
  ix: number;
  key: Uint8Array;
  /** The document's key (`idKey`): rows of equal keys sort by id in code-point order. */
  doc: string;
  n: number;
  docId: string;
  exact: boolean;
  keyJson: string;
  valueJson: string | null;
}

/** The counters every write keeps, in the database so that every tab's connection shares them. */
export interface StateRow {
  docCount: number;
  deletedCount: number;
  updateSeq: number;
  /** Bytes of bodies, attachment metadata and blobs held. */
  contentBytes: number;
  /** Of those, the bytes compaction would drop (content of non-leaf revisions). */
  garbageBytes: number;
  lastIndexNum: number;
}

/** Opens (creating or upgrading) the IndexedDB database `name` of `factory`. */
export async function openDatabase(factory: IdbFactory, name: string): Promise<IdbDatabase> {
  const request = factory.open(name, SCHEMA_VERSION);
  request.onupgradeneeded = (event) => upgrade(request.result, request.transaction!, event.oldVersion);
  const db = await new Promise<IdbDatabase>((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => {
      const error = request.error;
      reject(
        error?.name === 'VersionError'
          ? new Error(
              `The IndexedDB database ${name} has a schema newer than this Settee's (${SCHEMA_VERSION})`,
            )
          : error,
      );
    };
  });
  // Another tab deleting or upgrading the database must not wait for this one to close.
  db.onversionchange = () => db.close();
  return db;
}

/** Brings a database of layout `from` (0: new) to this one, step by step, in the upgrade's transaction. */
function upgrade(db: IdbDatabase, tx: IdbTransaction, from: number): void {
  if (from < 1) createVersion1(db);
  if (from < 2) seqNotUnique(tx.objectStore(STORE.docs));
}

/** The layout of Settee's first IndexedDB databases (exported for the upgrade's test). */
export function createVersion1(db: IdbDatabase): void {
  db.createObjectStore(STORE.meta);
  const state = db.createObjectStore(STORE.state);
  const empty: StateRow = {
    docCount: 0,
    deletedCount: 0,
    updateSeq: 0,
    contentBytes: 0,
    garbageBytes: 0,
    lastIndexNum: 0,
  };
  state.put(empty, STATE_KEY);
  const docs = db.createObjectStore(STORE.docs, { keyPath: 'key' });
  docs.createIndex('seq', 'seq', { unique: true });
  docs.createIndex('conflicted', 'conflicted');
  docs.createIndex('branched', 'branched');
  indexDigests(docs);
  const revs = db.createObjectStore(STORE.revs, { keyPath: ['doc', 'rev'] });
  revs.createIndex('purgeable', 'purgeable');
  indexDigests(revs);
  db.createObjectStore(STORE.local, { keyPath: 'key' });
  db.createObjectStore(STORE.attachments, { keyPath: 'digest' });
  db.createObjectStore(STORE.blobSizes);
  const resolutions = db.createObjectStore(STORE.resolutions, { keyPath: 'seq', autoIncrement: true });
  resolutions.createIndex('doc', ['docId', 'seq']);
  indexDigests(resolutions);
  db.createObjectStore(STORE.indexes, { keyPath: 'name' });
  const rows = db.createObjectStore(STORE.indexRows, { keyPath: ['ix', 'key', 'doc', 'n'] });
  rows.createIndex('doc', ['ix', 'doc']);
}

/**
 * Version 2: the `seq` index no longer checks that sequences are unique — the `state` counter,
 * read and written in every write's transaction, hands each out once —, a check that cost
 * IndexedDB a lookup per document written (5% of a batch's time in Chromium). Rebuilt over the
 * documents there are, once.
 */
function seqNotUnique(docs: IdbObjectStore): void {
  docs.deleteIndex('seq');
  docs.createIndex('seq', 'seq');
}

/** A multi-entry index of the attachment digests records refer to: compaction asks it. */
function indexDigests(store: IdbObjectStore): void {
  store.createIndex('digests', 'digests', { multiEntry: true });
}
