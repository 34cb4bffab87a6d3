import { badRequest } from '../../core/errors.js';
import type { ResolveOptions } from '../../database/conflicts/index.js';
import type { StoredResolution } from '../../storage/types.js';
import type { DbContext, Methods } from '../context.js';
import { resolverOf } from './resolve-many.js';
import {
  boolParam,
  intParam,
  jsonBody,
  jsonObjectBody,
  jsonParam,
  mapRows,
  sendJson,
  sendRows,
} from '../http.js';

/**
 * `GET /{db}/_conflicts?startkey=&limit=&prefix=`: the conflicted documents by id, streamed;
 * with `prefix` (a plain string, not JSON), only those whose id starts with it. `total_rows`
 * counts every conflicted document, as `_all_docs` counts every document whatever its range.
 */
export async function conflicts(ctx: DbContext): Promise<unknown> {
  const { db, query, reply } = ctx;
  const startkey = jsonParam(query, 'startkey') ?? jsonParam(query, 'start_key');
  if (startkey !== undefined && typeof startkey !== 'string')
    throw badRequest('startkey must be a JSON string');
  const prefix = query.prefix ?? '';
  // Ids sort by code point, so those with the prefix are one run from the prefix itself on.
  const from = startkey === undefined || startkey < prefix ? prefix || undefined : startkey;
  // Opened before the reply, so a bad parameter is a 400 rather than a broken 200.
  const rows = db.conflictsStream({ startkey: from, limit: intParam(query, 'limit') });
  const matching = prefix === '' ? rows : takeWhile(rows, (row) => row.id.startsWith(prefix));
  return sendRows(reply, `{"total_rows":${await db.conflictCount()},"rows":[`, matching);
}

/** The rows up to the first that fails `keep`: reading stops there. */
async function* takeWhile<T>(rows: AsyncIterable<T>, keep: (row: T) => boolean): AsyncIterable<T> {
  for await (const row of rows) {
    if (!keep(row)) return;
    yield row;
  }
}

const RESOLVE_FIELDS = new Set(['merged', 'keep', 'losers']);

/**
 * `POST /{db}/_resolve/{docid}` with `{"merged"?, "keep"?, "losers"?}`: one atomic resolution
 * (`Database.resolve`); 201 with `{ok, id, rev, deleted}`, 409 when the leaves changed since
 * the client read them.
 */
export async function resolve(ctx: DbContext): Promise<unknown> {
  const body = jsonObjectBody(ctx.request);
  // A misspelt field would silently resolve against leaves nobody checked.
  const unknown = Object.keys(body).filter((key) => !RESOLVE_FIELDS.has(key));
  if (unknown.length > 0)
    throw badRequest(`Unknown fields: ${unknown.join(', ')} (use merged, keep, losers)`);
  const by = resolverOf(ctx);
  const result = await ctx.db.resolve(
    docIdOf(ctx),
    { ...(body as ResolveOptions), by },
    { userCtx: ctx.userCtx },
  );
  return sendJson(ctx.reply, 201, result);
}

/**
 * `GET /{db}/_resolve/{docid}`: `Database.conflictVersions` — the live versions of a document,
 * the winner first, their common ancestor when the database still holds it, and the deleted
 * versions that contend with them: `{id, winner, leaves: [{rev, doc}], ancestor,
 * deleted_leaves: [{rev, doc, retired?}], stamp_fields}` (`retired: true` on a tombstone an
 * earlier resolution left on a losing version).
 */
export async function versions(ctx: DbContext): Promise<unknown> {
  return sendJson(ctx.reply, 200, await ctx.db.conflictVersions(docIdOf(ctx)));
}

/**
 * `/{db}/_resolver`: the database's automatic conflict resolution. `GET` shows it; `PUT`
 * `{"strategy", "options"?, "stamping"?}` sets it and resolves the conflicts already there
 * (`{"ok": true, "resolved": N}`); `DELETE` goes back to CouchDB's behaviour. Database admins only
 * (the permissions table): the status may carry a resolver module's load error.
 */
export const resolver: Methods<DbContext> = {
  GET: async (ctx) => {
    return sendJson(ctx.reply, 200, await ctx.services.registry.resolvers.status(ctx.db));
  },
  PUT: async (ctx) => {
    const resolved = await ctx.services.registry.resolvers.apply(
      ctx.db,
      jsonBody(ctx.request, { required: true }),
    );
    return sendJson(ctx.reply, 200, { ok: true, resolved });
  },
  DELETE: async (ctx) => {
    await ctx.services.registry.resolvers.reset(ctx.db);
    return sendJson(ctx.reply, 200, { ok: true });
  },
};

/**
 * `GET /{db}/_resolutions?doc=&since=&limit=&descending=`: the history of resolved conflicts,
 * each with who or what resolved it and the versions whose content it discarded, streamed.
 */
export async function resolutions(ctx: DbContext): Promise<unknown> {
  const { db, query, reply } = ctx;
  const id = query.doc;
  if (id !== undefined && typeof id !== 'string') throw badRequest('doc must be a document id');
  const options = {
    id,
    since: intParam(query, 'since'),
    limit: intParam(query, 'limit'),
    descending: boolParam(query, 'descending'),
  };
  const rows = db.resolutionsStream(options);
  const total = await db.resolutionCount(id);
  return sendRows(reply, `{"total_rows":${total},"rows":[`, mapRows(rows, historyRow));
}

/** A history entry as users read it: losing versions as documents, attachments as stubs. */
function historyRow(entry: StoredResolution) {
  const { docId, losers, ...rest } = entry;
  return {
    ...rest,
    id: docId,
    losers: losers.map(({ rev, body, attachments }) => ({
      _id: docId,
      _rev: rev,
      ...(JSON.parse(body) as Record<string, unknown>),
      ...(attachments ? { _attachments: attachments } : {}),
    })),
  };
}

/** The document id that follows the endpoint's name: `_resolve/_design/x` → `_design/x`. */
function docIdOf(ctx: DbContext): string {
  const { endpoint } = ctx.target as { endpoint: string };
  return endpoint.slice(endpoint.indexOf('/') + 1);
}
