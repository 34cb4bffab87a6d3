import { notFound } from '../../core/errors.js';
import type { Methods, RequestContext } from '../context.js';
import { intParam, jsonObjectBody, sendJson } from '../http.js';
import { REPLICATOR_DB } from '../replicator/index.js';

/**
 * `POST /_replicate`, `/_active_tasks` (replications and database compactions), `/_scheduler/jobs`
 * and `/_scheduler/docs`.
 */
export const replicationEndpoints: Record<string, Methods> = {
  _replicate: {
    POST: async (ctx) => {
      const answer = await ctx.services.replications.replicate(jsonObjectBody(ctx.request), ctx.userCtx);
      return sendJson(ctx.reply, answer.status, answer.body);
    },
  },
  _active_tasks: {
    GET: async (ctx) =>
      sendJson(ctx.reply, 200, [
        ...ctx.services.replications.activeTasks(),
        ...(await ctx.services.registry.databaseTasks()),
      ]),
  },
  '_scheduler/jobs': {
    GET: async (ctx) => sendJson(ctx.reply, 200, page(ctx, 'jobs', ctx.services.replications.jobs())),
  },
  '_scheduler/docs': {
    GET: async (ctx) => sendJson(ctx.reply, 200, page(ctx, 'docs', ctx.services.replications.docs())),
  },
};

/**
 * The scheduler endpoints with a name in the path: `/_scheduler/jobs/{id}`,
 * `/_scheduler/docs/_replicator` and `/_scheduler/docs/_replicator/{docid}`.
 */
export function schedulerMethods(endpoint: string): Methods | undefined {
  const jobs = '_scheduler/jobs/';
  const docs = `_scheduler/docs/${REPLICATOR_DB}`;
  if (endpoint.startsWith(jobs)) {
    const id = endpoint.slice(jobs.length);
    return {
      GET: async (ctx) =>
        sendJson(ctx.reply, 200, ctx.services.replications.job(id) ?? missing('unknown job')),
    };
  }
  if (endpoint === docs) {
    return {
      GET: async (ctx) => sendJson(ctx.reply, 200, page(ctx, 'docs', ctx.services.replications.docs())),
    };
  }
  if (endpoint.startsWith(`${docs}/`)) {
    const docId = endpoint.slice(docs.length + 1);
    return {
      GET: async (ctx) =>
        sendJson(ctx.reply, 200, ctx.services.replications.doc(docId) ?? missing('unknown document')),
    };
  }
  if (endpoint.startsWith('_scheduler/docs/')) {
    return { GET: async () => missing('Database does not exist.') };
  }
  return undefined;
}

/** `{total_rows, offset, <name>: rows}`, with CouchDB's `limit` and `skip`. */
function page(ctx: RequestContext, name: 'jobs' | 'docs', rows: unknown[]) {
  const skip = intParam(ctx.query, 'skip') ?? 0;
  const limit = intParam(ctx.query, 'limit') ?? rows.length;
  return { total_rows: rows.length, offset: skip, [name]: rows.slice(skip, skip + limit) };
}

function missing(reason: string): never {
  throw notFound(reason);
}
