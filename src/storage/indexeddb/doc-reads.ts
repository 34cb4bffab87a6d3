/**
 * Reads of documents by id: their summaries, their trees, some revisions' contents. A read of
 * trees is what a write makes first (`Database.bulkDocs` reads the trees of a batch, computes it,
 * then writes it), so it is made in a readwrite transaction that the write can then use as well
 * (`readForWrite`): a batch is one transaction, and its write reads nothing again.
 */
import type { FetchedDoc, RevisionContent } from '../types.js';
import { type ManyRead, readMany } from './batch-reads.js';
import { type IdbDatabase, type IdbQuery, type IdbTransaction, requested } from './idb.js';
import { EMPTY, keyRange } from './keys.js';
import { toContent, toNode, toRecord, winnerRevRow } from './rows.js';
import { type DocRow, type RevRow, STATE_KEY, STORE, type StateRow } from './schema.js';
import { type ReadForWrite, WRITE_STORES } from './writes.js';

/** Documents' summaries in `tx`, by key, in a few requests whatever their number. */
export async function fetchDocs(
  tx: IdbTransaction,
  keys: readonly string[],
): Promise<(FetchedDoc | undefined)[]> {
  const docs = await readMany<DocRow>(tx.objectStore(STORE.docs), keys);
  return docs.values.map((row) => row && toRecord(row));
}

/**
 * Documents' summaries and trees, read in a new readwrite transaction together with the
 * counters: what its write needs (`done`), while the transaction is still active — as long as
 * the caller places its write before the task ends (its computing awaits microtasks only).
 */
export async function readForWrite(
  db: IdbDatabase,
  keys: readonly string[],
): Promise<{ fetched: (FetchedDoc | undefined)[]; done: ReadForWrite }> {
  const tx = db.transaction(WRITE_STORES, 'readwrite', { durability: 'strict' });
  const [state, docs] = await Promise.all([
    requested(tx.objectStore(STORE.state).get(STATE_KEY)) as Promise<StateRow>,
    readMany<DocRow>(tx.objectStore(STORE.docs), keys),
  ]);
  const trees = await readTrees(tx, docs);
  const fetched = docs.values.map((row) => {
    if (!row) return undefined;
    const doc: FetchedDoc = toRecord(row);
    // The winner's node is the document's record, unless an earlier version stored it in `revs`.
    const nodes = trees.get(row.key) ?? [];
    const held = nodes.some((node) => node.rev === row.winner) ? nodes : [...nodes, winnerRevRow(row)];
    doc.tree = held.map((node) => toNode(node, row.winner));
    return doc;
  });
  return { fetched, done: { tx, state, docs: new Map(keys.map((key, i) => [key, docs.values[i]])), trees } };
}

/**
 * The revisions of the documents read, by document key. Documents adjacent in the store have
 * their trees adjacent too (a revision is stored only with its document), so one range reads
 * them all; others are read a tree per request.
 */
async function readTrees(tx: IdbTransaction, docs: ManyRead<DocRow>): Promise<Map<string, RevRow[]>> {
  const revs = tx.objectStore(STORE.revs);
  const keys = [...new Set(docs.values.flatMap((row) => (row ? [row.key] : [])))].sort();
  const trees = new Map<string, RevRow[]>(keys.map((key) => [key, []]));
  if (keys.length > 1 && docs.adjacent) {
    const range = keyRange({ key: [keys[0]!], open: false }, { key: [keys.at(-1)!, []], open: false });
    const rows = (await requested(revs.getAll(range === EMPTY ? null : range))) as RevRow[];
    for (const row of rows) trees.get(row.doc)?.push(row);
    return trees;
  }
  await Promise.all(
    keys.map(async (key) => trees.set(key, (await requested(revs.getAll(treeRange(key)))) as RevRow[])),
  );
  return trees;
}

/** Every revision of the document keyed `key`: [key, rev] for any rev, and arrays sort last. */
function treeRange(key: string): IdbQuery {
  const range = keyRange({ key: [key], open: false }, { key: [key, []], open: false });
  return range === EMPTY ? null : range;
}

/** The contents of some revisions of a document; the winner's is the document's. */
export async function revisions(
  tx: IdbTransaction,
  key: string,
  revs: readonly string[],
): Promise<(RevisionContent | undefined)[]> {
  if (revs.length === 0) return [];
  const revStore = tx.objectStore(STORE.revs);
  const [doc, rows] = await Promise.all([
    requested(tx.objectStore(STORE.docs).get(key)) as Promise<DocRow | undefined>,
    Promise.all(revs.map((rev) => requested(revStore.get([key, rev])) as Promise<RevRow | undefined>)),
  ]);
  return revs.map((rev, i) => {
    const held = doc && rev === doc.winner ? doc : doc && rows[i];
    return held && held.body !== null ? toContent(held) : undefined;
  });
}
