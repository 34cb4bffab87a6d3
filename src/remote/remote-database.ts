import type {
  AllDocsOptions,
  AllDocsResponse,
  BulkDocsOptions,
  BulkGetDoc,
  BulkGetOptions,
  BulkGetRequest,
  BulkGetResponse,
  ChangeRow,
  ChangesResponse,
  Doc,
  Fields,
  GetOptions,
  LocalDoc,
  NewDoc,
  OpenRevsResult,
  Peer,
  PeerChangesOptions,
  PeerInfo,
  RevsDiffRequest,
  RevsDiffResponse,
  Seq,
  WriteOk,
  WriteResult,
} from '../core/api.js';
import { isLocalId } from '../core/document.js';
import { badRequest } from '../core/errors.js';
import { readChanges } from './changes-reader.js';
import { RemoteError } from './errors.js';
import {
  type Credentials,
  HttpClient,
  type HttpClientOptions,
  type HttpRequest,
  type HttpResponse,
  type QueryValue,
  splitCredentials,
} from './http.js';

/** The HTTP client's options (credentials, retries, timeouts, `fetch`…) and the database's own. */
export interface RemoteDatabaseOptions extends HttpClientOptions {
  /** Heartbeat asked of longpoll feeds, in ms (default 10 000). */
  heartbeatMs?: number;
  /** false: never try `_bulk_get`, fetch with `open_revs` GETs (default true). */
  useBulkGet?: boolean;
  /** Parallel `open_revs` GETs when `_bulk_get` is missing (default 6, as PouchDB). */
  openRevsConcurrency?: number;
}

/** What a `GET /{db}` may hold beyond PeerInfo (CouchDB, Settee and pouchdb-server differ). */
export type RemoteDbInfo = PeerInfo & Record<string, unknown>;

const DEFAULT_LONGPOLL_TIMEOUT = 60_000;
/** `_bulk_get` answers that mean "not supported here" (PouchDB's and CouchDB's fallback triggers). */
const NO_BULK_GET = [400, 404, 405, 500, 501];
/** A 500 may be a passing fault: try `_bulk_get` again after this long. */
const BULK_GET_RETRY_AFTER_500 = 60_000;

/**
 * A database on a CouchDB-compatible server (Settee, CouchDB, pouchdb-server) as a replication
 * Peer, plus the document calls a command line wants.
 *
 * @example
 * const db = new RemoteDatabase('http://admin:secret@localhost:5984/shop', { session: true });
 * await db.ensureExists();
 * const { results, last_seq } = await db.changes({ since: 0, style: 'all_docs', limit: 100 });
 */
export class RemoteDatabase implements Peer {
  /** The database URL, without credentials. */
  readonly url: string;
  /** The database name, decoded. */
  readonly name: string;
  private readonly http: HttpClient;
  /** The name's path segment as the URL has it (percent-encoded), PouchDB's `host.db`. */
  private readonly dbSegment: string;
  private readonly heartbeatMs: number;
  private readonly openRevsConcurrency: number;
  private bulkGetUnsupportedUntil: number;
  private id: string | undefined;

  constructor(url: string, options: RemoteDatabaseOptions = {}) {
    const parsed = parseDbUrl(url);
    this.dbSegment = parsed.dbSegment;
    this.name = decodeURIComponent(parsed.dbSegment);
    this.url = `${parsed.root}/${parsed.dbSegment}`;
    const { heartbeatMs, useBulkGet, openRevsConcurrency, ...httpOptions } = options;
    this.http = new HttpClient(parsed.root, { ...httpOptions, auth: options.auth ?? parsed.auth });
    this.heartbeatMs = heartbeatMs ?? 10_000;
    this.openRevsConcurrency = openRevsConcurrency ?? 6;
    this.bulkGetUnsupportedUntil = useBulkGet === false ? Number.POSITIVE_INFINITY : 0;
  }

  /**
   * PouchDB's id of an HTTP database: the server's uuid followed by the database name as the URL
   * spells it; the database URL when the server root has no uuid. A transient failure throws
   * rather than falling back, so a network blip never changes a replication id.
   */
  async peerId(): Promise<string> {
    if (this.id !== undefined) return this.id;
    const uuid = await this.http.json<{ uuid?: unknown }>({ path: '' }).then(
      (root) => root?.uuid,
      (err: unknown) => {
        if (err instanceof RemoteError) return undefined;
        throw err;
      },
    );
    this.id = typeof uuid === 'string' && uuid !== '' ? uuid + this.dbSegment : `${this.url}/`;
    return this.id;
  }

  async info(): Promise<RemoteDbInfo> {
    const info = await this.http.json<Record<string, unknown>>({ path: `${this.dbSegment}/` });
    return {
      ...info,
      db_name: String(info.db_name ?? this.name),
      doc_count: Number(info.doc_count ?? 0),
      doc_del_count: Number(info.doc_del_count ?? 0),
      update_seq: (info.update_seq ?? 0) as PeerInfo['update_seq'],
      // CouchDB accepts "0" as "no instance identity": checkpoints then never reset on it.
      instance_start_time: String(info.instance_start_time ?? '0'),
    };
  }

  /** Creates the database; one that already exists (412) is fine. */
  async ensureExists(): Promise<void> {
    try {
      await this.http.json({ method: 'PUT', path: this.dbSegment });
    } catch (err) {
      if (!(err instanceof RemoteError && err.status === 412)) throw err;
    }
  }

  /**
   * `_changes`, streamed and parsed row by row. A longpoll asks for heartbeats; since CouchDB
   * and Settee then hold the feed until a change, whatever its `timeout`, the client ends it
   * itself after `timeout` without rows and answers empty (last_seq = since), as a local
   * Database does. Its stall timeout grows by that `timeout`: a server that ignores
   * `heartbeat` may stay silent that long.
   */
  async changes<T extends object = Fields>(
    options: PeerChangesOptions = {},
    onRow?: (row: ChangeRow<Seq, NoInfer<T>>) => void,
  ): Promise<ChangesResponse<Seq, NoInfer<T>>> {
    return (await this.changesUntyped(
      options,
      onRow as ((row: ChangeRow) => void) | undefined,
    )) as ChangesResponse<Seq, T>;
  }

  private async changesUntyped(
    options: PeerChangesOptions,
    onRow: ((row: ChangeRow) => void) | undefined,
  ): Promise<ChangesResponse> {
    const { longpoll, signal } = options;
    const timeout = options.timeout ?? DEFAULT_LONGPOLL_TIMEOUT;
    const deadline = new AbortController();
    // Seqs of the rows handed to `onRow`: a feed cut off and read again hands each row once.
    const handed = new Set<string>();
    const read = (response: HttpResponse) => {
      const timer = longpoll ? setTimeout(() => handed.size === 0 && deadline.abort(), timeout) : undefined;
      const counted = (row: ChangeRow) => {
        const seq = JSON.stringify(row.seq);
        if (handed.has(seq)) return;
        handed.add(seq);
        onRow?.(row);
      };
      // A page asked with a limit is bounded (a longpoll may wait, with heartbeats, for its first row).
      const bounded = !longpoll && options.limit !== undefined;
      return readChanges(response, counted, bounded).finally(() => clearTimeout(timer));
    };
    const request = this.changesRequest(options);
    request.signal = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
    if (longpoll) request.timeoutMs = this.http.timeoutMs + timeout;
    try {
      return await this.http.request(request, read);
    } catch (err) {
      if (!deadline.signal.aborted || signal?.aborted) throw err;
      return { results: [], last_seq: options.since ?? 0, pending: 0 };
    }
  }

  private changesRequest(options: PeerChangesOptions): HttpRequest {
    const { doc_ids, selector } = options;
    const query: Record<string, QueryValue> = {
      style: options.style,
      since: options.since,
      limit: options.limit,
      descending: options.descending,
      include_docs: options.include_docs,
      conflicts: options.conflicts,
      attachments: options.attachments,
    };
    if (options.longpoll) {
      const timeout = options.timeout ?? DEFAULT_LONGPOLL_TIMEOUT;
      Object.assign(query, { feed: 'longpoll', timeout, heartbeat: this.heartbeatMs });
    }
    let json: unknown;
    if (doc_ids) [query.filter, json] = ['_doc_ids', { doc_ids }];
    else if (selector) [query.filter, json] = ['_selector', { selector }];
    const path = `${this.dbSegment}/_changes`;
    if (json === undefined && options.filter !== undefined) {
      // As CouchDB's replicator asks: the query params beside the feed's own (which win a clash).
      Object.assign(query, { filter: options.filter, view: options.view });
      return { method: 'GET', path, query: { ...filterQueryParams(options.query_params), ...query } };
    }
    return { method: json === undefined ? 'GET' : 'POST', path, query, json };
  }

  async revsDiff(request: RevsDiffRequest): Promise<RevsDiffResponse> {
    if (Object.keys(request).length === 0) return {};
    return this.http.json({ method: 'POST', path: `${this.dbSegment}/_revs_diff`, json: request });
  }

  /**
   * `_bulk_get`; when the server lacks it, one `open_revs` GET per entry (a few in parallel),
   * answering in the same shape: one result per requested entry, in request order.
   */
  async bulkGet(request: BulkGetRequest, options: BulkGetOptions = {}): Promise<BulkGetResponse> {
    if (request.docs.length === 0) return { results: [] };
    if (Date.now() >= this.bulkGetUnsupportedUntil) {
      try {
        return normalizeBulkGet(await this.postBulkGet(request, options));
      } catch (err) {
        if (!this.bulkGetMissing(err)) throw err;
      }
    }
    const results = await mapLimit(request.docs, this.openRevsConcurrency, (entry) =>
      this.openRevs(entry, options),
    );
    return { results };
  }

  private postBulkGet(request: BulkGetRequest, options: BulkGetOptions): Promise<BulkGetResponse> {
    return this.http.json<BulkGetResponse>({
      method: 'POST',
      path: `${this.dbSegment}/_bulk_get`,
      query: { revs: options.revs, latest: options.latest, attachments: options.attachments },
      json: { docs: request.docs },
      // Answered at once: these mean "no _bulk_get here", and the fallback is retried anyway.
      noRetry: [500, 501],
    });
  }

  /** Remembers (for this instance) that `_bulk_get` is missing, when `err` says so. */
  private bulkGetMissing(err: unknown): boolean {
    if (!(err instanceof RemoteError) || !NO_BULK_GET.includes(err.status)) return false;
    if (isMissingDatabase(err)) return false;
    const wait = err.status === 500 ? BULK_GET_RETRY_AFTER_500 : Number.POSITIVE_INFINITY;
    this.bulkGetUnsupportedUntil = Date.now() + wait;
    return true;
  }

  /** One `_bulk_get` entry through `GET /{db}/{id}?open_revs=…` (JSON). */
  private async openRevs(
    entry: BulkGetRequest['docs'][number],
    options: BulkGetOptions,
  ): Promise<BulkGetResponse['results'][number]> {
    const { id, rev, atts_since } = entry;
    const notFound = (missing: string): BulkGetDoc => ({
      error: { id, rev: missing, error: 'not_found', reason: 'missing' },
    });
    const query = {
      open_revs: rev === undefined ? 'all' : JSON.stringify([rev]),
      revs: options.revs,
      latest: options.latest,
      attachments: options.attachments,
      atts_since: atts_since?.length ? JSON.stringify(atts_since) : undefined,
    };
    try {
      const found = await this.http.json<OpenRevsResult[]>({ path: this.docPath(id), query });
      return { id, docs: found.map((result) => ('ok' in result ? result : notFound(result.missing))) };
    } catch (err) {
      if (!(err instanceof RemoteError && err.status === 404) || isMissingDatabase(err)) throw err;
      return { id, docs: [notFound(rev ?? 'undefined')] };
    }
  }

  /**
   * `_bulk_docs`. With `newEdits: false` servers list only the failures: every other document
   * is reported written, so the answer always has one result per document, in input order.
   */
  async bulkDocs<T extends object = Fields>(
    docs: NewDoc<T>[],
    options: BulkDocsOptions = {},
  ): Promise<WriteResult[]> {
    if (options.atomic) throw badRequest('atomic writes are not available over HTTP');
    if (docs.length === 0) return [];
    const newEdits = options.newEdits !== false;
    const results = await this.http.json<WriteResult[]>({
      method: 'POST',
      path: `${this.dbSegment}/_bulk_docs`,
      json: { docs, new_edits: newEdits },
      // A repeated interactive write could conflict with itself or duplicate id-less documents.
      idempotent: !newEdits,
    });
    return newEdits ? results : replicatedResults(docs as NewDoc[], results);
  }

  /**
   * A `_local/` document, or undefined when there is none. An id outside `_local/` names no
   * local document (as in a local Database): undefined, without asking.
   */
  async getLocal(id: string): Promise<LocalDoc | undefined> {
    if (!isLocalId(id)) return undefined;
    try {
      return await this.http.json<LocalDoc>({ path: this.docPath(id) });
    } catch (err) {
      if (err instanceof RemoteError && err.status === 404 && !isMissingDatabase(err)) return undefined;
      throw err;
    }
  }

  /** Writes a `_local` document; as in CouchDB 3 the server keeps no history and checks no rev. */
  async putLocal(doc: LocalDoc | NewDoc): Promise<WriteOk> {
    const id = doc._id;
    if (typeof id !== 'string' || !isLocalId(id)) throw badRequest('Local document ids start with _local/');
    return this.http.json<WriteOk>({ method: 'PUT', path: this.docPath(id), json: doc });
  }

  // --- conveniences, beyond the Peer surface ---------------------------------------------------

  /** Reads a document (the winner, or `options.rev`). */
  async get<T extends object = Fields>(id: string, options: GetOptions = {}): Promise<Doc<NoInfer<T>>> {
    const { atts_since, ...flags } = options;
    const query: Record<string, QueryValue> = { ...flags };
    if (atts_since) query.atts_since = JSON.stringify(atts_since);
    return this.http.json<Doc<T>>({ path: this.docPath(id), query });
  }

  /** Creates or updates one document; a conflict throws. Not retried once it may have arrived. */
  async put<T extends object = Fields>(doc: NewDoc<T>): Promise<WriteOk> {
    if (typeof doc._id !== 'string') throw badRequest('Document must have an _id');
    return this.http.json<WriteOk>({
      method: 'PUT',
      path: this.docPath(doc._id),
      json: doc,
      idempotent: false,
    });
  }

  /** Deletes a document: a tombstone child of `rev`. */
  async remove(id: string, rev: string): Promise<WriteOk> {
    const request = { method: 'DELETE', path: this.docPath(id), query: { rev }, idempotent: false };
    return this.http.json<WriteOk>(request);
  }

  async allDocs<T extends object = Fields>(
    options: AllDocsOptions = {},
  ): Promise<AllDocsResponse<NoInfer<T>>> {
    const { keys, ...rest } = options;
    const query: Record<string, QueryValue> = {};
    for (const [key, value] of Object.entries(rest)) {
      const isJson = key === 'key' || key === 'startkey' || key === 'endkey';
      query[key] = isJson ? JSON.stringify(value) : (value as QueryValue);
    }
    const path = `${this.dbSegment}/_all_docs`;
    if (keys === undefined) return this.http.json({ path, query });
    return this.http.json({ method: 'POST', path, query, json: { keys } });
  }

  /** Deletes the whole database. */
  async destroy(): Promise<void> {
    await this.http.json({ method: 'DELETE', path: this.dbSegment, idempotent: false });
  }

  /** A document's path: the id percent-encoded, except the slash of `_design/` and `_local/`. */
  private docPath(id: string): string {
    return `${this.dbSegment}/${encodeDocId(id)}`;
  }
}

export function encodeDocId(id: string): string {
  for (const prefix of ['_design/', '_local/']) {
    if (id.startsWith(prefix)) return prefix + encodeURIComponent(id.slice(prefix.length));
  }
  return encodeURIComponent(id);
}

/**
 * A database URL → the server root (where `_session` and the uuid live), the database segment
 * and any credentials. The segment is PouchDB's: kept as written when it holds a `%`, else
 * percent-encoded, so ids match what PouchDB computes for the same URL.
 */
export function parseDbUrl(url: string): { root: string; dbSegment: string; auth?: Credentials } {
  const { url: bare, auth } = splitCredentials(url);
  const parsed = new URL(bare);
  const parts = parsed.pathname.replace(/^\/+|\/+$/g, '').split('/');
  const last = parts.pop() ?? '';
  if (last === '') throw badRequest(`${bare} names no database`);
  const dbSegment = last.includes('%') ? last : encodeURIComponent(last);
  const root = `${parsed.protocol}//${parsed.host}${parts.length ? `/${parts.join('/')}` : ''}`;
  return { root, dbSegment, ...(auth ? { auth } : {}) };
}

/** A 404 about the database rather than a document or an endpoint. */
function isMissingDatabase(err: RemoteError): boolean {
  return err.status === 404 && /database|no_db_file/i.test(`${err.reason} ${err.remoteError}`);
}

/** pouchdb-server answers a missing document in `_bulk_get` with `{}`: make it CouchDB's error. */
function normalizeBulkGet(response: BulkGetResponse): BulkGetResponse {
  for (const result of response.results) {
    result.docs = result.docs.map((doc) =>
      'ok' in doc || 'error' in doc
        ? doc
        : { error: { id: result.id, rev: 'undefined', error: 'not_found', reason: 'missing' } },
    );
  }
  return response;
}

/** One result per replicated document: the server's error for it, or written. */
function replicatedResults(docs: NewDoc[], answer: WriteResult[]): WriteResult[] {
  const errors = new Map<string, WriteResult[]>();
  for (const result of answer) {
    if (!('error' in result)) continue;
    const key = result.id;
    errors.set(key, [...(errors.get(key) ?? []), result]);
  }
  return docs.map((doc) => {
    const id = String(doc._id ?? '');
    const rev = revOf(doc);
    const candidates = errors.get(id);
    const index = candidates?.findIndex((e) => e.rev === undefined || e.rev === rev) ?? -1;
    if (candidates && index >= 0) return candidates.splice(index, 1)[0]!;
    return { ok: true, id, rev };
  });
}

/** The revision a replicated write stores: `_revisions` wins over `_rev`, as in CouchDB. */
function revOf(doc: NewDoc): string {
  const revisions = doc._revisions;
  if (revisions?.ids[0]) return `${revisions.start}-${revisions.ids[0]}`;
  return typeof doc._rev === 'string' ? doc._rev : '';
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/** `query_params` as URL parameters: strings as they are, other values as JSON (`5`, `true`, `{…}`). */
function filterQueryParams(params: Record<string, unknown> | undefined): Record<string, QueryValue> {
  const query: Record<string, QueryValue> = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    if (value !== undefined) query[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return query;
}
