/**
 * Secondary indexes in IndexedDB: a registry record per index and one store of every index's
 * rows, keyed [index number, key bytes, document key, n]. IndexedDB compares binary keys byte by
 * byte (memcmp, shorter prefix first), the order `encodeKey` makes CouchDB's collation, so a
 * range of keys is a range of the store; index `doc` finds a document's rows when it changes.
 */
import { keysetPages } from '../paging.js';
import type {
  IndexChanges,
  IndexChangesScan,
  IndexRow,
  IndexScan,
  IndexState,
  IndexUpdate,
  ScannedDoc,
} from '../types.js';
import {
  type IdbDatabase,
  type IdbKey,
  type IdbTransaction,
  inTransaction,
  readPage,
  requested,
} from './idb.js';
import { type Bound, EMPTY, idKey, keyRange } from './keys.js';
import { toScanned } from './rows.js';
import {
  type DocRow,
  type IndexRowRecord,
  type RegistryRow,
  STATE_KEY,
  STORE,
  type StateRow,
} from './schema.js';
import { ownBytes } from './writes.js';

/** Rows per read of an index scan, as for document scans: memory stays flat. */
const PAGE_SIZE = 512;

/** An array key past every [num, key, doc, n] of index `num`: arrays sort after binary keys. */
const AFTER_ALL: IdbKey = [];

type ScannedRow = { record: IndexRowRecord; doc?: DocRow };

export class IndexStores {
  constructor(private readonly db: () => IdbDatabase) {}

  async all(): Promise<IndexState[]> {
    const rows = await inTransaction(this.db(), [STORE.indexes], 'readonly', (tx) =>
      requested(tx.objectStore(STORE.indexes).getAll()),
    );
    return (rows as RegistryRow[]).map(toState);
  }

  open(name: string, signature: string): Promise<IndexState> {
    const stores = [STORE.indexes, STORE.indexRows, STORE.state];
    return inTransaction(this.db(), stores, 'readwrite', async (tx) => {
      const found = await registry(tx, name);
      if (found && found.signature === signature) return toState(found);
      if (found) tx.objectStore(STORE.indexRows).delete(rowsOf(found.num));
      const state = (await requested(tx.objectStore(STORE.state).get(STATE_KEY))) as StateRow;
      const created: RegistryRow = { name, num: ++state.lastIndexNum, signature, seq: 0, rows: 0 };
      tx.objectStore(STORE.state).put(state, STATE_KEY);
      tx.objectStore(STORE.indexes).put(created);
      return toState(created);
    });
  }

  /** Index writes skip the sync a document write pays: a lost one is rebuilt from the documents. */
  update(name: string, update: IndexUpdate): Promise<void> {
    const stores = [STORE.indexes, STORE.indexRows];
    return inTransaction(
      this.db(),
      stores,
      'readwrite',
      async (tx) => {
        const index = await required(tx, name);
        const rowStore = tx.objectStore(STORE.indexRows);
        // A document listed twice keeps its last rows, as if applied in turn.
        const docs = [...new Map(update.docs.map((doc) => [doc.id, doc])).values()];
        const old = await Promise.all(
          docs.map((doc) => requested(rowStore.index('doc').getAllKeys([index.num, idKey(doc.id)]))),
        );
        let rows = index.rows;
        for (const [i, doc] of docs.entries()) {
          for (const key of old[i]!) rowStore.delete(key);
          const docKey = idKey(doc.id);
          for (const [n, entry] of doc.rows.entries()) {
            const { exact, keyJson, valueJson } = entry;
            const record: IndexRowRecord = {
              ix: index.num,
              key: ownBytes(entry.key),
              doc: docKey,
              n,
              docId: doc.id,
              exact,
              keyJson,
              valueJson,
            };
            rowStore.put(record);
          }
          rows += doc.rows.length - old[i]!.length;
        }
        tx.objectStore(STORE.indexes).put({ ...index, seq: update.seq, rows });
      },
      'relaxed',
    );
  }

  scan(name: string, scan: IndexScan): AsyncIterable<IndexRow[]> {
    return this.rowsIn(name, scan);
  }

  private async *rowsIn(name: string, scan: IndexScan): AsyncGenerator<IndexRow[]> {
    let num: number | undefined;
    const stores = scan.withDocs
      ? [STORE.indexes, STORE.indexRows, STORE.docs]
      : [STORE.indexes, STORE.indexRows];
    const pages = keysetPages<ScannedRow, IdbKey>(
      (after, count) =>
        inTransaction(this.db(), stores, 'readonly', async (tx) => {
          num ??= (await required(tx, name)).num;
          const range = scanRange(num, scan, after);
          if (range === EMPTY) return [];
          const records = await readPage<IndexRowRecord>(
            tx.objectStore(STORE.indexRows),
            range,
            scan.descending === true,
            count,
          );
          return scan.withDocs ? withDocs(tx, records) : records.map((record) => ({ record }));
        }),
      ({ record }) => [record.ix, record.key, record.doc, record.n],
      { pageSize: PAGE_SIZE, limit: scan.limit, firstPageSize: scan.firstPage },
    );
    for await (const page of pages) yield page.map(toIndexRow);
  }

  drop(name: string): Promise<void> {
    return inTransaction(this.db(), [STORE.indexes, STORE.indexRows], 'readwrite', async (tx) => {
      const found = await registry(tx, name);
      if (!found) return;
      tx.objectStore(STORE.indexRows).delete(rowsOf(found.num));
      tx.objectStore(STORE.indexes).delete(name);
    });
  }

  /**
   * In one transaction (a consistent snapshot): the range's row keys, at most `maxRows + 1` of
   * them, then the documents they name that changed after `since`; then those documents in
   * pages by sequence. A document changed since the snapshot is at a later sequence: a page
   * skips it.
   */
  async changes(name: string, scan: IndexChangesScan): Promise<IndexChanges | undefined> {
    const stores = [STORE.indexes, STORE.indexRows, STORE.docs, STORE.state];
    const found = await inTransaction(this.db(), stores, 'readonly', async (tx) => {
      const { num } = await required(tx, name);
      const lower: Bound = { key: scan.start === undefined ? [num] : [num, scan.start], open: false };
      const upper: Bound = {
        key: scan.end === undefined ? [num, AFTER_ALL] : [num, scan.end, AFTER_ALL],
        open: false,
      };
      const range = keyRange(lower, upper);
      const keys =
        range === EMPTY
          ? []
          : await requested(tx.objectStore(STORE.indexRows).getAllKeys(range, scan.maxRows + 1));
      if (keys.length > scan.maxRows) return undefined;
      const docKeys = [...new Set(keys.map((key) => (key as IdbKey[])[2] as string))];
      const docs = tx.objectStore(STORE.docs);
      const [state, rows] = await Promise.all([
        requested(tx.objectStore(STORE.state).get(STATE_KEY)) as Promise<StateRow>,
        Promise.all(docKeys.map((key) => requested(docs.get(key)) as Promise<DocRow | undefined>)),
      ]);
      const seqs = rows.flatMap((row) => (row && row.seq > scan.since ? [row.seq] : []));
      return { asOf: state.updateSeq, seqs: seqs.sort((a, b) => a - b) };
    });
    return found && { asOf: found.asOf, docs: this.docsAt(found.seqs) };
  }

  private async *docsAt(seqs: readonly number[]): AsyncGenerator<ScannedDoc[]> {
    for (let at = 0; at < seqs.length; at += PAGE_SIZE) {
      const page = seqs.slice(at, at + PAGE_SIZE);
      const rows = await inTransaction(this.db(), [STORE.docs], 'readonly', (tx) => {
        const bySeq = tx.objectStore(STORE.docs).index('seq');
        return Promise.all(page.map((seq) => requested(bySeq.get(seq)) as Promise<DocRow | undefined>));
      });
      const docs = rows.flatMap((row) => (row ? [toScanned(row, true)] : []));
      if (docs.length > 0) yield docs;
    }
  }
}

async function registry(tx: IdbTransaction, name: string): Promise<RegistryRow | undefined> {
  return (await requested(tx.objectStore(STORE.indexes).get(name))) as RegistryRow | undefined;
}

async function required(tx: IdbTransaction, name: string): Promise<RegistryRow> {
  const found = await registry(tx, name);
  if (!found) throw new Error(`No index named ${name} (open it first)`);
  return found;
}

/** Every row of index `num`. */
function rowsOf(num: number) {
  const range = keyRange({ key: [num], open: false }, { key: [num, AFTER_ALL], open: false });
  if (range === EMPTY || range === null) throw new Error('unreachable: an index’s range is never empty');
  return range;
}

/**
 * The keys one page of a scan reads: from its start (or after the last row read) to its end, in
 * its direction. A row's key [num, key, doc, n] sorts after [num, key] and before
 * [num, key, AFTER_ALL], which is how an end includes or leaves out the rows of its key.
 */
function scanRange(num: number, scan: IndexScan, after: IdbKey | undefined) {
  const descending = scan.descending === true;
  const from: Bound =
    after !== undefined
      ? { key: after, open: true }
      : scan.start === undefined
        ? { key: descending ? [num, AFTER_ALL] : [num], open: false }
        : { key: descending ? [num, scan.start, AFTER_ALL] : [num, scan.start], open: false };
  const inclusive = scan.inclusiveEnd !== false;
  const to: Bound =
    scan.end === undefined
      ? { key: descending ? [num] : [num, AFTER_ALL], open: false }
      : descending
        ? inclusive
          ? { key: [num, scan.end], open: false }
          : { key: [num, scan.end, AFTER_ALL], open: true }
        : inclusive
          ? { key: [num, scan.end, AFTER_ALL], open: false }
          : { key: [num, scan.end], open: true };
  return descending ? keyRange(to, from) : keyRange(from, to);
}

async function withDocs(tx: IdbTransaction, records: IndexRowRecord[]): Promise<ScannedRow[]> {
  const docs = tx.objectStore(STORE.docs);
  const rows = await Promise.all(
    records.map((record) => requested(docs.get(record.doc)) as Promise<DocRow | undefined>),
  );
  return records.map((record, i) => ({ record, doc: rows[i] }));
}

function toIndexRow({ record, doc }: ScannedRow): IndexRow {
  const row: IndexRow = {
    key: record.key,
    exact: record.exact,
    keyJson: record.keyJson,
    valueJson: record.valueJson,
    docId: record.docId,
  };
  if (doc) row.doc = toScanned(doc, true);
  return row;
}

function toState(row: RegistryRow): IndexState {
  return { name: row.name, signature: row.signature, seq: row.seq, rows: row.rows };
}
