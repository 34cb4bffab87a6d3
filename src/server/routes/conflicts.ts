import { Readable } from 'node:stream';
import { badRequest } from '../../core/errors.js';
import type { ResolveOptions } from '../../database/conflicts.js';
import type { DbContext } from '../context.js';
import { intParam, jsonObjectBody, jsonParam, sendJson } from '../http.js';

/** `GET /{db}/_conflicts?startkey=&limit=`: the conflicted documents by id, streamed. */
export async function conflicts(ctx: DbContext): Promise<unknown> {
  const { db, query, reply } = ctx;
  const startkey = jsonParam(query, 'startkey') ?? jsonParam(query, 'start_key');
  if (startkey !== undefined && typeof startkey !== 'string')
    throw badRequest('startkey must be a JSON string');
  // Opened before the reply, so a bad parameter is a 400 rather than a broken 200.
  const rows = db.conflictsStream({ startkey, limit: intParam(query, 'limit') });
  const total = await db.storage.countConflicts();
  const chunks = async function* () {
    yield `{"total_rows":${total},"rows":[`;
    let first = true;
    for await (const row of rows) {
      yield `${first ? '\n' : ',\n'}${JSON.stringify(row)}`;
      first = false;
    }
    yield '\n]}\n';
  };
  return reply.code(200).type('application/json').send(Readable.from(chunks()));
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
  const result = await ctx.db.resolve(docIdOf(ctx), body as ResolveOptions);
  return sendJson(ctx.reply, 201, result);
}

/** The document id that follows the endpoint's name: `_resolve/_design/x` → `_design/x`. */
function docIdOf(ctx: DbContext): string {
  const { endpoint } = ctx.target as { endpoint: string };
  return endpoint.slice(endpoint.indexOf('/') + 1);
}
