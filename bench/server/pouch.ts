/**
 * PouchDB 9 as the benchmark's client, typed here for the little the server benchmark uses
 * (replicate, live sync, live changes, a custom fetch). Loaded through `require` so these types do
 * not depend on, nor clash with, the embedded benchmark's declaration of the module.
 */
import { createRequire } from 'node:module';
import { RequestTally } from './requests.js';

export interface FetchInit {
  method?: string;
  [option: string]: unknown;
}
export type FetchLike = (url: string, init?: FetchInit) => Promise<unknown>;

export interface PouchOptions {
  auth?: { username: string; password: string };
  fetch?: FetchLike;
}

export interface ReplicationResult {
  ok: boolean;
  status: string;
  docs_read: number;
  docs_written: number;
  doc_write_failures: number;
  errors: unknown[];
}

/** A one-shot replication: an event emitter that is also a promise of its result. */
export interface Replication extends PromiseLike<ReplicationResult> {
  cancel(): void;
}

export interface LiveChange {
  id: string;
  doc?: { _id: string; t?: unknown };
}

export interface ChangesHandle {
  cancel(): void;
  on(event: 'change', listener: (change: LiveChange) => void): ChangesHandle;
  on(event: 'error', listener: (error: unknown) => void): ChangesHandle;
}

export interface SyncHandle {
  cancel(): void;
  on(event: 'paused' | 'active' | 'complete', listener: (info: unknown) => void): SyncHandle;
  on(event: 'error' | 'denied', listener: (error: unknown) => void): SyncHandle;
}

/** The rows of `_all_docs` the benchmark reads (with `include_docs`) to compare databases. */
export interface AllDocsPage {
  rows: { id?: string; key: string; value?: { rev: string }; doc?: object | null }[];
}

export interface AllDocsPaging {
  include_docs: true;
  limit: number;
  startkey?: string;
  skip?: number;
}

export interface Pouch {
  allDocs(options: AllDocsPaging): Promise<AllDocsPage>;
  bulkDocs(docs: object[]): Promise<{ ok?: boolean; id: string; error?: unknown }[]>;
  put(doc: object): Promise<{ ok: boolean; rev: string }>;
  info(): Promise<{ doc_count: number; update_seq: number | string }>;
  changes(options: { live: true; since: 'now'; include_docs: boolean }): ChangesHandle;
  sync(remote: Pouch, options: { live: boolean; retry: boolean }): SyncHandle;
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export interface PouchStatic {
  new (name: string, options?: PouchOptions): Pouch;
  replicate(source: Pouch, target: Pouch, options?: object): Replication;
  /** PouchDB's own fetch (node-fetch wrapped with a cookie jar). */
  fetch: FetchLike;
}

const require = createRequire(import.meta.url);
export const PouchDB = require('pouchdb') as PouchStatic;

/**
 * Counts the HTTP requests of every PouchDB handle given its `fetch`: the same count for any
 * server, whatever it logs.
 */
export class RequestCounter extends RequestTally {
  readonly fetch: FetchLike = (url, init) => {
    this.record(init?.method ?? 'GET', url);
    return PouchDB.fetch(url, init);
  };
}

/** A remote database handle on a server, counting its requests. */
export function remoteDb(
  baseUrl: string,
  name: string,
  counter: RequestCounter,
  auth: PouchOptions['auth'] | undefined,
): Pouch {
  return new PouchDB(`${baseUrl}/${encodeURIComponent(name)}`, {
    fetch: counter.fetch,
    ...(auth ? { auth } : {}),
  });
}

/** Closes a handle, ignoring a second close or one on a destroyed database. */
export async function closeQuietly(db: Pouch | undefined): Promise<void> {
  try {
    await db?.close();
  } catch {
    // already closed
  }
}
