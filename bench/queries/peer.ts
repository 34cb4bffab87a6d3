/**
 * The embedded contenders of the queries benchmark, Settee's `Database` and PouchDB with
 * pouchdb-find, seen through the one surface they share (the names and shapes are PouchDB's,
 * which Settee's Database follows), so every measure below is written once for both.
 */
import { createRequire } from 'node:module';
import { NO_INDEX_WARNING } from '../../src/core/mango/planner.js';
import { pouchWrite } from '../embedded/pouch.js';
import { setteeWrite } from '../embedded/settee.js';
import type { Dataset } from '../lib.js';
import type { FindBody, QueryCase, Runner } from './workload.js';

/** `_find`'s answer, as much of it as the benchmark reads. */
export interface FindAnswer {
  docs: { _id?: unknown }[];
  warning?: string;
}

export interface ViewAnswer {
  rows: { key: unknown; value: unknown }[];
}

/** What the benchmark asks of an embedded database. */
export interface QueryPeer {
  createIndex(request: { index: { fields: string[] }; ddoc: string; name: string }): Promise<unknown>;
  deleteIndex(index: { ddoc: string; name: string }): Promise<unknown>;
  find(request: FindBody & { use_index?: [string, string] }): Promise<FindAnswer>;
  viewCleanup(): Promise<unknown>;
  put(doc: object): Promise<{ rev: string }>;
  remove(id: string, rev: string): Promise<unknown>;
  query(view: string, options: { limit?: number; reduce?: boolean }): Promise<ViewAnswer>;
  allDocs(options: { include_docs: true; limit: number; startkey: string }): Promise<{
    rows: { doc?: { _id: string; _rev: string; [field: string]: unknown } | null }[];
  }>;
  bulkDocs(docs: object[]): Promise<object[]>;
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
// The plugin extends PouchDB's prototype: every database the embedded benchmark's helpers open
// (the same `pouchdb` module) gains find, createIndex and deleteIndex.
(require('pouchdb') as { plugin(plugin: unknown): void }).plugin(require('pouchdb-find'));

/** Settee with the documents written (bulkDocs new_edits=false, durability full), open. */
export async function setteePeer(path: string, data: Dataset, batch: number): Promise<QueryPeer> {
  const { db } = await setteeWrite(path, data.bulkBatches(batch, false), false);
  const peer: QueryPeer = db; // checked: Settee's Database has PouchDB's surface
  return peer;
}

/** PouchDB (leveldb) with the same documents, open. */
export async function pouchPeer(path: string, data: Dataset, batch: number): Promise<QueryPeer> {
  const { db } = await pouchWrite(path, data.bulkBatches(batch, false), false);
  // The embedded benchmark types only what it uses of PouchDB; pouchdb-find adds the rest.
  return db as unknown as QueryPeer;
}

/** A design document's id, as PouchDB's deleteIndex needs it (its createIndex adds the prefix itself). */
export const designId = (name: string) => `_design/${name}`;

/**
 * Creates a JSON index and builds it (both build on the first query that uses it at the latest);
 * returns the milliseconds of the two together.
 */
export async function buildIndex(
  peer: Pick<QueryPeer, 'createIndex' | 'find'>,
  name: string,
  fields: string[],
): Promise<number> {
  const start = performance.now();
  await peer.createIndex({ index: { fields }, ddoc: name, name });
  // `$gt: null` on every field: everything the index holds, so the index can serve it.
  const selector = Object.fromEntries(fields.map((field) => [field, { $gt: null }]));
  const answer = await peer.find({ selector, use_index: [designId(name), name], limit: 1 });
  if (answer.docs.length !== 1) throw new Error(`the first query of index ${name} found nothing`);
  return performance.now() - start;
}

/** Deletes an index and the storage it held, so the next build starts from empty. */
export async function dropIndex(peer: QueryPeer, name: string): Promise<void> {
  await peer.deleteIndex({ ddoc: designId(name), name });
  await peer.viewCleanup();
}

/**
 * A case run through a `_find` (embedded or over HTTP): the ids of the documents, after checking
 * that an index served the indexed cases and the other fell back to a full scan, as CouchDB warns.
 */
export function findRunner(find: (body: FindBody) => Promise<FindAnswer>, queryCase: QueryCase): Runner {
  const expectScan = queryCase.index === null;
  return async (c) => {
    const answer = await find(queryCase.find(c));
    if ((answer.warning?.includes(NO_INDEX_WARNING) ?? false) !== expectScan) {
      throw new Error(`${queryCase.name}: unexpected warning ${JSON.stringify(answer.warning)}`);
    }
    return answer.docs.map((doc) => String(doc._id));
  };
}
