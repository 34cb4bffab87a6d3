import { Readable } from 'node:stream';
import type { AllDocsOptions, BulkGetRequest, NewDoc, WriteResult } from '../../core/api.js';
import { badRequest, SetteeError } from '../../core/errors.js';
import type { DbContext } from '../context.js';
import {
  boolParam,
  intParam,
  jsonObjectBody,
  jsonParam,
  type Query,
  sendJson,
  sendRows,
  stringArrayParam,
} from '../http.js';
import { MultipartMixedWriter, wantsMultipart } from '../multipart.js';

/**
 * Entries of a JSON `_bulk_get` read from the database at a time: a replicator's whole batch
 * (PouchDB's and Settee's default `batch_size` is 100), so that the batch costs one read of its
 * summaries, one of its trees (when this server has not cached them) and one of its bodies. On
 * PostgreSQL each read is a round trip, and each server reads the trees the others wrote: slices
 * of 16 made a batch of 100 cost seven of each (bench/server/scale-out.ts). Memory stays bounded
 * by the slice, as before.
 */
const BULK_GET_BATCH = 100;
/**
 * Most documents in one `_bulk_docs`, or entries in one `_bulk_get`: CouchDB's defaults for
 * `max_bulk_docs_count` and `max_bulk_get_count`. A request is handled in memory as a whole;
 * replicators send batches of 100 to 500 and split a batch that gets 413.
 */
const MAX_BULK_COUNT = 10_000;

/** `POST /{db}/_bulk_docs`: 201 with one result per document (errors only with new_edits=false). */
export async function bulkDocs(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request);
  if (!Array.isArray(body.docs)) throw badRequest('POST body must include `docs` parameter.');
  if (body.new_edits !== undefined && typeof body.new_edits !== 'boolean') {
    throw badRequest('`new_edits` parameter must be a boolean.');
  }
  const docs = body.docs as NewDoc[];
  if (docs.length > MAX_BULK_COUNT) {
    throw new SetteeError('max_bulk_docs_count_exceeded', String(MAX_BULK_COUNT));
  }
  const size = Buffer.isBuffer(ctx.request.body) ? ctx.request.body.length : 0;
  for (const doc of size > ctx.services.maxDocumentSize ? docs : []) {
    // CouchDB refuses the whole request when one document is over max_document_size.
    if (JSON.stringify(doc)?.length > ctx.services.maxDocumentSize) {
      // The reason names the document; an id that is no string (an object, maybe one whose
      // `toString` is not a function) names none.
      const id = (doc as { _id?: unknown } | null)?._id;
      throw new SetteeError('document_too_large', typeof id === 'string' ? id : '');
    }
  }
  const newEdits = body.new_edits !== false;
  const results = await ctx.db.bulkDocs(docs, { newEdits, userCtx: ctx.userCtx });
  ctx.services.metrics.documentsWritten(results.filter((result) => !('error' in result)).length);
  if (!newEdits)
    return sendJson(
      ctx.reply,
      201,
      results.filter((result) => 'error' in result),
    );
  return sendJson(ctx.reply, 201, results.map(editResult));
}

/**
 * A row of an interactive `_bulk_docs`: a failure is `{id, error, reason}`, without the `rev`
 * the client sent (chttpd_db.erl, update_doc_result_to_json/2); replicated writes keep it.
 */
function editResult(result: WriteResult): WriteResult {
  if (!('error' in result)) return result;
  const { rev: _sent, ...row } = result;
  return row;
}

/** `POST /{db}/_bulk_get`: one result per entry, as JSON or (when asked) multipart/mixed, streamed. */
export async function bulkGet(ctx: DbContext): Promise<unknown> {
  const { query, reply, db } = ctx;
  for (const forbidden of ['rev', 'open_revs', 'atts_since', 'new_edits', 'w']) {
    if (query[forbidden] !== undefined) throw badRequest(`"${forbidden}" query parameter is not acceptable`);
  }
  const body = jsonObjectBody(ctx.request) as unknown as BulkGetRequest;
  if (!Array.isArray(body.docs)) throw badRequest('Missing JSON list of `docs`.');
  if (body.docs.length > MAX_BULK_COUNT) {
    throw new SetteeError('max_bulk_get_count_exceeded', String(MAX_BULK_COUNT));
  }
  checkBulkGetEntries(body.docs);
  ctx.services.metrics.documentsRead(body.docs.length);
  const options = {
    revs: boolParam(query, 'revs') ?? (body as { revs?: boolean }).revs,
    latest: boolParam(query, 'latest') ?? (body as { latest?: boolean }).latest,
    attachments: boolParam(query, 'attachments') ?? (body as { attachments?: boolean }).attachments,
  };
  const entry = (i: number) => ({ docs: [body.docs[i]!] });
  if (wantsMultipart(ctx.request.headers.accept)) {
    // Multipart answers carry the attachments' data, limited only by each entry's `atts_since`
    // (chttpd_db.erl, send_docs_multipart_bulk_get adds `attachments`), as CouchDB's do.
    const multipartOptions = { ...options, attachments: true };
    const writer = new MultipartMixedWriter();
    const parts = async function* () {
      for (let i = 0; i < body.docs.length; i++) {
        const [result] = (await db.bulkGet(entry(i), multipartOptions)).results;
        for (const found of result!.docs) {
          if ('ok' in found) yield writer.docPart(found.ok, { docId: found.ok._id, revId: found.ok._rev });
          else yield writer.errorPart(found.error);
        }
      }
      yield writer.end();
    };
    return reply.code(200).type(writer.contentType).send(Readable.from(parts()));
  }
  // A few entries per read: fewer round trips through the database, memory still bounded.
  const json = async function* () {
    for (let start = 0; start < body.docs.length; start += BULK_GET_BATCH) {
      const docs = body.docs.slice(start, start + BULK_GET_BATCH);
      yield* await db.bulkGetJson({ docs }, options);
    }
  };
  return sendRows(reply, '{"results":[', { json: json() });
}

/**
 * Checks the types in `_bulk_get` entries before the response starts: once it streams, an error
 * can only cut the connection. (An entry that is not an object, or has no id, gets its own
 * `bad_request` result, as in CouchDB.)
 */
function checkBulkGetEntries(entries: unknown[]): void {
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null) continue;
    const { rev, atts_since } = entry as { rev?: unknown; atts_since?: unknown };
    if (rev !== undefined && typeof rev !== 'string') throw badRequest('`rev` must be a string');
    if (atts_since !== undefined) stringArray(atts_since, 'atts_since');
  }
}

/** `GET|POST /{db}/_all_docs`, streamed row by row. */
export async function allDocs(ctx: DbContext): Promise<unknown> {
  const options = listingOptions(ctx);
  const info = await ctx.db.info();
  const rows = ctx.services.metrics.countingReads(ctx.db.allDocsStream(options), options.include_docs);
  return sendRows(ctx.reply, listingHead(info.doc_count, options, info.update_seq), rows);
}

/** The opening of an `_all_docs`-shaped listing, up to its `"rows":[`. */
export function listingHead(totalRows: number, options: AllDocsOptions, updateSeq: number): string {
  const seq = options.update_seq ? `,"update_seq":${updateSeq}` : '';
  return `{"total_rows":${totalRows},"offset":${options.skip ?? 0}${seq},"rows":[`;
}

/**
 * `GET|POST /{db}/_local_docs`: `_all_docs` over local documents, streamed row by row. CouchDB
 * counts no local documents, so `total_rows`, `offset` and `update_seq` are null, as it sends them.
 */
export async function localDocs(ctx: DbContext): Promise<unknown> {
  const options = listingOptions(ctx);
  const seq = options.update_seq ? ',"update_seq":null' : '';
  return sendRows(
    ctx.reply,
    `{"total_rows":null,"offset":null${seq},"rows":[`,
    ctx.db.localDocsStream(options),
  );
}

/** The options of an `_all_docs`-shaped listing: the query string, and a POST body's `keys`. */
export function listingOptions(ctx: DbContext): AllDocsOptions {
  const options = allDocsOptions(ctx.query);
  if (ctx.request.method === 'POST') {
    const body = jsonObjectBody(ctx.request);
    if (body.keys !== undefined) options.keys = stringArray(body.keys, 'keys');
  }
  return options;
}

/** The query of an `_all_docs`-shaped listing (also `_all_dbs` and `_dbs_info`, over names). */
export function allDocsOptions(query: Query): AllDocsOptions {
  const key = (name: string, alias?: string) => {
    const value = jsonParam(query, name) ?? (alias ? jsonParam(query, alias) : undefined);
    if (value !== undefined && typeof value !== 'string') throw badRequest(`${name} must be a JSON string`);
    return value;
  };
  return {
    keys: stringArrayParam(query, 'keys'),
    key: key('key'),
    startkey: key('startkey', 'start_key'),
    endkey: key('endkey', 'end_key'),
    inclusive_end: boolParam(query, 'inclusive_end'),
    limit: intParam(query, 'limit'),
    skip: intParam(query, 'skip'),
    descending: boolParam(query, 'descending'),
    include_docs: boolParam(query, 'include_docs'),
    conflicts: boolParam(query, 'conflicts'),
    attachments: boolParam(query, 'attachments'),
    update_seq: boolParam(query, 'update_seq'),
  };
}

function stringArray(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw badRequest(`${name} must be an array of strings`);
  }
  return value;
}

/** `POST /{db}/_revs_diff`. */
export async function revsDiff(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request);
  for (const [id, revs] of Object.entries(body)) stringArray(revs, `revisions of ${id}`);
  return sendJson(ctx.reply, 200, await ctx.db.revsDiff(body as Record<string, string[]>));
}

/** `POST /{db}/_missing_revs`: the older form of `_revs_diff`. */
export async function missingRevs(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request);
  for (const [id, revs] of Object.entries(body)) stringArray(revs, `revisions of ${id}`);
  const diff = await ctx.db.revsDiff(body as Record<string, string[]>);
  const missing = Object.fromEntries(Object.entries(diff).map(([id, entry]) => [id, entry.missing]));
  return sendJson(ctx.reply, 200, { missing_revs: missing });
}
