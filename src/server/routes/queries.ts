/**
 * Mango over HTTP (`_find`, `_explain`, `_index`), `_design_docs` and `_view_cleanup`: CouchDB's
 * shapes and status codes (mango_httpd.erl, couch_mrview_http.erl) over the Database's queries.
 */
import type { AllDocsOptions, AllDocsRow } from '../../core/api.js';
import { isDesignId } from '../../core/document.js';
import { badRequest, notFound } from '../../core/errors.js';
import type { CreateIndexRequest, FindRequestBody } from '../../database/queries/mango.js';
import type { DbContext, Methods } from '../context.js';
import { intParam, jsonObjectBody, requireJsonType, sendJson, sendRows } from '../http.js';
import { listingHead, listingOptions } from './bulk.js';

/**
 * `POST /{db}/_find`: answered at once, since `limit` bounds the documents it holds. Every
 * document the query examined counts as read, as CouchDB's do: each is opened with
 * `couch_db:open_doc` (the view with `include_docs` under mango_cursor_view.erl), which counts
 * `database_reads`. The query always keeps its execution statistics for that, and the answer
 * shows them only when asked.
 */
async function find(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request) as unknown as FindRequestBody;
  const shown = body.execution_stats;
  // Any other value than a boolean goes through as sent, to be refused with CouchDB's reason.
  const counted = shown === undefined || shown === false ? { ...body, execution_stats: true } : body;
  const { execution_stats: stats, ...response } = await ctx.db.find(counted);
  ctx.services.metrics.documentsRead(stats?.total_docs_examined ?? 0);
  return sendJson(ctx.reply, 200, shown === true ? { ...response, execution_stats: stats } : response);
}

/** `POST /{db}/_explain`. */
async function explain(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request) as unknown as FindRequestBody;
  return sendJson(ctx.reply, 200, await ctx.db.explain(body));
}

/**
 * `GET /{db}/_index?limit=&skip=`: `total_rows` counts every index, `indexes` the page
 * (mango_httpd.erl handle_index_req). CouchDB answers a bad limit or skip with a 500; a client's
 * mistake is a 400 here.
 */
async function listIndexes(ctx: DbContext): Promise<unknown> {
  const { total_rows, indexes } = await ctx.db.getIndexes();
  const limit = intParam(ctx.query, 'limit') ?? total_rows;
  const skip = Math.min(intParam(ctx.query, 'skip') ?? 0, total_rows);
  if (limit < 1) throw badRequest('limit must be a positive integer');
  return sendJson(ctx.reply, 200, { total_rows, indexes: indexes.slice(skip, skip + limit) });
}

/** `POST /{db}/_index`: 200 whether `created` or `exists`, as CouchDB answers both. */
async function createIndex(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request) as unknown as CreateIndexRequest;
  return sendJson(ctx.reply, 200, await ctx.db.createIndex(body));
}

/**
 * `DELETE /{db}/_index/{ddoc}/{type}/{name}`, the design document's name with or without its
 * `_design/`: only `json` indexes are stored here, so another type finds nothing.
 */
async function deleteIndex(ctx: DbContext, path: string): Promise<unknown> {
  const parts = path.split('/');
  const [type, name] = parts.slice(-2);
  const ddoc = parts.slice(0, -2).join('/');
  if (type !== 'json' || !ddoc || !name) throw notFound();
  return sendJson(ctx.reply, 200, await ctx.db.deleteIndex({ ddoc, name }));
}

/**
 * `POST /{db}/_index/_bulk_delete` `{"docids": [...]}`: every index of each design document,
 * each reported in `success` or `fail` (mango_httpd.erl); one failing leaves the others deleted.
 */
async function bulkDeleteIndexes(ctx: DbContext): Promise<unknown> {
  const { docids } = jsonObjectBody(ctx.request);
  if (!Array.isArray(docids) || !docids.every((id) => typeof id === 'string')) {
    throw badRequest('`docids` must be an array of design document ids');
  }
  const { indexes } = await ctx.db.getIndexes();
  const success: { id: string; ok: true }[] = [];
  const fail: { id: string; error: string }[] = [];
  for (const given of docids as string[]) {
    const id = isDesignId(given) ? given : `_design/${given}`;
    const names = indexes.filter((index) => index.ddoc === id).map((index) => String(index.name));
    try {
      if (names.length === 0) throw notFound();
      for (const name of names) await ctx.db.deleteIndex({ ddoc: id, name });
      success.push({ id, ok: true });
    } catch (error) {
      fail.push({ id, error: (error as { error?: string }).error ?? 'unknown_error' });
    }
  }
  return sendJson(ctx.reply, 200, { success, fail });
}

/**
 * `GET|POST /{db}/_design_docs`: `_all_docs` over design documents only, with its parameters;
 * `total_rows` counts the design documents (couch_mrview.erl get_total_rows, `_design` namespace).
 */
async function designDocs(ctx: DbContext): Promise<unknown> {
  const options = designRange(listingOptions(ctx));
  const total = (await ctx.db.designDocs()).length;
  const all = ctx.db.allDocsStream(options);
  // Asked keys are answered each (a missing one as CouchDB's error row); a range ends at the last design id.
  const rows = options.keys === undefined ? untilNotDesign(all) : all;
  const counted = ctx.services.metrics.countingReads(rows, options.include_docs);
  return sendRows(ctx.reply, listingHead(total, options, ctx.db.updateSeq()), counted);
}

/** Design ids sort between `_design/` and `_design0` (`/` is just before `0`). */
const DESIGN_FIRST = '_design/';
const DESIGN_AFTER = '_design0';

/** Starts a listing inside the design documents; `untilNotDesign` ends it where they end. */
function designRange(options: AllDocsOptions): AllDocsOptions {
  if (options.keys !== undefined || options.key !== undefined) return options;
  const { startkey, descending } = options;
  if (descending) {
    return {
      ...options,
      startkey: startkey === undefined || startkey > DESIGN_AFTER ? DESIGN_AFTER : startkey,
    };
  }
  return {
    ...options,
    startkey: startkey === undefined || startkey < DESIGN_FIRST ? DESIGN_FIRST : startkey,
  };
}

async function* untilNotDesign(rows: AsyncIterable<AllDocsRow>): AsyncGenerator<AllDocsRow> {
  for await (const row of rows) {
    if (!isDesignId(row.key)) return;
    yield row;
  }
}

/** `POST /{db}/_view_cleanup`: drops the indexes no design document uses any more; 202 as CouchDB. */
async function viewCleanup(ctx: DbContext): Promise<unknown> {
  requireJsonType(ctx.request);
  await ctx.db.viewCleanup();
  return sendJson(ctx.reply, 202, { ok: true });
}

/** The query endpoints of a database, by name then method. */
export const QUERY_ENDPOINTS: Record<string, Methods<DbContext>> = {
  _find: { POST: find },
  _explain: { POST: explain },
  _index: { GET: listIndexes, POST: createIndex },
  '_index/_bulk_delete': { POST: bulkDeleteIndexes },
  _design_docs: { GET: designDocs, POST: designDocs },
  _view_cleanup: { POST: viewCleanup },
};

const INDEX_PREFIX = '_index/';

/** The handlers of a query endpoint (`_find`, `_index/{ddoc}/json/{name}`, …), if it is one. */
export function queryEndpoint(endpoint: string): Methods<DbContext> | undefined {
  if (Object.hasOwn(QUERY_ENDPOINTS, endpoint)) return QUERY_ENDPOINTS[endpoint];
  if (!endpoint.startsWith(INDEX_PREFIX)) return undefined;
  const path = endpoint.slice(INDEX_PREFIX.length);
  return { DELETE: (ctx) => deleteIndex(ctx, path) };
}
