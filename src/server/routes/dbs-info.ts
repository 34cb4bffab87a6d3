/**
 * Listing databases a page at a time, as CouchDB 3.2 does: `GET /_all_dbs` and `GET /_dbs_info`
 * take `_all_docs`' range parameters (`start_key`, `end_key`, `limit`, `skip`, `descending`,
 * `inclusive_end`) over the sorted names, and `POST /_dbs_info` answers for the names it is
 * given (chttpd_misc.erl, handle_all_dbs_info_req and handle_dbs_info_req).
 */
import { badRequest, SetteeError } from '../../core/errors.js';
import { idRange } from '../../database/all-docs.js';
import type { IdRange } from '../../storage/types.js';
import type { Methods, RequestContext } from '../context.js';
import { jsonObjectBody, sendJson } from '../http.js';
import { allDocsOptions } from './bulk.js';

/** How many names one `POST /_dbs_info` may ask about (CouchDB's `max_db_number_for_dbs_info_req`). */
export const MAX_DBS_INFO_KEYS = 100;

/** One row of `_dbs_info`: a database's `GET /{db}` answer, or `not_found` for a name asked for. */
type DbsInfoRow = { key: unknown; info: unknown } | { key: unknown; error: 'not_found' };

/** `GET /_all_dbs`, `GET|POST /_dbs_info`. */
export const databaseListEndpoints: Record<string, Methods> = {
  _all_dbs: { GET: async (ctx) => sendJson(ctx.reply, 200, await namesInRange(ctx)) },
  _dbs_info: {
    GET: async (ctx) => sendJson(ctx.reply, 200, await infoOfRange(ctx)),
    POST: async (ctx) => sendJson(ctx.reply, 200, await infoOfKeys(ctx)),
  },
};

/**
 * The names the query's range, `skip` and `limit` pick, in the query's direction, among those
 * `listed` keeps: asked about in order, only until the page is full.
 */
export async function namesInRange(
  ctx: RequestContext,
  listed: (name: string) => boolean | Promise<boolean> = () => true,
): Promise<string[]> {
  const options = allDocsOptions(ctx.query);
  // CouchDB takes `keys` in the query string for `_all_docs` only, not for these listings.
  if (options.keys !== undefined)
    throw badRequest('`keys` is not supported here; POST /_dbs_info takes them');
  const range = idRange(options);
  if (!range) return [];
  const sorted = await ctx.services.registry.list();
  const inRange = sorted.filter((name) => within(name, range));
  if (range.descending) inRange.reverse();
  const [skip, limit] = [options.skip ?? 0, options.limit ?? inRange.length];
  const page: string[] = [];
  let skipped = 0;
  for (const name of inRange) {
    if (page.length >= limit) break;
    if (!(await listed(name))) continue;
    if (skipped < skip) skipped++;
    else page.push(name);
  }
  return page;
}

function within(name: string, range: IdRange): boolean {
  const [low, high] = range.descending ? [range.end, range.start] : [range.start, range.end];
  const lowInclusive = range.descending ? range.inclusiveEnd : true;
  const highInclusive = range.descending ? true : range.inclusiveEnd;
  if (low !== undefined && (lowInclusive ? name < low : name <= low)) return false;
  if (high !== undefined && (highInclusive ? name > high : name >= high)) return false;
  return true;
}

/**
 * `GET /_dbs_info`: `{key, info}` for each name of the range. A database deleted between the
 * listing and its reading is left out, as CouchDB leaves out `database_does_not_exist`.
 */
async function infoOfRange(ctx: RequestContext): Promise<DbsInfoRow[]> {
  const rows = await Promise.all((await namesInRange(ctx)).map((name) => infoRow(ctx, name)));
  return rows.filter((row) => 'info' in row);
}

/** `POST /_dbs_info` with `{"keys": [...]}`: one row per key, in the order given. */
async function infoOfKeys(ctx: RequestContext): Promise<DbsInfoRow[]> {
  const { keys } = jsonObjectBody(ctx.request);
  // CouchDB's own reasons (chttpd_misc.erl, handle_dbs_info_req; couch_mrview_util, get_view_keys).
  if (keys === undefined) throw badRequest('`keys` member must exist.');
  if (!Array.isArray(keys)) throw badRequest('`keys` member must be an array.');
  if (keys.length > MAX_DBS_INFO_KEYS) throw badRequest('too_many_keys');
  return Promise.all(keys.map((key: unknown) => infoRow(ctx, key)));
}

/** A database's info, or `not_found` for a name that is none (missing, illegal, not a string). */
async function infoRow(ctx: RequestContext, key: unknown): Promise<DbsInfoRow> {
  if (typeof key !== 'string') return { key, error: 'not_found' };
  try {
    return { key, info: await (await ctx.services.registry.get(key)).info() };
  } catch (error) {
    if (error instanceof SetteeError && (error.status === 404 || error.status === 400)) {
      return { key, error: 'not_found' };
    }
    throw error;
  }
}
