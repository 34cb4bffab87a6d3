/**
 * The browser benchmark's page side, bundled with Settee's browser entry (esbuild, one IIFE) and
 * loaded beside PouchDB's own browser builds. Each step works on a fresh IndexedDB database,
 * times itself with the page's clock and deletes its database afterwards; `longTasks` reports
 * the main-thread tasks over 50 ms (Chromium's 'longtask' entries) seen in a step's time span.
 */
import { Database, RemoteDatabase, replicate } from '../../src/browser.js';
import { indexedDb, requested } from '../../src/storage/indexeddb/idb.js';
import { IndexedDbStorage } from '../../src/storage/indexeddb/indexeddb-storage.js';
import type { DocWrite } from '../../src/storage/types.js';

/** Who does the work: Settee, or PouchDB on one of its two IndexedDB adapters. */
export type Contender = 'settee' | 'pouchdb-idb' | 'pouchdb-indexeddb';

/** A step's time span on the page's clock (`performance.now()`). */
/**
 * How `rawWrites` puts the documents: as they are or as JSON text, and with which durability; or
 * through Settee's IndexedDB storage alone (`storageWrites`).
 */
export type CeilingWay = 'objects, relaxed' | 'objects, strict' | 'JSON text, relaxed' | "Settee's storage";

export interface Span {
  start: number;
  end: number;
}

export interface Credentials {
  username: string;
  password: string;
}

/** The part of PouchDB the benchmark calls (its browser build sets the global `PouchDB`). */
interface PouchDb {
  bulkDocs(docs: object[]): Promise<{ error?: string }[]>;
  destroy(): Promise<unknown>;
}

interface PouchReplicationResult {
  status: string;
  docs_written: number;
  doc_write_failures: number;
}

interface PouchStatic {
  new (name: string, options?: { adapter?: string; auth?: Credentials }): PouchDb;
  replicate(source: PouchDb, target: PouchDb): Promise<PouchReplicationResult>;
}

interface TaskEntry {
  startTime: number;
  duration: number;
}

interface Observer {
  observe(options: { type: string; buffered: boolean }): void;
  takeRecords(): TaskEntry[];
}

interface PageGlobals {
  PouchDB: PouchStatic;
  PerformanceObserver: new (callback: (list: { getEntries(): TaskEntry[] }) => void) => Observer;
}

const page = globalThis as unknown as PageGlobals;

const ADAPTER: Record<Exclude<Contender, 'settee'>, string> = {
  'pouchdb-idb': 'idb',
  'pouchdb-indexeddb': 'indexeddb',
};

const seen: TaskEntry[] = [];
const observer = new page.PerformanceObserver((list) => seen.push(...list.getEntries()));
observer.observe({ type: 'longtask', buffered: true });

/** The long tasks (ms) that overlapped `span`, longest first. */
export function longTasks(span: Span): number[] {
  seen.push(...observer.takeRecords());
  return seen
    .filter((task) => task.startTime < span.end && task.startTime + task.duration > span.start)
    .map((task) => task.duration)
    .sort((a, b) => b - a);
}

/** Pulls the server database at `url` into a new IndexedDB database `name`; checks every doc came. */
export async function pull(
  contender: Contender,
  url: string,
  auth: Credentials,
  name: string,
  expected: number,
): Promise<Span> {
  if (contender === 'settee') {
    const local = await Database.open(name);
    const remote = new RemoteDatabase(url, { auth });
    const span = await timed(async () => checkPull(await replicate(remote, local).done, expected));
    await local.destroy();
    return span;
  }
  const local = new page.PouchDB(name, { adapter: ADAPTER[contender] });
  const remote = new page.PouchDB(url, { auth });
  const span = await timed(async () => checkPull(await page.PouchDB.replicate(remote, local), expected));
  await local.destroy();
  return span;
}

let staged: object[][] = [];

/** Keeps the documents the next `writeLocally` writes: handing them over is not part of its time. */
export function stage(batches: object[][]): void {
  staged = batches;
}

/** Writes the staged batches of new documents, one `bulkDocs` each, into a new IndexedDB database. */
export async function writeLocally(contender: Contender, name: string): Promise<Span> {
  const db =
    contender === 'settee'
      ? await Database.open(name)
      : new page.PouchDB(name, { adapter: ADAPTER[contender] });
  const span = await timed(async () => {
    for (const batch of staged) checkWrites(await db.bulkDocs(batch));
  });
  await db.destroy();
  return span;
}

/**
 * The ceiling of local writes: the staged documents put as they are, one record each keyed by
 * `_id`, a readwrite transaction per batch, in one object store without indexes — what IndexedDB
 * itself costs, with no database above it. `relaxed` is Chromium's default since version 121
 * (what PouchDB's transactions get); `strict` is what Settee asks for a batch of documents. As
 * `JSON text`, each document is put as `{_id, json}`, its body one string (as Settee stores it):
 * IndexedDB then clones a string instead of the document's fields, and the page serializes it.
 */
export async function rawWrites(name: string, way: CeilingWay): Promise<Span> {
  if (way === "Settee's storage") return storageWrites(name);
  const durability = way.endsWith('strict') ? 'strict' : 'relaxed';
  const asText = way.startsWith('JSON');
  const { factory } = indexedDb();
  const opening = factory.open(name, 1);
  opening.onupgradeneeded = () => opening.result.createObjectStore('docs', { keyPath: '_id' });
  const db = await requested(opening);
  const span = await timed(async () => {
    for (const batch of staged) {
      const tx = db.transaction('docs', 'readwrite', { durability });
      const store = tx.objectStore('docs');
      for (const doc of batch)
        store.put(asText ? { _id: (doc as { _id: string })._id, json: JSON.stringify(doc) } : doc);
      await new Promise<void>((resolve, reject) => {
        tx.oncomplete = () => resolve();
        tx.onabort = () => reject(new Error(`raw puts aborted: ${tx.error?.message ?? ''}`));
      });
    }
  });
  db.close();
  await requested(factory.deleteDatabase(name));
  return span;
}

/**
 * The floor of Settee's own layout: the staged documents written through its IndexedDB `Storage`
 * as the database would hand them over (records, trees and seq index, a transaction per batch,
 * the batch's documents looked up first), with the revisions and bodies computed beforehand —
 * no parsing, hashing, tree merging or results: what the database layer above it cannot go below.
 */
async function storageWrites(name: string): Promise<Span> {
  const storage = await IndexedDbStorage.open(name);
  let n = 0;
  const writes = staged.map((batch) =>
    batch.map((doc): DocWrite => {
      const { _id: id, ...body } = doc as { _id: string };
      const hash = (++n).toString(16).padStart(32, '0');
      const rev = `1-${hash}`;
      const node = { rev, gen: 1, hash, parent: null, deleted: false, hasBody: true, leaf: true };
      return {
        record: { id, winner: rev, deleted: false, leaves: [{ rev, deleted: false }] },
        base: 0,
        added: [{ ...node, content: { body: JSON.stringify(body), attachments: undefined } }],
        removed: [],
        changed: [],
      };
    }),
  );
  const span = await timed(async () => {
    for (const batch of writes) await storage.writeDocs(batch);
  });
  await storage.destroy();
  return span;
}

async function timed(work: () => Promise<void>): Promise<Span> {
  const start = performance.now();
  await work();
  return { start, end: performance.now() };
}

function checkPull(result: PouchReplicationResult, expected: number): void {
  const { status, docs_written: written, doc_write_failures: failures } = result;
  if (status !== 'complete' || written !== expected || failures > 0) {
    throw new Error(`pull: ${status}, ${written} of ${expected} documents written, ${failures} failures`);
  }
}

function checkWrites(results: readonly object[]): void {
  const failed = results.find((result) => 'error' in result);
  if (failed) throw new Error(`bulkDocs: ${JSON.stringify(failed)}`);
}
