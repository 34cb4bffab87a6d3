import { badRequest, SetteeError } from '../../core/errors.js';
import { randomHex } from '../../database/database.js';
import type { Methods, RequestContext } from '../context.js';
import { intParam, sendJson } from '../http.js';
import { parseQuery } from '../router.js';
import { isReplicatorDb } from '../permissions.js';
import { isMember } from '../security.js';
import { USERS_DB } from '../users.js';
import { databaseListEndpoints, namesInRange } from './dbs-info.js';
import { replicationEndpoints } from './replication.js';

export const VERSION = '0.1.0';
const MAX_UUIDS = 1000;

/** `GET /`: the welcome, whose `uuid` names this server in replication ids. */
export const rootMethods: Methods = {
  GET: async (ctx) =>
    sendJson(ctx.reply, 200, {
      couchdb: 'Welcome',
      version: '3.4.2',
      uuid: ctx.services.registry.uuid,
      features: [],
      vendor: { name: 'Settee', version: VERSION },
    }),
};

/** Server endpoints (`/_…`), by name then method. */
export const serverEndpoints: Record<string, Methods> = {
  ...replicationEndpoints,
  _up: { GET: async (ctx) => sendJson(ctx.reply, 200, { status: 'ok', seeds: {} }) },
  ...databaseListEndpoints,
  _my_dbs: { GET: myDatabases },
  _uuids: {
    GET: async (ctx) => {
      const count = intParam(ctx.query, 'count') ?? 1;
      if (count > MAX_UUIDS) throw badRequest(`count parameter too large (max ${MAX_UUIDS})`);
      ctx.reply.header('cache-control', 'must-revalidate, no-cache').header('pragma', 'no-cache');
      return sendJson(ctx.reply, 200, { uuids: Array.from({ length: count }, randomHex) });
    },
  },
  _session: {
    GET: async (ctx) => {
      // `?basic=true` asks for credentials, as CouchDB: anonymous is then a 401, not a null user.
      if (ctx.query.basic === 'true' && ctx.userCtx.name === null) {
        throw new SetteeError('unauthorized', 'Authentication required.');
      }
      return sendJson(ctx.reply, 200, sessionInfo(ctx));
    },
    POST: login,
    DELETE: async (ctx) => {
      ctx.reply.header('set-cookie', await ctx.services.auth.logout(ctx.userCtx));
      return sendJson(ctx.reply, 200, { ok: true });
    },
  },
};

/**
 * `GET /_my_dbs`: the databases the signed-in user may read (members, admins, public ones), for
 * the web page; `_all_dbs` stays for server admins. Settee's own endpoint, paged as `_all_dbs`
 * is (`start_key`, `end_key`, `limit`, `skip`, `descending`, `inclusive_end`).
 */
async function myDatabases(ctx: RequestContext): Promise<unknown> {
  const { registry } = ctx.services;
  const readable = async (name: string) => {
    if (name === USERS_DB || isReplicatorDb(name)) return false;
    const security = await registry.security(name).catch(() => undefined);
    return security !== undefined && isMember(ctx.userCtx, security);
  };
  return sendJson(ctx.reply, 200, await namesInRange(ctx, readable));
}

function sessionInfo(ctx: RequestContext) {
  return {
    ok: true,
    userCtx: ctx.userCtx,
    info: {
      authentication_db: USERS_DB,
      authentication_handlers: ['cookie', 'default', ...(ctx.services.auth.jwtEnabled ? ['jwt'] : [])],
      // CouchDB calls Basic auth its `default` handler.
      ...(ctx.authenticatedVia !== null
        ? { authenticated: ctx.authenticatedVia === 'basic' ? 'default' : ctx.authenticatedVia }
        : {}),
    },
  };
}

/** `POST /_session`: log in with a form or JSON body; answers with an AuthSession cookie. */
async function login(ctx: RequestContext): Promise<unknown> {
  const { name, password } = credentials(ctx);
  const { userCtx, setCookie } = await ctx.services.auth.login(name, password, ctx.request.ip);
  ctx.reply.header('set-cookie', setCookie);
  const location = localRedirect(ctx.query.next);
  if (location) return ctx.reply.code(302).header('location', location).send();
  return sendJson(ctx.reply, 200, { ok: true, ...userCtx });
}

/**
 * `?next=` as a Location on this server only: browsers read `//host` and `/\host` as another host.
 * Re-encoded, since the decoded path may hold characters a header cannot (non-Latin-1, CR/LF).
 */
function localRedirect(next: string | undefined): string | undefined {
  if (next === undefined || !next.startsWith('/') || /^\/[/\\]/.test(next)) return undefined;
  return encodeURI(next);
}

function credentials(ctx: RequestContext): { name: string; password: string } {
  const body = Buffer.isBuffer(ctx.request.body) ? ctx.request.body.toString('utf8') : '';
  const type = ctx.request.headers['content-type'] ?? '';
  let fields: Record<string, unknown>;
  if (/^application\/x-www-form-urlencoded/i.test(type)) {
    fields = parseQuery(body.replaceAll('+', '%20'));
  } else if (/^application\/json/i.test(type)) {
    try {
      fields = JSON.parse(body) as Record<string, unknown>;
    } catch {
      throw badRequest('invalid UTF-8 JSON');
    }
  } else {
    throw new SetteeError(
      'bad_content_type',
      'Content-Type must be application/json or application/x-www-form-urlencoded',
    );
  }
  const { name, password } = fields ?? {};
  if (typeof name !== 'string' || typeof password !== 'string') {
    throw new SetteeError('unauthorized', 'Name or password is incorrect.');
  }
  return { name, password };
}
