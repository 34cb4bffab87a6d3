/**
 * The body of `POST /{db}/_find` and `POST /{db}/_explain`, validated as mango_opts:validate_find
 * validates it: the options in its order, each with its default and CouchDB's error, then any
 * key it does not know (`invalid_key`).
 */
import {
  erlangTerm,
  isJsonObject,
  mangoError,
  requireBoolean,
  requireNonNegativeInteger,
  requirePositiveInteger,
  validateOptions,
} from './mango-errors.js';
import { parseSort, type SortField, validateSelector } from './index-definition.js';
import { parseField, type Selector } from './selector.js';

/** A validated `_find` request. */
export interface FindRequest {
  /** The selector as given (validated); the plan carries its normal form. */
  selector: Selector;
  /** `use_index`: `[]`, `[ddoc]` or `[ddoc, name]`, the ddoc without `_design/`. */
  useIndex: string[];
  /** The opaque bookmark, or `null` for the first page. */
  bookmark: string | null;
  limit: number;
  skip: number;
  sort: SortField[];
  /** The fields to return; `null` for whole documents. */
  fields: string[] | null;
  r: number;
  conflicts: boolean;
  /** `stale: "ok"` means `stable: true, update: false` (deprecated). */
  stale: 'ok' | false;
  update: boolean;
  stable: boolean;
  executionStats: boolean;
}

/** `limit` when the request gives none (mango_opts:default_limit). */
export const DEFAULT_LIMIT = 25;

/**
 * Validates a `_find` body.
 *
 * @throws `SetteeError` with CouchDB's error name and reason (mango_error.erl) for the first bad
 *   option, or `invalid_key` for an option `_find` does not take.
 */
export function parseFindRequest(body: unknown): FindRequest {
  if (!isJsonObject(body)) throw mangoError('bad_request', 'Request body must be a JSON object');
  const options = validateOptions<FindRequest & { partition: string }>(body, {
    selector: { key: 'selector', validate: validateSelector },
    useIndex: { key: 'use_index', default: [], validate: validateUseIndex },
    bookmark: { key: 'bookmark', default: null, validate: validateBookmark },
    limit: { key: 'limit', default: DEFAULT_LIMIT, validate: requireNonNegativeInteger },
    skip: { key: 'skip', default: 0, validate: requireNonNegativeInteger },
    sort: { key: 'sort', default: [], validate: parseSort },
    fields: { key: 'fields', default: null, validate: validateFields },
    partition: { key: 'partition', default: '', validate: validatePartition },
    r: { key: 'r', default: 1, validate: requirePositiveInteger },
    conflicts: { key: 'conflicts', default: false, validate: requireBoolean },
    stale: { key: 'stale', default: false, validate: validateStale },
    update: { key: 'update', default: true, validate: requireBoolean },
    stable: { key: 'stable', default: false, validate: requireBoolean },
    executionStats: { key: 'execution_stats', default: false, validate: requireBoolean },
  });
  const { partition: _partition, ...request } = options;
  return request;
}

/**
 * mango_opts:validate_use_index. A string is split at its first `/` only (binary:split), so
 * `"ddoc/name"` names an index, `"_design/ddoc"` a design document, and `"_design/ddoc/name"`
 * names the design document `ddoc/name`, exactly as CouchDB reads it.
 */
function validateUseIndex(value: unknown): string[] {
  if (value === null) return [];
  if (typeof value === 'string') {
    const slash = value.indexOf('/');
    const parts = slash < 0 ? [value] : [value.slice(0, slash), value.slice(slash + 1)];
    return parts[0] === '_design' && parts.length === 2 ? parts.slice(1) : parts;
  }
  if (Array.isArray(value) && value.length <= 2 && value.every((part) => typeof part === 'string')) {
    return value as string[];
  }
  throw mangoError('invalid_index_name', `Invalid index name: ${erlangTerm(value)}`);
}

/** mango_opts:validate_bookmark: `null` and `""` mean none; decoding waits for the executor. */
function validateBookmark(value: unknown): string | null {
  if (value === null || value === '') return null;
  // CouchDB has no reason text for a non-string here (it answers 500); ours reads like the others.
  if (typeof value !== 'string') {
    throw mangoError('invalid_bookmark', `Invalid bookmark value: ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * mango_fields:new: an array of field names, `[]` meaning whole documents. CouchDB lets objects
 * through here and then fails on them; we refuse them with its `invalid_field` at once.
 */
function validateFields(value: unknown): string[] | null {
  if (!Array.isArray(value)) {
    throw mangoError('invalid_fields', `Fields must be an array of strings, not: ${erlangTerm(value)}`);
  }
  for (const field of value) {
    if (typeof field !== 'string') {
      throw mangoError('invalid_field', `Invalid JSON for field spec: ${erlangTerm(field)}`);
    }
    parseField(field);
  }
  return value.length === 0 ? null : (value as string[]);
}

/** Settee databases are not partitioned: only the default empty partition is accepted. */
function validatePartition(value: unknown): string {
  if (value !== '') {
    throw mangoError('invalid_value', `Invalid value for partition: ${erlangTerm(value)}`);
  }
  return value;
}

/** mango_opts:is_ok_or_false: `"ok"`, `"false"` or `false`. */
function validateStale(value: unknown): 'ok' | false {
  if (value === 'ok') return 'ok';
  if (value === false || value === 'false') return false;
  // CouchDB has no reason text for this one (it answers 500); ours names the option.
  throw mangoError('invalid_value', `Invalid value for stale: ${erlangTerm(value)}`);
}
