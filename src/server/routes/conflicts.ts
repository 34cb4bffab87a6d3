import { badRequest } from '../../core/errors.js';
import type { ResolveOptions } from '../../database/conflicts.js';
import type { StoredResolution } from '../../storage/types.js';
import type { DbContext, Methods } from '../context.js';
import { boolParam, intParam, jsonBody, jsonObjectBody, jsonParam, sendJson, sendRows } from '../http.js';

/** `GET /{db}/_conflicts?startkey=&limit=`: the conflicted documents by id, streamed. */
export async function conflicts(ctx: DbContext): Promise<unknown> {
  const { db, query, reply } = ctx;
  const startkey = jsonParam(query, 'startkey') ?? jsonParam(query, 'start_key');
  if (startkey !== undefined && typeof startkey !== 'string')
    throw badRequest('startkey must be a JSON string');
  // Opened before the reply, so a bad parameter is a 400 rather than a broken 200.
  const rows = db.conflictsStream({ startkey, limit: intParam(query, 'limit') });
  return sendRows(reply, `{"total_rows":${await db.storage.countConflicts()},"rows":[`, rows);
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
  const by = `user:${ctx.userCtx.name ?? 'anonymous'}`;
  const result = await ctx.db.resolve(
    docIdOf(ctx),
    { ...(body as ResolveOptions), by },
    { userCtx: ctx.userCtx },
  );
  return sendJson(ctx.reply, 201, result);
}

/**
 * `GET /{db}/_resolve/{docid}`: the live versions of a document, the winner first, and their
 * common ancestor when the database still holds it — `{id, winner, leaves: [{rev, doc}], ancestor}`.
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
  const total = await db.storage.countResolutions(id);
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

async function* mapRows<T, U>(rows: AsyncIterable<T>, map: (row: T) => U): AsyncIterable<U> {
  for await (const row of rows) yield map(row);
}

/** The document id that follows the endpoint's name: `_resolve/_design/x` → `_design/x`. */
function docIdOf(ctx: DbContext): string {
  const { endpoint } = ctx.target as { endpoint: string };
  return endpoint.slice(endpoint.indexOf('/') + 1);
}
