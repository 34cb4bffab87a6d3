/**
 * What the server counts on every request, as plain numbers changed in place: the hot path
 * allocates nothing. `_stats` and `_prometheus` read them when they are asked.
 */
import type { Target } from '../router.js';

/** The methods CouchDB counts (src/couch/priv/stats_descriptions.cfg, `httpd_request_methods`). */
export const COUCHDB_METHODS = ['COPY', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'] as const;

/** The status codes CouchDB lists, shown at 0 until they happen (`httpd_status_codes`). */
export const COUCHDB_STATUS_CODES = [
  200, 201, 202, 204, 206, 301, 302, 304, 400, 401, 403, 404, 405, 406, 409, 412, 413, 414, 415, 416, 417,
  500, 501, 503, 507,
] as const;

/** A request's effect on documents, told from its target and method (bulk endpoints count themselves). */
export type DocumentEffect = 'read' | 'write' | undefined;

/**
 * What an answered request did to documents: a document or attachment read (a 304 read it too)
 * or written, or a document created by `POST /{db}`. Local documents are not counted, as CouchDB
 * counts them apart.
 */
export function documentEffect(target: Target | undefined, method: string, status: number): DocumentEffect {
  if (target === undefined || status >= 400) return undefined;
  switch (target.kind) {
    case 'doc':
    case 'attachment':
      if (method === 'GET' || method === 'HEAD') return 'read';
      return method === 'PUT' || method === 'DELETE' || method === 'COPY' ? 'write' : undefined;
    case 'db':
      return method === 'POST' ? 'write' : undefined;
    default:
      return undefined;
  }
}

export class RequestCounts {
  requests = 0;
  /** By method; a method CouchDB does not list is not counted (a client may send any word). */
  readonly methods = new Map<string, number>(COUCHDB_METHODS.map((method) => [method, 0]));
  /** By status code; Node only sends codes 100–599, so the map stays small. */
  readonly statuses = new Map<number, number>(COUCHDB_STATUS_CODES.map((code) => [code, 0]));
  /** Documents read (CouchDB counts each `couch_db:open_doc`). */
  databaseReads = 0;
  /** Requests that changed a database (CouchDB counts each `update_docs` call). */
  databaseWrites = 0;
  /** Documents written. */
  documentWrites = 0;
  /** Live `_changes` feeds (continuous, eventsource, longpoll) open now. */
  openFeeds = 0;
  /** Fastest and slowest request, and the sum of squares of their times (ms): for `_stats`. */
  fastestMs = Number.POSITIVE_INFINITY;
  slowestMs = 0;
  squaresMs = 0;

  /** Counts one answered request. */
  count(method: string, status: number, ms: number, effect: DocumentEffect): void {
    this.requests++;
    const byMethod = this.methods.get(method);
    if (byMethod !== undefined) this.methods.set(method, byMethod + 1);
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1);
    if (ms < this.fastestMs) this.fastestMs = ms;
    if (ms > this.slowestMs) this.slowestMs = ms;
    this.squaresMs += ms * ms;
    if (effect === 'read') this.databaseReads++;
    else if (effect === 'write') this.wrote(1);
  }

  /** A request that wrote `documents` documents (none: it changed nothing). */
  wrote(documents: number): void {
    if (documents === 0) return;
    this.databaseWrites++;
    this.documentWrites += documents;
  }
}
