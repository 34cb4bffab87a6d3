/**
 * `POST /{db}/_resolve` `{"strategy", "options"?, "ids"}`: resolves each listed document once
 * with a strategy, as a person asked (`Database.resolveWith`) — the database's automatic
 * resolution is left as it is. `GET /{db}/_resolve` names the strategies on offer.
 */
import type { Resolver } from '../../conflicts/resolvers.js';
import { badRequest, SetteeError } from '../../core/errors.js';
import type { ResolveWithResult } from '../../database/conflicts/index.js';
import type { DbContext, Methods } from '../context.js';
import { jsonObjectBody, sendJson } from '../http.js';

/** At most this many documents per request: each is read and written in its own turn. */
export const MAX_RESOLVE_IDS = 100;

const FIELDS = new Set(['strategy', 'options', 'ids']);

/** One document's outcome: resolved, left as it was (and why), or an error. */
export type ResolveManyRow = ResolveWithResult | { id: string; error: string; reason: string };

export const resolveMany: Methods<DbContext> = {
  GET: async (ctx) =>
    sendJson(ctx.reply, 200, {
      strategies: ctx.services.registry.resolvers.names(),
      max_ids: MAX_RESOLVE_IDS,
    }),
  POST: async (ctx) => {
    const body = jsonObjectBody(ctx.request);
    const ids = checkRequest(body);
    const resolver = ctx.services.registry.resolvers.create(body.strategy, body.options);
    const rows: ResolveManyRow[] = [];
    for (const id of ids) rows.push(await resolveOne(ctx, id, resolver));
    return sendJson(ctx.reply, 200, rows);
  },
};

/** Who resolves by hand, for the history: `user:anna`. */
export function resolverOf(ctx: DbContext): string {
  return `user:${ctx.userCtx.name ?? 'anonymous'}`;
}

/** The ids to resolve, once the request is known to be well formed (nothing is read before). */
function checkRequest(body: Record<string, unknown>): string[] {
  const unknown = Object.keys(body).filter((key) => !FIELDS.has(key));
  if (unknown.length > 0)
    throw badRequest(`Unknown fields: ${unknown.join(', ')} (use strategy, options, ids)`);
  const { ids } = body;
  if (!Array.isArray(ids) || !ids.every((id) => typeof id === 'string' && id !== '')) {
    throw badRequest('ids must be an array of document ids');
  }
  if (ids.length > MAX_RESOLVE_IDS) {
    throw badRequest(`At most ${MAX_RESOLVE_IDS} ids per request (${ids.length} given)`);
  }
  return ids as string[];
}

/** One document's row: an error of that document is its row, not the request's failure. */
async function resolveOne(ctx: DbContext, id: string, resolver: Resolver): Promise<ResolveManyRow> {
  try {
    return await ctx.db.resolveWith(id, resolver, { by: resolverOf(ctx) }, { userCtx: ctx.userCtx });
  } catch (error) {
    if (!(error instanceof SetteeError)) throw error;
    return { id, error: error.error, reason: error.reason };
  }
}
