/** The peer: PouchDB 9 with its Node (leveldb) adapter, on the same documents and operations. */
import { createRequire } from 'node:module';
import { gc } from '../lib.js';

// PouchDB ships no types; the little of it used here is typed below, locally, so the benchmark
// does not depend on (or clash with) any ambient `declare module 'pouchdb'` elsewhere.
export interface PouchDoc {
  _id: string;
  _rev: string;
  _conflicts?: string[];
  _revisions?: { start: number; ids: string[] };
  _revs_info?: { rev: string; status: string }[];
  [field: string]: unknown;
}

export interface PouchWriteResult {
  ok?: boolean;
  id: string;
  rev?: string;
  error?: string | boolean;
  reason?: string;
}

export interface Pouch {
  bulkDocs(docs: object[], options?: { new_edits?: boolean }): Promise<PouchWriteResult[]>;
  put(doc: object): Promise<PouchWriteResult & { rev: string }>;
  get(id: string, options?: { conflicts?: boolean; revs?: boolean; revs_info?: boolean }): Promise<PouchDoc>;
  changes(options: {
    since?: number | string;
    limit?: number;
    include_docs?: boolean;
    style?: 'main_only' | 'all_docs';
    conflicts?: boolean;
  }): Promise<{
    results: { id: string; seq: number | string; changes: { rev: string }[]; doc?: PouchDoc }[];
    last_seq: number | string;
  }>;
  allDocs(options: { include_docs?: boolean; limit?: number; startkey?: string; skip?: number }): Promise<{
    rows: { id: string; key: string; value: { rev: string }; doc?: PouchDoc }[];
  }>;
  bulkGet(request: { docs: { id: string; rev?: string }[]; revs?: boolean }): Promise<{
    results: { id: string; docs: ({ ok: PouchDoc } | { error: unknown })[] }[];
  }>;
  info(): Promise<{ doc_count: number; update_seq: number | string }>;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

type PouchConstructor = new (name: string, options?: { revs_limit?: number }) => Pouch;

const PouchDB = createRequire(import.meta.url)('pouchdb') as PouchConstructor;

/** Rows per page of a paged changes or allDocs read. */
const PAGE = 1000;

export function openPouch(path: string, revsLimit?: number): Pouch {
  return new PouchDB(path, revsLimit === undefined ? {} : { revs_limit: revsLimit });
}

export async function pouchWrite(
  path: string,
  batches: object[][],
  newEdits: boolean,
): Promise<{ db: Pouch; ms: number }> {
  const db = openPouch(path);
  await db.info(); // opens leveldb before the clock starts
  gc(); // the garbage of building the batches is not billed to the writes
  const start = performance.now();
  for (const batch of batches) {
    const results = await db.bulkDocs(batch, { new_edits: newEdits });
    const failed = results.find((result) => result.error);
    if (failed) throw new Error(`PouchDB bulkDocs failed: ${JSON.stringify(failed)}`);
  }
  return { db, ms: performance.now() - start };
}

export async function pouchGets(db: Pouch, ids: readonly string[]): Promise<number> {
  const start = performance.now();
  for (const id of ids) {
    const doc = await db.get(id);
    if (doc._id !== id) throw new Error(`PouchDB get(${id}) returned ${doc._id}`);
  }
  return performance.now() - start;
}

/** A full changes read with the documents, a page at a time from the last seq. */
export async function pouchChanges(db: Pouch, limit = Infinity): Promise<{ ms: number; rows: number }> {
  const start = performance.now();
  let rows = 0;
  let since: number | string = 0;
  while (rows < limit) {
    const page = await db.changes({ include_docs: true, since, limit: Math.min(PAGE, limit - rows) });
    for (const row of page.results) if (row.doc) rows++;
    since = page.last_seq;
    if (page.results.length < PAGE) break;
  }
  return { ms: performance.now() - start, rows };
}

/** A full allDocs read with the documents, a page at a time from the last key. */
export async function pouchAllDocs(db: Pouch, limit = Infinity): Promise<{ ms: number; rows: number }> {
  const start = performance.now();
  let rows = 0;
  let startkey: string | undefined;
  while (rows < limit) {
    const size = Math.min(PAGE, limit - rows);
    const page = await db.allDocs(
      startkey === undefined
        ? { include_docs: true, limit: size }
        : { include_docs: true, limit: size, startkey, skip: 1 },
    );
    for (const row of page.rows) if (row.doc) rows++;
    if (page.rows.length < PAGE) break;
    startkey = page.rows[page.rows.length - 1]!.id;
  }
  return { ms: performance.now() - start, rows };
}
