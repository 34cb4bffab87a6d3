/**
 * Views over HTTP: `GET|POST /{db}/_design/{ddoc}/_view/{view}`, its multi-query form
 * `POST …/_view/{view}/queries`, and `GET /{db}/_design/{ddoc}/_info`. Rows are written as the
 * index yields them, in CouchDB's framing (couch_mrview_http.erl view_cb): the header and each
 * row on lines ending `\r\n`, rows separated by `,\r\n`, closed by `\r\n]}`.
 */
import { parseViewQueries, parseViewQuery, validateViewQuery } from '../../core/views/index.js';
import type { ViewStream } from '../../database/queries/views.js';
import type { DbContext, Methods } from '../context.js';
import { jsonBody, type Query, sendJson, sendText } from '../http.js';

/** `GET|POST /{db}/_design/{ddoc}/_view/{view}`: a POST's body carries `keys` and any parameter. */
async function view(ctx: DbContext, ddoc: string, name: string): Promise<unknown> {
  const body = ctx.request.method === 'POST' ? jsonBody(ctx.request, { required: true }) : undefined;
  const q = parseViewQuery(definedParams(ctx.query), body);
  // Opened before the reply: a missing view or a bad parameter is an error answer, not a broken 200.
  const stream = await ctx.db.viewStream(ddoc, name, q);
  return sendText(ctx.reply, 200, 'application/json', framed(ctx, stream, q.includeDocs, '\n'));
}

/**
 * `POST …/_view/{view}/queries`: `{"results": [...]}`, one view answer per query, each streamed
 * in turn. Every query is checked before the first byte, as CouchDB's multi_query_view does;
 * each one's index is read only when its turn comes, so memory stays that of one query.
 */
async function queries(ctx: DbContext, ddoc: string, name: string): Promise<unknown> {
  const all = parseViewQueries(definedParams(ctx.query), jsonBody(ctx.request, { required: true }));
  const first = all.length > 0 ? await ctx.db.viewStream(ddoc, name, all[0]!) : undefined;
  const hasReduce = await viewHasReduce(ctx, ddoc, name);
  for (const q of all.slice(1)) validateViewQuery(q, { hasReduce });
  const db = ctx.db;
  async function* results(): AsyncGenerator<string> {
    yield '{"results":[';
    for (const [at, q] of all.entries()) {
      const stream = at === 0 ? first! : await db.viewStream(ddoc, name, q);
      yield at === 0 ? '\r\n' : ',\r\n';
      yield* framed(ctx, stream, q.includeDocs, '');
    }
    yield '\r\n]}\n';
  }
  return sendText(ctx.reply, 200, 'application/json', results());
}

/** Whether a view reduces by default, for checking queries before any is run. */
async function viewHasReduce(ctx: DbContext, ddoc: string, name: string): Promise<boolean> {
  const design = await ctx.db.get(`_design/${ddoc}`);
  const views = design.views as Record<string, { reduce?: unknown } | undefined> | undefined;
  return views?.[name]?.reduce !== undefined;
}

/**
 * One view answer: `{"total_rows":…,"offset":…,"rows":[\r\n…\r\n]}` then `end`; with
 * `include_docs`, the documents its rows carry count as read.
 */
async function* framed(
  ctx: DbContext,
  stream: ViewStream,
  includeDocs: boolean,
  end: string,
): AsyncGenerator<string> {
  yield `{${headerFields(stream).join(',')}\r\n`;
  let separator = '';
  for await (const row of ctx.services.metrics.countingReads(stream.rows, includeDocs)) {
    yield `${separator}${JSON.stringify(row)}`;
    separator = ',\r\n';
  }
  yield `\r\n]}${end}`;
}

/** CouchDB's header: `total_rows` and `offset` of map answers, `update_seq` when asked. */
function headerFields(stream: ViewStream): string[] {
  const fields: string[] = [];
  if (stream.totalRows !== undefined) fields.push(`"total_rows":${stream.totalRows}`);
  if (stream.offset !== undefined) fields.push(`"offset":${stream.offset}`);
  if (stream.updateSeq !== undefined) fields.push(`"update_seq":${stream.updateSeq}`);
  fields.push('"rows":[');
  return fields;
}

/** The query string without absent values, as the view parameters' parser takes it. */
function definedParams(query: Query): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) if (value !== undefined) params[name] = value;
  return params;
}

/** `GET /{db}/_design/{ddoc}/_info`. */
async function info(ctx: DbContext, ddoc: string): Promise<unknown> {
  return sendJson(ctx.reply, 200, await ctx.db.designDocInfo(ddoc));
}

const VIEW = /^_design\/(.+)\/_view\/([^/]+)(\/queries)?$/;
const INFO = /^_design\/(.+)\/_info$/;

/** The handlers of a design document's view or `_info` endpoint, if the path names one. */
export function viewEndpoint(endpoint: string): Methods<DbContext> | undefined {
  const viewPath = VIEW.exec(endpoint);
  if (viewPath) {
    const [, ddoc, name, multi] = viewPath as unknown as [string, string, string, string | undefined];
    if (multi) return { POST: (ctx) => queries(ctx, ddoc, name) };
    return { GET: (ctx) => view(ctx, ddoc, name), POST: (ctx) => view(ctx, ddoc, name) };
  }
  const infoPath = INFO.exec(endpoint);
  if (infoPath) return { GET: (ctx) => info(ctx, infoPath[1]!) };
  return undefined;
}
