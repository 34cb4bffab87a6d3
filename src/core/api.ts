/**
 * The shapes of Settee's document API, as CouchDB puts them on the wire. The local Database
 * returns them, the HTTP server sends them and the remote client parses them, so one set of
 * types serves all three.
 */

/** An attachment as read: a stub (metadata only) or with inline base64 data. */
export interface Attachment {
  content_type: string;
  digest: string;
  length?: number;
  revpos: number;
  stub?: true;
  data?: string;
}

/** Any JSON fields: what a document holds when its application type is not given. */
export type Fields = Record<string, unknown>;

/** The members CouchDB adds to a document it returns (`_id`, `_rev`, and those asked for). */
export interface DocMeta {
  _id: string;
  _rev: string;
  _deleted?: true;
  _attachments?: Record<string, Attachment>;
  _conflicts?: string[];
  _deleted_conflicts?: string[];
  _revisions?: { start: number; ids: string[] };
  _revs_info?: { rev: string; status: 'available' | 'missing' | 'deleted' }[];
  _local_seq?: number;
}

/**
 * A document as read: the application's fields `T` and CouchDB's members, as PouchDB types it.
 * `get<Sale>('s1')` gives a `Doc<Sale>`; without a type argument the fields are `unknown`.
 */
export type Doc<T extends object = Fields> = T & DocMeta;

/** The members a document may carry when written: `_id` and `_rev` where known. */
export interface NewDocMeta {
  _id?: string;
  _rev?: string;
  _deleted?: boolean;
  _attachments?: Record<string, unknown>;
  _revisions?: { start: number; ids: string[] };
}

/** A document as written: the application's fields `T` and the members CouchDB reads. */
export type NewDoc<T extends object = Fields> = T & NewDocMeta;

export interface WriteOk {
  ok: true;
  id: string;
  rev: string;
}

export interface WriteError {
  id: string;
  rev?: string;
  error: string;
  reason: string;
}

export type WriteResult = WriteOk | WriteError;

/** Who writes or reads: anonymous is `{ name: null, roles: [] }`; a server admin has `_admin`. */
export interface UserContext {
  name: string | null;
  roles: string[];
}

/** On whose behalf a write is made: handed to the database's write hook (validation). */
export interface WriteContext {
  userCtx?: UserContext;
}

export interface BulkDocsOptions extends WriteContext {
  /** false: store revisions as given (replication), never reporting conflicts. Default true. */
  newEdits?: boolean;
  /**
   * All or nothing: if any document fails, nothing is written and the first error is thrown.
   * Used to resolve a conflict in one step (write the merged revision, delete the losers).
   */
  atomic?: boolean;
}

export interface GetOptions {
  rev?: string;
  revs?: boolean;
  revs_info?: boolean;
  conflicts?: boolean;
  deleted_conflicts?: boolean;
  /** With `rev`: answer the leaf that descends from it instead (the winner of them). */
  latest?: boolean;
  local_seq?: boolean;
  attachments?: boolean;
  atts_since?: string[];
}

export type OpenRevsResult = { ok: Doc } | { missing: string };

export interface AllDocsOptions {
  keys?: string[];
  key?: string;
  startkey?: string;
  endkey?: string;
  inclusive_end?: boolean;
  limit?: number;
  skip?: number;
  descending?: boolean;
  include_docs?: boolean;
  conflicts?: boolean;
  attachments?: boolean;
  update_seq?: boolean;
}

export interface AllDocsRow<T extends object = Fields> {
  id?: string;
  key: string;
  value?: { rev: string; deleted?: true };
  doc?: Doc<T> | null;
  error?: 'not_found';
}

export interface AllDocsResponse<T extends object = Fields> {
  total_rows: number;
  offset: number;
  rows: AllDocsRow<T>[];
  update_seq?: number;
}

/**
 * An update sequence. Settee's are integers; other servers' are opaque strings, to be passed
 * back verbatim and never compared or computed with.
 */
export type Seq = number | string;

export interface ChangesOptions {
  /** Exclusive start: a sequence of this database, or `now`. */
  since?: Seq;
  limit?: number;
  descending?: boolean;
  style?: 'main_only' | 'all_docs';
  include_docs?: boolean;
  conflicts?: boolean;
  attachments?: boolean;
  doc_ids?: string[];
  /** A Mango selector: only documents whose winning revision matches. */
  selector?: Record<string, unknown>;
  /**
   * A design document's filter function, `ddoc/name` (`filters.name` of `_design/ddoc`), or
   * `_view` with `view`: only the revisions it passes. Exclusive of `selector` and `doc_ids`.
   */
  filter?: string;
  /** With `filter: '_view'`: `ddoc/view`, whose map function must emit for a document to pass. */
  view?: string;
  /** With `filter`: what the filter function finds in `req.query` (over HTTP: query parameters). */
  query_params?: Record<string, unknown>;
}

export interface ChangeRow<S extends Seq = Seq, T extends object = Fields> {
  seq: S;
  id: string;
  changes: { rev: string }[];
  deleted?: true;
  doc?: Doc<T>;
}

export interface ChangesResponse<S extends Seq = Seq, T extends object = Fields> {
  results: ChangeRow<S, T>[];
  last_seq: S;
  /** Changes after `last_seq`; absent when the server does not say (pouchdb-server, CouchDB 1). */
  pending?: number;
}

export type RevsDiffRequest = Record<string, string[]>;
export type RevsDiffResponse = Record<string, { missing: string[]; possible_ancestors?: string[] }>;

export interface BulkGetRequest {
  docs: { id: string; rev?: string; atts_since?: string[] }[];
}

export interface BulkGetOptions {
  revs?: boolean;
  latest?: boolean;
  attachments?: boolean;
}

export type BulkGetDoc = { ok: Doc } | { error: { id: string; rev: string; error: string; reason: string } };

export interface BulkGetResponse {
  results: { id: string; docs: BulkGetDoc[] }[];
}

export interface LocalDoc {
  _id: string;
  _rev: string;
  [field: string]: unknown;
}

/** What replication needs to know of a database. */
export interface PeerInfo {
  db_name: string;
  doc_count: number;
  doc_del_count: number;
  update_seq: Seq;
  /** Changes when the database is deleted and re-created: checkpoints then no longer apply. */
  instance_start_time: string;
}

export interface DbInfo extends PeerInfo {
  update_seq: number;
  purge_seq: number;
  sizes: { file: number; external: number; active: number };
  instance_start_time: string;
  compact_running: boolean;
  /** This database's own identity, persisted: it names the database in replication ids. */
  uuid: string;
  revs_limit: number;
}

export interface PeerChangesOptions extends ChangesOptions {
  /** When nothing changed after `since`, wait up to `timeout` ms for a first change (a longpoll). */
  longpoll?: boolean;
  timeout?: number;
  signal?: AbortSignal;
}

/**
 * The replication surface (ARCHITECTURE.md): the same for a local Database and a remote one
 * over HTTP, so the replicator drives any two peers through one code path.
 */
export interface Peer {
  /**
   * This database's identity in replication ids, as PouchDB defines it: the server's uuid plus
   * the database name for a remote database, the database's persisted uuid for a local one.
   */
  peerId(): Promise<string>;
  info(): Promise<PeerInfo>;
  /** Creates the database when it does not exist (replication's `create_target`). */
  ensureExists(): Promise<void>;
  changes(options: PeerChangesOptions): Promise<ChangesResponse>;
  revsDiff(request: RevsDiffRequest): Promise<RevsDiffResponse>;
  bulkGet(request: BulkGetRequest, options?: BulkGetOptions): Promise<BulkGetResponse>;
  bulkDocs(docs: NewDoc[], options?: BulkDocsOptions): Promise<WriteResult[]>;
  getLocal(id: string): Promise<LocalDoc | undefined>;
  putLocal(doc: LocalDoc | NewDoc): Promise<WriteOk>;
}
