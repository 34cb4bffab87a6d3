/**
 * The one catalogue of Settee's errors. Every error carries CouchDB's `error` name, a human
 * `reason` and the HTTP status the server answers with, so the library and the server report
 * failures the same way (`{"error", "reason"}` on the wire).
 */
export const ERROR_STATUS = {
  bad_request: 400,
  illegal_docid: 400,
  illegal_database_name: 400,
  doc_validation: 400,
  query_parse_error: 400,
  /** A design document's function that does not compile (couch_query_servers.erl `try_compile`). */
  compilation_error: 400,
  /** A design document CouchDB would not have stored (couch_mrview.erl `validate`). */
  invalid_design_doc: 400,
  // Mango's (`_find`, `_index`, `_explain`): CouchDB's names from mango_error.erl, all 400.
  invalid_key: 400,
  missing_required_key: 400,
  invalid_value: 400,
  invalid_string: 400,
  invalid_boolean: 400,
  invalid_pos_integer: 400,
  invalid_non_neg_integer: 400,
  invalid_selector_json: 400,
  invalid_index_name: 400,
  invalid_bookmark: 400,
  invalid_sort_json: 400,
  invalid_sort_field: 400,
  unsupported_mixed_sort: 400,
  invalid_fields: 400,
  invalid_field: 400,
  invalid_index: 400,
  no_usable_index: 400,
  /** `POST /{db}/_index` into a design document of another language (mango_util:load_ddoc). */
  invalid_ddoc_lang: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  /** The replicator's: a source or target database that cannot be opened. */
  db_not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  file_exists: 412,
  missing_stub: 412,
  precondition_failed: 412,
  too_large: 413,
  document_too_large: 413,
  attachment_too_large: 413,
  /** More documents in one `_bulk_docs` than `max_bulk_docs_count` (CouchDB 3's name). */
  max_bulk_docs_count_exceeded: 413,
  /** More entries in one `_bulk_get` than `max_bulk_get_count`. */
  max_bulk_get_count_exceeded: 413,
  too_long: 414,
  bad_content_type: 415,
  /** The browser's storage quota is used up: the write was not stored (IndexedDB's QuotaExceededError). */
  quota_exceeded: 507,
  unknown_error: 500,
  /** An endpoint of CouchDB's that Settee does not have (yet): the reason names the feature. */
  not_implemented: 501,
  /** The server takes no new work now: it is stopping, or too busy for this client (retry later). */
  unavailable: 503,
} as const;

export type ErrorName = keyof typeof ERROR_STATUS;

/**
 * An error of Settee's catalogue. It has the fields of PouchDB's errors, so code written for
 * PouchDB handles it unchanged: `name` is CouchDB's error name (`not_found`, `conflict`, …),
 * `message` the reason, `status` the HTTP status; `error` and `reason` repeat them as CouchDB
 * sends them. `instanceof SetteeError` tells Settee's errors from any other.
 *
 * @example
 * try {
 *   await db.get('nothing-here');
 * } catch (err) {
 *   if (err instanceof SetteeError && err.name === 'not_found') console.log(err.status); // 404
 * }
 */
export class SetteeError extends Error {
  /** CouchDB's error name, as the server sends it in `{"error"}`; equal to `name`. */
  readonly error: ErrorName;
  /** Why, in words; equal to `message`. */
  readonly reason: string;
  /** The HTTP status the server answers this error with. */
  readonly status: number;

  constructor(error: ErrorName, reason: string) {
    super(reason);
    this.name = error;
    this.error = error;
    this.reason = reason;
    this.status = ERROR_STATUS[error];
  }

  /** The CouchDB wire shape of this error. */
  toJSON(): { error: ErrorName; reason: string } {
    return { error: this.error, reason: this.reason };
  }
}

export const badRequest = (reason: string) => new SetteeError('bad_request', reason);
export const notFound = (reason = 'missing') => new SetteeError('not_found', reason);
export const conflict = () => new SetteeError('conflict', 'Document update conflict.');
export const illegalDocId = (reason: string) => new SetteeError('illegal_docid', reason);
export const docValidation = (reason: string) => new SetteeError('doc_validation', reason);
export const missingStub = (reason: string) => new SetteeError('missing_stub', reason);
export const fileExists = () =>
  new SetteeError('file_exists', 'The database could not be created, the file already exists.');
export const queryParseError = (reason: string) => new SetteeError('query_parse_error', reason);

/** Wraps anything thrown into a SetteeError, keeping Settee's own errors as they are. */
export function toSetteeError(err: unknown): SetteeError {
  if (err instanceof SetteeError) return err;
  // JSON.parse takes any depth, but walking the value (validation, hashing) overflows the stack:
  // that is input nested too deeply, not a fault of ours.
  if (err instanceof RangeError && /call stack/i.test(err.message)) {
    return badRequest('The JSON is nested too deeply');
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SetteeError('unknown_error', message);
}
