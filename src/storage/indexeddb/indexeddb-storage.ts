import { SetteeError } from '../../core/errors.js';
import { onDemand } from '../../core/on-demand.js';
import { keysetPages } from '../paging.js';
import type {
  AttachmentBlob,
  ChangesScan,
  CompactionSteps,
  ConflictsScan,
  DocRecord,
  DocsRead,
  DocsScan,
  DocWrite,
  FetchedDoc,
  IdRange,
  IndexChanges,
  IndexChangesScan,
  IndexRow,
  IndexScan,
  IndexState,
  IndexUpdate,
  LocalDocsScan,
  LocalRecord,
  ResolutionRecord,
  ResolutionsScan,
  RevisionContent,
  RevisionsWanted,
  ScannedDoc,
  ScannedLocal,
  Storage,
  StorageStats,
  StoredResolution,
} from '../types.js';
import { fetchDocs, readForWrite, revisions } from './doc-reads.js';
import {
  completing,
  type IdbDatabase,
  type IdbFactory,
  type IdbQuery,
  type IdbSource,
  type IdbTransaction,
  indexedDb,
  inTransaction,
  readPage,
  isInactive,
  requested,
} from './idb.js';
import type { IndexStores } from './indexes.js';
import { EMPTY, idKey, idPageRange, keyRange } from './keys.js';
import { toRecord, toScanned } from './rows.js';
import {
  type DocRow,
  type LocalRow,
  openDatabase,
  type ResolutionRow,
  STATE_KEY,
  STORE,
  type StateRow,
} from './schema.js';
import { type ReadForWrite, WRITE_STORES, writeBatch } from './writes.js';

export interface IndexedDbStorageOptions {
  /**
   * The IndexedDB to open the database in; by default the page's. A storage bucket's
   * (`(await navigator.storageBuckets.open('settee', { persisted: true })).indexedDB`) keeps the
   * database apart from the site's other data, with a quota and persistence of its own.
   */
  indexedDB?: IdbFactory;
}

// Records read per request when scanning: large enough to amortize a request's round trip,
// small enough that a scan of any database keeps memory flat.
const PAGE_SIZE = 512;

// Index rows (Mango indexes, views) and compaction come with their first use: a page that only
// stores and syncs documents never fetches them (test/browser/bundle.test.ts).
const indexesModule = onDemand(() => import('./indexes.js'));
const compactionModule = onDemand(() => import('./compaction.js'));

/**
 * The browser's backend: one IndexedDB database per Settee database, of the same name. Every
 * counter lives in the database (no copy in memory), so several tabs may hold it open at once:
 * IndexedDB runs their readwrite transactions one at a time. Layout: `schema.ts`; the write of
 * a batch: `writes.ts`.
 *
 * @example
 * const storage = await IndexedDbStorage.open('shop');
 * const db = Database.fromStorage(storage);
 */
export class IndexedDbStorage implements Storage {
  private indexStoresLoading: Promise<IndexStores> | undefined;
  /** The last read of trees, in the readwrite transaction a write may use (`getDocs`). */
  private lastTreeRead: ReadForWrite | undefined;
  private closed = false;

  private constructor(
    /** The IndexedDB database's name. */
    readonly name: string,
    private readonly db: IdbDatabase,
    private readonly factory: IdbFactory,
  ) {
    const close = db.onversionchange;
    // Another tab deletes or upgrades the database: this connection closes and says so after.
    db.onversionchange = () => {
      this.closed = true;
      close?.();
    };
  }

  /** Opens the IndexedDB database `name`, creating it (or bringing an older layout up to date). */
  static async open(name: string, options: IndexedDbStorageOptions = {}): Promise<IndexedDbStorage> {
    const factory = options.indexedDB ?? indexedDb().factory;
    return new IndexedDbStorage(name, await openDatabase(factory, name), factory);
  }

  /** The connection, or a typed error once it is closed (a transaction would throw a DOMException). */
  private open(): IdbDatabase {
    if (this.closed) throw new SetteeError('unavailable', `The database ${this.name} is closed`);
    return this.db;
  }

  private read<T>(stores: readonly string[], work: (tx: IdbTransaction) => Promise<T>): Promise<T> {
    return inTransaction(this.open(), stores, 'readonly', work);
  }

  async getMeta(key: string): Promise<string | undefined> {
    return this.read([STORE.meta], (tx) => requested(tx.objectStore(STORE.meta).get(key))) as Promise<
      string | undefined
    >;
  }

  async setMeta(key: string, value: string): Promise<void> {
    await inTransaction(this.open(), [STORE.meta], 'readwrite', (tx) => {
      tx.objectStore(STORE.meta).put(value, key);
    });
  }

  /**
   * Summaries are read in a readonly transaction. Trees are read in a readwrite one, which stays
   * usable for the write the database computes from them (its computing awaits no other task):
   * `writeDocs` then writes in it, and a batch of writes is one transaction (`doc-reads.ts`).
   */
  async getDocs(ids: readonly string[], read: DocsRead = {}): Promise<(FetchedDoc | undefined)[]> {
    if (ids.length === 0) return [];
    const keys = ids.map(idKey);
    if (read.withTree !== true) return this.read([STORE.docs], (tx) => fetchDocs(tx, keys));
    const { fetched, done } = await readForWrite(this.open(), keys);
    this.lastTreeRead = done;
    return fetched;
  }

  getRevisions(id: string, revs: readonly string[]): Promise<(RevisionContent | undefined)[]> {
    return this.getRevisionsOf([{ id, revs }]).then(([contents]) => contents!);
  }

  async getRevisionsOf(wanted: readonly RevisionsWanted[]): Promise<(RevisionContent | undefined)[][]> {
    if (wanted.length === 0) return [];
    return this.read([STORE.docs, STORE.revs], (tx) =>
      Promise.all(wanted.map(({ id, revs }) => revisions(tx, idKey(id), revs))),
    );
  }

  async writeDocs(
    writes: readonly DocWrite[],
    blobs: readonly AttachmentBlob[] = [],
    history: readonly ResolutionRecord[] = [],
  ): Promise<number[]> {
    if (writes.length === 0 && blobs.length === 0 && history.length === 0) return [];
    const done = this.takeReadForWrite(writes);
    if (done) {
      try {
        return await completing(done.tx, (tx) => writeBatch(tx, writes, blobs, history, done));
      } catch (error) {
        // Its first request found the transaction over (the caller awaited another task between
        // its read and its write): nothing was written there. Otherwise the write failed.
        if (!isInactive(error)) throw error;
      }
    }
    return inTransaction(this.open(), WRITE_STORES, 'readwrite', (tx) =>
      writeBatch(tx, writes, blobs, history),
    );
  }

  /**
   * The last read of trees, when it read every document of `writes`: unless its transaction is
   * over, nothing has changed them since, and the write goes in that transaction. Taken once: a
   * second write would find the rows it read already changed.
   */
  private takeReadForWrite(writes: readonly DocWrite[]): ReadForWrite | undefined {
    const done = this.lastTreeRead;
    this.lastTreeRead = undefined;
    if (!done || !writes.every((write) => done.docs.has(idKey(write.record.id)))) return undefined;
    return done;
  }

  changes(options: ChangesScan): AsyncIterable<ScannedDoc[]> {
    const descending = options.descending === true;
    return this.pages<DocRow, number, ScannedDoc>(
      [STORE.docs],
      (tx) => tx.objectStore(STORE.docs).index('seq'),
      (after) => {
        const since = { key: options.since, open: true };
        if (!descending) return keyRange(after === undefined ? since : { key: after, open: true }, undefined);
        return keyRange(since, after === undefined ? undefined : { key: after, open: true });
      },
      { descending, limit: options.limit },
      (row) => row.seq,
      (row) => toScanned(row, options.withContent),
    );
  }

  docs(options: DocsScan): AsyncIterable<ScannedDoc[]> {
    return this.idPages(STORE.docs, options, (row: DocRow) => toScanned(row, options.withContent));
  }

  localDocs(options: LocalDocsScan): AsyncIterable<ScannedLocal[]> {
    return this.idPages(STORE.local, options, (row: LocalRow) =>
      options.withBody ? { id: row.id, rev: row.rev, body: row.body } : { id: row.id, rev: row.rev },
    );
  }

  private idPages<Row extends { id: string }, Out>(
    store: string,
    range: IdRange,
    convert: (row: Row) => Out,
  ): AsyncIterable<Out[]> {
    return this.pages<Row, string, Out>(
      [store],
      (tx) => tx.objectStore(store),
      (after) => idPageRange(range, after),
      { descending: range.descending === true },
      (row) => row.id,
      convert,
    );
  }

  conflicts(options: ConflictsScan): AsyncIterable<DocRecord[]> {
    const index = options.deletedLeaves ? 'branched' : 'conflicted';
    return this.pages<DocRow, string, DocRecord>(
      [STORE.docs],
      (tx) => tx.objectStore(STORE.docs).index(index),
      (after) => idPageRange({ start: options.start }, after),
      { descending: false, limit: options.limit },
      (row) => row.id,
      toRecord,
    );
  }

  async countConflicts(): Promise<number> {
    return this.read([STORE.docs], (tx) => requested(tx.objectStore(STORE.docs).index('conflicted').count()));
  }

  resolutions(scan: ResolutionsScan): AsyncIterable<StoredResolution[]> {
    const descending = scan.descending === true;
    const { docId } = scan;
    const from = scan.after ?? (descending ? Infinity : 0);
    return this.pages<ResolutionRow, number, StoredResolution>(
      [STORE.resolutions],
      (tx) => {
        const store = tx.objectStore(STORE.resolutions);
        return docId === undefined ? store : store.index('doc');
      },
      (after) => {
        // By seq alone, or within one document's part of index `doc`: [docId, seq].
        const key = (seq: number) => (docId === undefined ? seq : [docId, seq]);
        const start = { key: key(after ?? from), open: true };
        const edge = { key: key(descending ? -Infinity : Infinity), open: false };
        return descending ? keyRange(edge, start) : keyRange(start, edge);
      },
      { descending, limit: scan.limit },
      (row) => row.seq!,
      (row) => ({
        docId: row.docId,
        ...(JSON.parse(row.entry) as Omit<ResolutionRecord, 'docId'>),
        seq: row.seq!,
      }),
    );
  }

  async countResolutions(docId?: string): Promise<number> {
    return this.read([STORE.resolutions], (tx) => {
      const store = tx.objectStore(STORE.resolutions);
      if (docId === undefined) return requested(store.count());
      const range = keyRange(
        { key: [docId, -Infinity], open: false },
        { key: [docId, Infinity], open: false },
      );
      return requested(store.index('doc').count(range === EMPTY ? null : range));
    });
  }

  /**
   * A keyset scan, a page per readonly transaction: `range(after)` is the keys of the page after
   * the row keyed `after` (the scan's own start when undefined).
   */
  private pages<Row, Key, Out>(
    stores: readonly string[],
    source: (tx: IdbTransaction) => IdbSource,
    range: (after: Key | undefined) => IdbQuery | typeof EMPTY,
    scan: { descending: boolean; limit?: number },
    keyOf: (row: Row) => Key,
    convert: (row: Row) => Out,
  ): AsyncIterable<Out[]> {
    const rows = keysetPages<Row, Key>(
      (after, count) => {
        const keys = range(after);
        if (keys === EMPTY) return [];
        return this.read(stores, (tx) => readPage<Row>(source(tx), keys, scan.descending, count));
      },
      keyOf,
      { pageSize: PAGE_SIZE, limit: scan.limit },
    );
    return mapPages(rows, convert);
  }

  /**
   * The counts every write keeps. There is no file: the sizes are the bytes of content held
   * (bodies, attachment metadata, blobs), and the live ones less what compaction would drop.
   */
  async stats(): Promise<StorageStats> {
    const state = (await this.read([STORE.state], (tx) =>
      requested(tx.objectStore(STORE.state).get(STATE_KEY)),
    )) as StateRow;
    return {
      docCount: state.docCount,
      deletedCount: state.deletedCount,
      updateSeq: state.updateSeq,
      fileSize: Math.max(0, state.contentBytes),
      activeSize: Math.max(0, state.contentBytes - state.garbageBytes),
    };
  }

  /** Local documents are checkpoints: losing the newest to a power cut only re-reads a batch. */
  async putLocal(id: string, record: LocalRecord | null): Promise<void> {
    await inTransaction(
      this.open(),
      [STORE.local],
      'readwrite',
      (tx) => {
        const store = tx.objectStore(STORE.local);
        const key = idKey(id);
        if (record === null) store.delete(key);
        else store.put({ key, id, rev: record.rev, body: record.body } satisfies LocalRow);
      },
      'relaxed',
    );
  }

  async getAttachment(digest: string): Promise<Uint8Array | undefined> {
    const row = (await this.read([STORE.attachments], (tx) =>
      requested(tx.objectStore(STORE.attachments).get(digest)),
    )) as { data: Uint8Array } | undefined;
    return row?.data;
  }

  async indexes(): Promise<IndexState[]> {
    return (await this.indexStores()).all();
  }

  async openIndex(name: string, signature: string): Promise<IndexState> {
    return (await this.indexStores()).open(name, signature);
  }

  async updateIndex(name: string, update: IndexUpdate): Promise<void> {
    return (await this.indexStores()).update(name, update);
  }

  async *scanIndex(name: string, scan: IndexScan): AsyncIterable<IndexRow[]> {
    yield* (await this.indexStores()).scan(name, scan);
  }

  async dropIndex(name: string): Promise<void> {
    return (await this.indexStores()).drop(name);
  }

  async indexChanges(name: string, scan: IndexChangesScan): Promise<IndexChanges | undefined> {
    return (await this.indexStores()).changes(name, scan);
  }

  /** The index rows' stores, once their code is loaded (a failed load is tried again next time). */
  private indexStores(): Promise<IndexStores> {
    this.indexStoresLoading ??= indexesModule().then(
      ({ IndexStores }) => new IndexStores(() => this.open()),
      (error: unknown) => {
        this.indexStoresLoading = undefined;
        throw error;
      },
    );
    return this.indexStoresLoading;
  }

  compaction(): CompactionSteps {
    let steps: CompactionSteps | undefined;
    return {
      get progress() {
        return steps?.progress ?? 0;
      },
      step: async () => {
        steps ??= new (await compactionModule()).IndexedDbCompaction(() => this.open());
        return steps.step();
      },
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.db.close();
  }

  /** Closes and deletes the IndexedDB database; other tabs' connections are asked to close. */
  async destroy(): Promise<void> {
    await this.close();
    await requested(this.factory.deleteDatabase(this.name));
  }
}

async function* mapPages<Row, Out>(
  pages: AsyncIterable<Row[]>,
  convert: (row: Row) => Out,
): AsyncGenerator<Out[]> {
  for await (const page of pages) yield page.map(convert);
}
