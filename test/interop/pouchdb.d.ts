// The part of PouchDB's API the interop tests use (@types/pouchdb is not installed).
declare module 'pouchdb' {
  import type { EventEmitter } from 'node:events';

  namespace PouchDB {
    interface Revisions {
      start: number;
      ids: string[];
    }
    interface Attachment {
      content_type: string;
      /** Base64 text when writing; a Buffer when read with `binary: true`. */
      data?: string | Buffer;
      digest?: string;
      length?: number;
      revpos?: number;
      stub?: boolean;
    }
    interface Document {
      _id: string;
      _rev?: string;
      _deleted?: boolean;
      _attachments?: Record<string, Attachment>;
      _revisions?: Revisions;
      _conflicts?: string[];
      [field: string]: unknown;
    }
    /** The request options PouchDB hands to its fetch (node-fetch's). */
    interface FetchOptions {
      method?: string;
      headers?: unknown;
      body?: unknown;
      signal?: AbortSignal;
    }
    interface FetchResponse {
      ok: boolean;
      status: number;
    }
    type Fetch = (url: string, options: FetchOptions) => Promise<FetchResponse>;
    interface Options {
      auth?: { username: string; password: string };
      fetch?: Fetch;
      adapter?: string;
      skip_setup?: boolean;
    }
    interface Info {
      db_name: string;
      doc_count: number;
      update_seq: number | string;
    }
    interface WriteResult {
      ok: true;
      id: string;
      rev: string;
    }
    interface WriteError {
      error: string | true;
      id?: string;
      name?: string;
      status?: number;
      reason?: string;
      message?: string;
    }
    interface GetOptions {
      rev?: string;
      revs?: boolean;
      revs_info?: boolean;
      conflicts?: boolean;
      deleted_conflicts?: boolean;
      latest?: boolean;
      attachments?: boolean;
      binary?: boolean;
    }
    type OpenRevsResult = { ok: Document } | { missing: string };
    interface BulkGetOptions {
      docs: { id: string; rev?: string }[];
      revs?: boolean;
      latest?: boolean;
    }
    interface BulkGetResponse {
      results: {
        id: string;
        docs: ({ ok: Document } | { error: { id: string; rev: string; error: string; reason: string } })[];
      }[];
    }
    interface AllDocsOptions {
      include_docs?: boolean;
      conflicts?: boolean;
      attachments?: boolean;
      keys?: string[];
      startkey?: string;
      endkey?: string;
      limit?: number;
      skip?: number;
    }
    interface AllDocsRow {
      id: string;
      key: string;
      value: { rev: string; deleted?: boolean };
      doc?: Document | null;
      error?: string;
    }
    interface AllDocsResponse {
      total_rows: number;
      offset: number;
      rows: AllDocsRow[];
    }
    interface ChangesOptions {
      since?: number | string;
      style?: 'all_docs' | 'main_only';
      include_docs?: boolean;
      limit?: number;
    }
    interface ChangeRow {
      id: string;
      seq: number | string;
      changes: { rev: string }[];
      deleted?: boolean;
      doc?: Document;
    }
    interface ChangesResponse {
      results: ChangeRow[];
      last_seq: number | string;
    }
    interface ReplicateOptions {
      live?: boolean;
      retry?: boolean;
      batch_size?: number;
      batches_limit?: number;
      checkpoint?: false | 'source' | 'target';
      back_off_function?: (delay: number) => number;
      /** A design filter of the source (`ddoc/name` or `_view`), its view and query params. */
      filter?: string;
      view?: string;
      query_params?: Record<string, unknown>;
    }
    interface ReplicationResult {
      ok: boolean;
      status: string;
      start_time: string | Date;
      end_time: string | Date;
      docs_read: number;
      docs_written: number;
      doc_write_failures: number;
      errors: unknown[];
      last_seq: number | string;
    }
    interface SyncResult {
      push?: ReplicationResult;
      pull?: ReplicationResult;
    }
    /** A running replication or sync: an event emitter that is also a promise of its result. */
    interface Replication<Result> extends EventEmitter, PromiseLike<Result> {
      cancel(): void;
      catch<T = never>(onrejected: (reason: unknown) => T | PromiseLike<T>): Promise<Result | T>;
    }
    /** A sync: two replications, `push` and `pull`, that emit `requestError` before each retry. */
    interface Sync extends Replication<SyncResult> {
      push: Replication<ReplicationResult>;
      pull: Replication<ReplicationResult>;
    }
  }

  class PouchDB {
    constructor(name: string, options?: PouchDB.Options);
    static fetch(url: string, options: PouchDB.FetchOptions): Promise<PouchDB.FetchResponse>;
    static replicate(
      source: PouchDB,
      target: PouchDB,
      options?: PouchDB.ReplicateOptions,
    ): PouchDB.Replication<PouchDB.ReplicationResult>;
    static sync(a: PouchDB, b: PouchDB, options?: PouchDB.ReplicateOptions): PouchDB.Sync;

    readonly name: string;
    readonly replicate: {
      to(target: PouchDB, options?: PouchDB.ReplicateOptions): PouchDB.Replication<PouchDB.ReplicationResult>;
      from(
        source: PouchDB,
        options?: PouchDB.ReplicateOptions,
      ): PouchDB.Replication<PouchDB.ReplicationResult>;
    };
    info(): Promise<PouchDB.Info>;
    get(
      id: string,
      options: PouchDB.GetOptions & { open_revs: 'all' | string[] },
    ): Promise<PouchDB.OpenRevsResult[]>;
    get(id: string, options?: PouchDB.GetOptions): Promise<PouchDB.Document>;
    put(doc: PouchDB.Document, options?: { new_edits?: boolean }): Promise<PouchDB.WriteResult>;
    bulkDocs(
      docs: PouchDB.Document[],
      options?: { new_edits?: boolean },
    ): Promise<Array<PouchDB.WriteResult | PouchDB.WriteError>>;
    remove(id: string, rev: string): Promise<PouchDB.WriteResult>;
    bulkGet(options: PouchDB.BulkGetOptions): Promise<PouchDB.BulkGetResponse>;
    allDocs(options?: PouchDB.AllDocsOptions): Promise<PouchDB.AllDocsResponse>;
    changes(options?: PouchDB.ChangesOptions): Promise<PouchDB.ChangesResponse>;
    getAttachment(id: string, name: string, options?: { rev?: string }): Promise<Buffer>;
    putAttachment(
      id: string,
      name: string,
      rev: string,
      data: Buffer,
      type: string,
    ): Promise<PouchDB.WriteResult>;
    close(): Promise<void>;
    destroy(): Promise<void>;
  }

  export default PouchDB;
}
