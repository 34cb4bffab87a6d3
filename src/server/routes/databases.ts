import { RESERVED_ID_REASON } from '../../core/document.js';
import { badRequest, illegalDocId, SetteeError } from '../../core/errors.js';
import type { RevisionsMode } from '../../database/database.js';
import type { DbContext, Methods, RequestContext } from '../context.js';
import { jsonBody, jsonObjectBody, requireJsonType, sendJson } from '../http.js';
import { parseSecurity } from '../security.js';
import { USERS_DB } from '../users.js';
import { allDocs, bulkDocs, bulkGet, localDocs, missingRevs, revsDiff } from './bulk.js';
import { changes } from './changes.js';
import { conflicts, resolutions, resolve, resolver, versions } from './conflicts.js';
import { resolveMany } from './resolve-many.js';
import { docLocation } from './documents.js';

function dbName(ctx: RequestContext): string {
  return (ctx.target as { db: string }).db;
}

/**
 * `?revisions=linear` of `PUT /{db}`: a linear database (docs/linear-history.md). CouchDB's own
 * options of that request are `q`, `n`, `placement`, `engine` and `partitioned`
 * (chttpd_db.erl `create_db_req`): none of them is called so.
 */
function revisionsOption(ctx: RequestContext): RevisionsMode | undefined {
  const value = ctx.query.revisions;
  if (value === undefined) return undefined;
  if (value !== 'tree' && value !== 'linear') throw badRequest('revisions must be "tree" or "linear"');
  return value;
}

/** `PUT|GET|HEAD|DELETE|POST /{db}`. PUT needs no existing database; the others do. */
export const databaseMethods: Methods<RequestContext> = {
  PUT: async (ctx) => {
    await ctx.services.registry.create(dbName(ctx), undefined, { revisions: revisionsOption(ctx) });
    ctx.reply.header('location', `/${encodeURIComponent(dbName(ctx))}`);
    return sendJson(ctx.reply, 201, { ok: true });
  },
  GET: async (ctx) => sendJson(ctx.reply, 200, await (await ctx.services.registry.get(dbName(ctx))).info()),
  HEAD: async (ctx) => {
    await ctx.services.registry.get(dbName(ctx));
    return ctx.reply.code(200).type('application/json').send();
  },
  DELETE: async (ctx) => {
    if (ctx.query.rev !== undefined) {
      throw badRequest(
        'You tried to DELETE a database with a ?rev= parameter. Did you mean to DELETE a document instead?',
      );
    }
    // The server reads its users and everyone's sessions (admins' too) from `_users` while it
    // runs: deleted, sign-ins and sign-outs would fail until a restart, and recreated, ended
    // sessions would count again. CouchDB lets it go; Settee keeps it, as it keeps its security.
    if (dbName(ctx) === USERS_DB) {
      throw new SetteeError('forbidden', 'The _users database holds the accounts and cannot be deleted.');
    }
    await ctx.services.registry.delete(dbName(ctx));
    return sendJson(ctx.reply, 200, { ok: true });
  },
  POST: async (ctx) => {
    const db = await ctx.services.registry.get(dbName(ctx));
    const result = await db.post(jsonObjectBody(ctx.request), { userCtx: ctx.userCtx });
    ctx.reply.header('location', docLocation(dbName(ctx), result.id));
    return sendJson(ctx.reply, 201, result);
  },
};

/** `/{db}/_…` endpoints, by name then method. */
export const databaseEndpoints: Record<string, Methods<DbContext>> = {
  _changes: { GET: changes, POST: changes },
  _conflicts: { GET: conflicts },
  _resolver: resolver,
  _resolutions: { GET: resolutions },
  _resolve: resolveMany,
  _all_docs: { GET: allDocs, POST: allDocs },
  _local_docs: { GET: localDocs, POST: localDocs },
  _bulk_docs: { POST: bulkDocs },
  _bulk_get: { POST: bulkGet },
  _revs_diff: { POST: revsDiff },
  _missing_revs: { POST: missingRevs },
  _ensure_full_commit: {
    POST: async (ctx) => {
      jsonBody(ctx.request);
      const info = await ctx.db.info();
      return sendJson(ctx.reply, 201, { ok: true, instance_start_time: info.instance_start_time });
    },
  },
  _compact: {
    // Answered at once, as CouchDB does: the compaction runs in the background, seen in
    // `GET /{db}` (`compact_running`) and `/_active_tasks`. Asked again meanwhile, it joins.
    POST: async (ctx) => {
      requireJsonType(ctx.request);
      const { log } = ctx.request;
      ctx.db
        .compact()
        .catch((error: unknown) => log.error({ err: error }, `compaction of ${ctx.db.name} failed`));
      return sendJson(ctx.reply, 202, { ok: true });
    },
  },
  _revs_limit: {
    GET: async (ctx) => sendJson(ctx.reply, 200, ctx.db.getRevsLimit()),
    PUT: async (ctx) => {
      const limit = jsonBody(ctx.request, { required: true });
      if (typeof limit !== 'number') throw badRequest('Request body must be an integer');
      await ctx.db.setRevsLimit(limit);
      await ctx.services.registry.settingsChanged(ctx.db);
      return sendJson(ctx.reply, 200, { ok: true });
    },
  },
  _security: {
    GET: async (ctx) => sendJson(ctx.reply, 200, await ctx.services.registry.security(ctx.db.name)),
    PUT: async (ctx) => {
      // Who may do what in `_users` is the server's own rule, not the database's.
      if (ctx.db.name === USERS_DB)
        throw new SetteeError('forbidden', 'The security object of _users cannot be changed.');
      await ctx.services.registry.setSecurity(
        ctx.db.name,
        parseSecurity(jsonBody(ctx.request, { required: true })),
      );
      return sendJson(ctx.reply, 200, { ok: true });
    },
  },
};

/** `/{db}/_…/{docid}` endpoints: the rest of the path is a document id, which may hold `/`. */
export const databaseDocEndpoints: Record<string, Methods<DbContext>> = {
  _resolve: { GET: versions, POST: resolve },
};

/** The handlers of a database endpoint path (`_changes`, `_resolve/{docid}`, …). */
export function databaseEndpoint(endpoint: string): Methods<DbContext> | undefined {
  if (Object.hasOwn(databaseEndpoints, endpoint)) return databaseEndpoints[endpoint];
  const slash = endpoint.indexOf('/');
  const name = endpoint.slice(0, slash);
  return slash > 0 && Object.hasOwn(databaseDocEndpoints, name) ? databaseDocEndpoints[name] : undefined;
}

/**
 * `PUT /{db}/_x…` for an unknown `_x`: CouchDB takes the segment for a document id, one no client
 * may write, and refuses it before reading the body. (Other methods on it find nothing: 404.)
 */
export const reservedIdWrite: Methods<DbContext> = {
  PUT: async () => {
    throw illegalDocId(RESERVED_ID_REASON);
  },
};
