/**
 * Mango JSON indexes: the body `POST /{db}/_index` takes, the shape `GET /{db}/_index` lists, and
 * the design document CouchDB stores an index in (mango_opts.erl validate_idx_create,
 * mango_idx.erl new/from_ddoc, mango_idx_view.erl add/from_ddoc/to_json, mango_sort.erl).
 *
 * @example
 * const { ddoc, name, def } = describeNewIndex({ index: { fields: ['type', { date: 'desc' }] } });
 * const body = indexToDesignDoc({ ddoc, name, type: 'json', def }); // { language: 'query', views }
 */
import { canonicalJson } from '../canonical-json.js';
import { md5Hex } from '../md5.js';
import {
  erlangTerm,
  isJsonObject,
  mangoError,
  requireString,
  validateOptions,
  requirePositiveInteger,
} from './mango-errors.js';
import { normalizeSelector } from './normalize.js';
import { compileSelector, type Selector } from './selector.js';

export type SortDirection = 'asc' | 'desc';

/** One sort or index field: `{field: direction}`, with exactly one key. */
export type IndexField = Record<string, SortDirection>;

/** A field and its direction, as a sort or an index column. */
export interface SortField {
  readonly field: string;
  readonly direction: SortDirection;
}

/** A Mango index as `GET /{db}/_index` lists it. */
export interface MangoIndex {
  /** The design document's id (`_design/…`); `null` for the special `_all_docs` index. */
  ddoc: string | null;
  name: string;
  type: 'json' | 'special';
  def: { fields: IndexField[]; partial_filter_selector?: Selector };
}

/** The primary index every database has: documents by `_id` (mango_idx_special:to_json). */
export const ALL_DOCS_INDEX: MangoIndex = Object.freeze<MangoIndex>({
  ddoc: null,
  name: '_all_docs',
  type: 'special',
  def: { fields: [{ _id: 'asc' }] },
});

/**
 * Parses a sort or an index's `fields` (mango_sort:new): strings (ascending) or one-key objects
 * `{field: "asc" | "desc"}`, all in one direction.
 *
 * @throws `invalid_sort_json` when not an array, `invalid_sort_field` for a bad entry (a bad
 *   direction included: mango_sort only matches `asc`/`desc`), `unsupported_mixed_sort`.
 */
export function parseSort(value: unknown): SortField[] {
  if (!Array.isArray(value)) {
    throw mangoError('invalid_sort_json', `Sort must be an array of sort specs, not: ${erlangTerm(value)}`);
  }
  const fields = value.map(parseSortField);
  if (new Set(fields.map((field) => field.direction)).size > 1) {
    throw mangoError(
      'unsupported_mixed_sort',
      'Sorts currently only support a single direction for all fields.',
    );
  }
  return fields;
}

function parseSortField(spec: unknown): SortField {
  if (typeof spec === 'string' && spec !== '') return { field: spec, direction: 'asc' };
  const entries = isJsonObject(spec) ? Object.entries(spec) : [];
  const [entry] = entries;
  if (entries.length === 1 && entry && (entry[1] === 'asc' || entry[1] === 'desc')) {
    return { field: entry[0], direction: entry[1] };
  }
  throw mangoError('invalid_sort_field', `Invalid sort field: ${erlangTerm(spec)}`);
}

/** The index columns, in order. */
export function indexColumns(index: MangoIndex): string[] {
  return index.def.fields.flatMap((field) => Object.keys(field));
}

/** The partial filter selector, when the index has a non-empty one (mango_idx:get_partial_filter_selector). */
export function partialFilterSelector(index: MangoIndex): Selector | undefined {
  const selector = index.def.partial_filter_selector;
  return selector && Object.keys(selector).length > 0 ? selector : undefined;
}

// ---------------------------------------------------------------------------------------------
// POST /{db}/_index

/** What `POST /{db}/_index` creates: where, under which name, and the definition. */
export interface NewIndex {
  /** `_design/…`: the `ddoc` given (prefixed when needed) or one derived from the definition. */
  ddoc: string;
  name: string;
  type: 'json';
  def: MangoIndex['def'];
}

interface IndexCreateOptions {
  def: MangoIndex['def'];
  type: string;
  name: string | null;
  ddoc: string | null;
  w: number;
  partitioned: boolean | null;
}

/**
 * Validates a `POST /{db}/_index` body and names the index. Without `name` or `ddoc`, both derive
 * from a hash of the definition, as CouchDB's (mango_idx:gen_name hashes the options with SHA-1;
 * we hash their canonical JSON with MD5), so posting the same definition twice names the same
 * index and the second post can answer `{"result": "exists"}`.
 *
 * @throws `SetteeError` with CouchDB's name and reason for a bad body (see the tests for each).
 */
export function describeNewIndex(body: unknown): NewIndex {
  if (!isJsonObject(body)) throw mangoError('bad_request', 'Request body must be a JSON object');
  // The order and defaults of mango_opts:validate_idx_create.
  const options = validateOptions<IndexCreateOptions>(body, {
    def: { key: 'index', validate: validateIndexDef },
    type: { key: 'type', default: 'json', validate: requireString },
    name: { key: 'name', default: null, validate: requireString },
    ddoc: { key: 'ddoc', default: null, validate: requireString },
    w: { key: 'w', default: 2, validate: requirePositiveInteger },
    partitioned: { key: 'partitioned', default: null, validate: validatePartitioned },
  });
  // mango_idx:get_idx_type: Settee has no text search service, so only "json" indexes.
  if (options.type !== 'json') {
    throw mangoError('invalid_index', `Invalid type for index: ${options.type}`);
  }
  const hash = md5Hex(
    canonicalJson({ def: options.def, name: options.name, partitioned: options.partitioned }),
  );
  return {
    ddoc: designDocId(options.ddoc ?? hash),
    name: options.name ?? hash,
    type: 'json',
    def: options.def,
  };
}

/** mango_idx:get_idx_ddoc: `_design/` is added unless present. */
function designDocId(ddoc: string): string {
  return ddoc.startsWith('_design/') ? ddoc : `_design/${ddoc}`;
}

function validatePartitioned(value: unknown): boolean {
  // mango_opts:validate_partitioned has no reason text of its own (CouchDB answers 500 here).
  if (typeof value !== 'boolean') {
    throw mangoError('invalid_value', `Invalid value for partitioned: ${erlangTerm(value)}`);
  }
  if (value)
    throw mangoError('invalid_value', 'Settee databases are not partitioned: partitioned must be false');
  return value;
}

/** mango_idx_view:validate_new: `{fields, partial_filter_selector?}` and nothing else. */
function validateIndexDef(value: unknown): MangoIndex['def'] {
  if (!isJsonObject(value)) {
    throw mangoError('invalid_index', `JSON indexes must be an object, not: ${erlangTerm(value)}`);
  }
  const def = validateOptions<{ fields: SortField[]; selector: Selector }>(value, {
    fields: { key: 'fields', validate: parseSort },
    selector: { key: 'partial_filter_selector', default: {}, validate: validatePartialFilter },
  });
  const fields = def.fields.map(({ field, direction }) => ({ [field]: direction }));
  return Object.keys(def.selector).length > 0
    ? { fields, partial_filter_selector: def.selector }
    : { fields };
}

/** mango_opts:validate_selector: an object, stored in its normal form. */
export function validateSelector(value: unknown): Selector {
  if (!isJsonObject(value)) {
    throw mangoError('invalid_selector_json', `Selector must be a JSON object, not: ${erlangTerm(value)}`);
  }
  compileSelector(value);
  return value;
}

function validatePartialFilter(value: unknown): Selector {
  return normalizeSelector(validateSelector(value));
}

// ---------------------------------------------------------------------------------------------
// Design documents of `language: "query"`

/** One index as a view of a `language: "query"` design document (mango_idx_view:make_view). */
export interface QueryView {
  /** The definition, fields as one ordered object: `{"fields": {"a": "asc"}, "partial_filter_selector": {}}`. */
  map: { fields: IndexField; partial_filter_selector: Selector };
  reduce: '_count';
  /** The definition as posted, which CouchDB keeps under `options.def`. */
  options: { def: { fields: IndexField[]; partial_filter_selector?: Selector } };
}

/** The fields of a design document holding one Mango index, to merge into the stored one. */
export interface QueryDesignDoc {
  language: 'query';
  views: Record<string, QueryView>;
}

/**
 * The design document body fields CouchDB stores a JSON index under (mango_idx_view:add and
 * make_view; mango_httpd sets `language: "query"`). Merge `views` into an existing design
 * document's views: a design document may hold several indexes.
 */
export function indexToDesignDoc(index: Pick<MangoIndex, 'name' | 'def'>): QueryDesignDoc {
  const fields = Object.assign({}, ...index.def.fields) as IndexField;
  const view: QueryView = {
    map: { fields, partial_filter_selector: index.def.partial_filter_selector ?? {} },
    reduce: '_count',
    options: { def: index.def },
  };
  return { language: 'query', views: { [index.name]: view } };
}

/**
 * The JSON indexes a design document holds: none unless `language` is `"query"`; views whose
 * `map` is not a valid definition are skipped, as mango_idx_view:from_ddoc skips them.
 */
export function indexesFromDesignDoc(doc: Record<string, unknown>): MangoIndex[] {
  if (doc.language !== 'query' || typeof doc._id !== 'string' || !isJsonObject(doc.views)) return [];
  const ddoc = doc._id;
  return Object.entries(doc.views).flatMap(([name, view]) => {
    const def = isJsonObject(view) ? definitionFromMap(view.map) : null;
    return def ? [{ ddoc, name, type: 'json' as const, def }] : [];
  });
}

function definitionFromMap(map: unknown): MangoIndex['def'] | null {
  if (!isJsonObject(map) || !isJsonObject(map.fields)) return null;
  const entries = Object.entries(map.fields);
  if (!entries.every(([, direction]) => direction === 'asc' || direction === 'desc')) return null;
  const fields = entries.map(([field, direction]) => ({ [field]: direction as SortDirection }));
  const selector = map.partial_filter_selector;
  if (selector !== undefined && !isJsonObject(selector)) return null;
  return selector && Object.keys(selector).length > 0
    ? { fields, partial_filter_selector: selector }
    : { fields };
}

/**
 * An index as CouchDB lists it and shows it in `_explain` (mango_idx_view:to_json adds
 * `partitioned`; the special index has none).
 */
export function indexJson(index: MangoIndex): Record<string, unknown> {
  if (index.type === 'special')
    return { ddoc: index.ddoc, name: index.name, type: index.type, def: index.def };
  return { ddoc: index.ddoc, name: index.name, type: index.type, partitioned: false, def: index.def };
}
