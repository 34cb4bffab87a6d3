/**
 * The query parameters of `GET/POST /{db}/_design/{ddoc}/_view/{view}`, parsed and checked as
 * CouchDB does (couch_mrview_http.erl `parse_params`, couch_mrview_util.erl `validate_args`),
 * with CouchDB's `query_parse_error` reasons. Pure: the HTTP route and the embedded API both
 * call it.
 */
import { badRequest, queryParseError } from '../errors.js';
import { ownValue } from '../own.js';
import { checkRangeOrder } from './range.js';
import { shown } from './shown.js';

/** `update`: bring the index up to date before answering, answer from it as it is, or after. */
export type ViewUpdate = 'true' | 'false' | 'lazy';

/**
 * A parsed view query. Absent bounds are `undefined` (a JSON `null` is a real key). `key=K` is
 * not kept apart: as in CouchDB it sets both `startkey` and `endkey`, and so does a `keys` array
 * of exactly one key (parameters apply in the order given, so `key=a&startkey=b` differs from
 * `startkey=b&key=a`).
 */
export interface ViewQuery {
  readonly startkey?: unknown;
  readonly endkey?: unknown;
  /** Two or more keys (or none): one lookup per key, rows in this order. */
  readonly keys?: readonly unknown[];
  readonly startkeyDocId?: string;
  readonly endkeyDocId?: string;
  readonly inclusiveEnd: boolean;
  readonly descending: boolean;
  readonly limit?: number;
  readonly skip: number;
  /** As given: `validateViewQuery` combines them into a {@link Grouping}. */
  readonly group?: boolean;
  readonly groupLevel?: number;
  readonly reduce?: boolean;
  readonly includeDocs: boolean;
  readonly conflicts?: boolean;
  readonly attachments: boolean;
  readonly attEncodingInfo: boolean;
  readonly update: ViewUpdate;
  readonly stable: boolean;
  readonly updateSeq: boolean;
  readonly sorted: boolean;
}

/** How reduced rows group: by the whole key, by the first N items of array keys, or all in one. */
export type Grouping = number | 'exact' | 'all';

/** A query checked against its view: whether it reduces, and how it groups if it does. */
export interface ValidatedViewQuery extends ViewQuery {
  readonly reduce: boolean;
  readonly grouping: Grouping;
}

type Draft = { -readonly [K in keyof ViewQuery]: ViewQuery[K] };

/** A value of the query string (a string to decode) or of a JSON body (already decoded). */
type Param = { value: unknown; decoded: boolean };

const DEFAULTS: ViewQuery = {
  inclusiveEnd: true,
  descending: false,
  skip: 0,
  includeDocs: false,
  attachments: false,
  attEncodingInfo: false,
  update: 'true',
  stable: false,
  updateSeq: false,
  sorted: true,
};

/**
 * Parses a view query: the JSON body of a POST first (its members decoded already), then the
 * query string on top, as CouchDB's `parse_body_and_query` does. Unknown parameters are ignored.
 *
 * @throws SetteeError `query_parse_error` (400) with CouchDB's reason for a bad value;
 *   `bad_request` (400) for JSON that does not parse or a body that is no object.
 * @example
 * parseViewQuery({ startkey: '["a"]', limit: '10', descending: 'true' });
 * parseViewQuery({ group: 'true' }, { keys: ['a', 'b'] });
 */
export function parseViewQuery(query: Readonly<Record<string, string>>, body?: unknown): ViewQuery {
  const draft: Draft = { ...DEFAULTS };
  if (body !== undefined) {
    const members = objectBody(body);
    if (members.queries !== undefined) {
      // chttpd_view.erl assert_no_queries_param: multi-queries have their own endpoint.
      throw badRequest('The `queries` parameter is no longer supported at this endpoint');
    }
    // couch_mrview_util.erl get_view_keys checks the body's keys before any parameter.
    if (members.keys !== undefined && !Array.isArray(members.keys)) {
      throw badRequest('`keys` member must be a array.');
    }
    applyParams(draft, members, true);
  }
  applyParams(draft, query, false);
  return draft;
}

/**
 * Parses `POST /{db}/_design/{ddoc}/_view/{view}/queries`: each entry of the body's `queries` is
 * a query of decoded members applied over the query string's parameters (chttpd_view.erl
 * `multi_query_view`). Validate each result with {@link validateViewQuery}.
 */
export function parseViewQueries(query: Readonly<Record<string, string>>, body: unknown): ViewQuery[] {
  const queries = objectBody(body).queries;
  if (queries === undefined) throw badRequest('POST body must include `queries` parameter.');
  if (!Array.isArray(queries)) throw badRequest('`queries` member must be a array.');
  const base = parseViewQuery(query);
  return queries.map((entry: unknown) => {
    // Each query chooses its own grouping and keys (parse_params resets them).
    const draft: Draft = { ...base, group: undefined, groupLevel: undefined, keys: undefined };
    applyParams(draft, objectBody(entry), true);
    return draft;
  });
}

/**
 * Checks a query against its view, as couch_mrview_util.erl `validate_args` and `check_range`:
 * a view with a reduce function reduces unless `reduce=false`.
 *
 * @throws SetteeError `query_parse_error` (400) with CouchDB's reason.
 */
export function validateViewQuery(q: ViewQuery, view: { hasReduce: boolean }): ValidatedViewQuery {
  const level = groupLevelOf(q);
  const reducing = view.hasReduce && q.reduce !== false;
  if (!view.hasReduce && q.reduce === true) throw queryParseError('Reduce is invalid for map-only views.');
  if (reducing && level !== 'exact' && q.keys !== undefined) {
    throw queryParseError('Multi-key fetches for reduce views must use `group=true`');
  }
  if (q.keys !== undefined && q.keys.length > 0 && (q.startkey !== undefined || q.endkey !== undefined)) {
    throw queryParseError('`keys` is incompatible with `key`, `start_key` and `end_key`');
  }
  if (!reducing && level !== 0) throw queryParseError('Invalid use of grouping on a map view.');
  if (reducing && q.includeDocs) throw queryParseError('`include_docs` is invalid for reduce');
  if (reducing && q.conflicts !== undefined)
    throw queryParseError('`conflicts` is invalid for reduce views.');
  checkRangeOrder(q);
  return { ...q, reduce: reducing, grouping: level === 0 ? 'all' : level };
}

/** couch_mrview_util.erl `determine_group_level`. */
function groupLevelOf(q: ViewQuery): number | 'exact' {
  if (q.group === false && q.groupLevel !== undefined && q.groupLevel > 0) {
    throw queryParseError("Can't specify group=false and group_level>0 at the same time");
  }
  if (q.groupLevel !== undefined) return q.groupLevel;
  return q.group === true ? 'exact' : 0;
}

function objectBody(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('Request body must be a JSON object');
  }
  return body as Record<string, unknown>;
}

function applyParams(draft: Draft, params: Readonly<Record<string, unknown>>, decoded: boolean): void {
  for (const [name, value] of Object.entries(params)) {
    // Own names only: `__proto__` or `constructor` in a body or query names no parameter.
    const apply = ownValue(PARAMS, name);
    if (apply) apply(draft, { value, decoded });
  }
}

type Apply = (draft: Draft, param: Param) => void;

const startKey: Apply = (d, p) => void (d.startkey = json(p));
const endKey: Apply = (d, p) => void (d.endkey = json(p));
const startDocId: Apply = (d, p) => void (d.startkeyDocId = docId(p, 'start_key_docid'));
const endDocId: Apply = (d, p) => void (d.endkeyDocId = docId(p, 'end_key_docid'));

/** Parameter names as couch_mrview_http.erl `parse_param` spells them (aliases included). */
const PARAMS: Readonly<Record<string, Apply>> = {
  key: (d, p) => setKey(d, json(p)),
  keys: (d, p) => setKeys(d, json(p)),
  startkey: startKey,
  start_key: startKey,
  endkey: endKey,
  end_key: endKey,
  startkey_docid: startDocId,
  start_key_doc_id: startDocId,
  endkey_docid: endDocId,
  end_key_doc_id: endDocId,
  inclusive_end: (d, p) => void (d.inclusiveEnd = bool(p)),
  descending: (d, p) => void (d.descending = bool(p)),
  limit: (d, p) => void (d.limit = positiveInt(p)),
  skip: (d, p) => void (d.skip = positiveInt(p)),
  group: (d, p) => void (d.group = bool(p)),
  group_level: (d, p) => void (d.groupLevel = positiveInt(p)),
  reduce: (d, p) => void (d.reduce = bool(p)),
  include_docs: (d, p) => void (d.includeDocs = bool(p)),
  conflicts: (d, p) => void (d.conflicts = bool(p)),
  attachments: (d, p) => void (d.attachments = bool(p)),
  att_encoding_info: (d, p) => void (d.attEncodingInfo = bool(p)),
  update_seq: (d, p) => void (d.updateSeq = bool(p)),
  sorted: (d, p) => void (d.sorted = bool(p)),
  update: (d, p) => void (d.update = oneOf(p, ['true', 'false', 'lazy'], 'Invalid value for `update`.')),
  stable: (d, p) => void (d.stable = oneOf(p, ['true', 'false'], 'Invalid value for `stable`.') === 'true'),
  stale: setStale,
};

function setKey(draft: Draft, key: unknown): void {
  draft.startkey = key;
  draft.endkey = key;
}

/** One key is a `key` (chttpd_view_test.erl: `keys=["a"]` reduces without `group=true`). */
function setKeys(draft: Draft, keys: unknown): void {
  if (!Array.isArray(keys)) throw queryParseError('`keys` must be an array of strings.');
  if (keys.length === 1) setKey(draft, keys[0]);
  else draft.keys = keys;
}

/** The older spelling of `stable` + `update`. */
function setStale(draft: Draft, param: Param): void {
  const stale = oneOf(param, ['ok', 'update_after'], 'Invalid value for `stale`.');
  draft.stable = true;
  draft.update = stale === 'ok' ? 'false' : 'lazy';
}

function json(param: Param): unknown {
  if (param.decoded) return param.value;
  try {
    return JSON.parse(String(param.value));
  } catch {
    throw badRequest('invalid UTF-8 JSON');
  }
}

function docId(param: Param, name: string): string {
  if (typeof param.value !== 'string') throw queryParseError(`\`${name}\` must be a string.`);
  return param.value;
}

function oneOf<T extends string>(param: Param, allowed: readonly T[], reason: string): T {
  const found = allowed.find((value) => value === param.value);
  if (found === undefined) throw queryParseError(reason);
  return found;
}

/** `parse_boolean`: `true`/`false` in any case, or a JSON boolean in a body. */
function bool(param: Param): boolean {
  if (typeof param.value === 'boolean') return param.value;
  const text = typeof param.value === 'string' ? param.value.toLowerCase() : undefined;
  if (text === 'true') return true;
  if (text === 'false') return false;
  throw queryParseError(`Invalid boolean parameter: ${shown(param.value)}`);
}

/** `parse_pos_int`: an integer (Erlang's `list_to_integer` takes a sign) that is not negative. */
function positiveInt(param: Param): number {
  const value = integer(param.value);
  if (value < 0) throw queryParseError(`Invalid value for positive integer: ${shown(param.value)}`);
  return value;
}

function integer(value: unknown): number {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^[+-]?\d{1,15}$/.test(value)) return Number(value);
  throw queryParseError(`Invalid value for integer: ${shown(value)}`);
}
