/**
 * `Database.query`'s options, named as PouchDB's `db.query` names them, turned into a parsed
 * view query with CouchDB's checks and errors (the same parser the HTTP route uses).
 */
import type { Fields } from '../../core/api.js';
import { badRequest } from '../../core/errors.js';
import { parseViewQuery, type ViewQuery } from '../../core/views/params.js';
import type { ViewResultRow, ViewStream } from './views.js';

/** The options of `Database.query` (PouchDB's names; values as JSON, not strings). */
export interface ViewOptions {
  key?: unknown;
  keys?: unknown[];
  startkey?: unknown;
  endkey?: unknown;
  startkey_docid?: string;
  endkey_docid?: string;
  inclusive_end?: boolean;
  descending?: boolean;
  limit?: number;
  skip?: number;
  group?: boolean;
  group_level?: number;
  /** False: the map rows of a view that has a reduce. */
  reduce?: boolean;
  include_docs?: boolean;
  conflicts?: boolean;
  /** Bring the index up to date first (true, the default), not at all (false), or after (lazy). */
  update?: boolean | 'true' | 'false' | 'lazy';
  stable?: boolean;
  update_seq?: boolean;
}

/** What `Database.query` resolves to; `total_rows` and `offset` are absent from reduced answers. */
export interface ViewResponse<T extends object = Fields> {
  total_rows?: number;
  offset?: number;
  update_seq?: number;
  rows: ViewResultRow<T>[];
}

/**
 * Parses `Database.query` options as a JSON body of `POST _view` is parsed: in the order given
 * (so `key` then `startkey` differ from the reverse, as in CouchDB), undefined members left out.
 *
 * @throws SetteeError `query_parse_error` or `bad_request` (400) with CouchDB's reasons.
 */
export function viewQueryOf(options: ViewOptions): ViewQuery {
  const members: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(options)) {
    if (value === undefined) continue;
    members[name] =
      (name === 'update' || name === 'stable') && typeof value === 'boolean' ? String(value) : value;
  }
  return parseViewQuery({}, members);
}

/**
 * `'ddoc/view'` (or `'_design/ddoc/view'`) split into the design document's name and the view's.
 *
 * @throws SetteeError `bad_request` (400) for any other shape.
 */
export function splitViewPath(path: string): [ddoc: string, view: string] {
  const parts = path.replace(/^_design\//, '').split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw badRequest('A view is named `ddoc/view` (the design document, then the view)');
  }
  return [parts[0], parts[1]];
}

/** Reads a whole view answer into CouchDB's response body. */
export async function collectView<T extends object = Fields>(stream: ViewStream): Promise<ViewResponse<T>> {
  const rows: ViewResultRow<T>[] = [];
  for await (const row of stream.rows) rows.push(row as ViewResultRow<T>);
  return {
    ...(stream.totalRows !== undefined && { total_rows: stream.totalRows }),
    ...(stream.offset !== undefined && { offset: stream.offset }),
    ...(stream.updateSeq !== undefined && { update_seq: stream.updateSeq }),
    rows,
  };
}
