/**
 * CouchDB's node endpoints, `/_node/{node}/…`, for this server as its one node: `_local` (any
 * server answers for itself, as CouchDB's `_local` alias does). `_config` shows the settings the
 * server started with: read-only, since they come from flags, the environment and a file that
 * are read at start (docs/configuration.md). `_stats`, `_prometheus` and `_system` show the
 * server's metrics (docs/server.md, "Metrics"), as chttpd_node.erl's handle_node_req does.
 * `_logs` is Settee's own: the log's recent warnings and errors (CouchDB 3 has no log endpoint).
 */
import { badRequest, notFound, SetteeError } from '../../core/errors.js';
import { ownValue } from '../../core/own.js';
import type { Methods, RequestContext } from '../context.js';
import { intParam, sendJson } from '../http.js';
import { RECENT_LEVELS, type RecentLevel } from '../metrics/recent-errors.js';

/** Section → key → value as text, secrets already hidden (`***`): what `_config` shows. */
export type ConfigSections = Readonly<Record<string, Readonly<Record<string, string>>>>;

const LOCAL_NODE = '_node/_local/';

/** The handlers of a `/_node/_local/…` endpoint this server has, if it is one. */
export function nodeMethods(endpoint: string): Methods | undefined {
  if (!endpoint.startsWith(LOCAL_NODE)) return undefined;
  const [name, ...path] = endpoint.slice(LOCAL_NODE.length).split('/');
  if (name === '_config' && path.length <= 2) return configMethods(path);
  // `_stats/{group}/{name}/…` picks a part, as deep as the path goes (couch_stats_httpd.erl).
  if (name === '_stats') return { GET: (ctx) => stats(ctx, path) };
  if (path.length > 0) return undefined;
  if (name === '_prometheus') return { GET: prometheus };
  if (name === '_logs') return { GET: recentLogs };
  if (name === '_system')
    return { GET: async (ctx) => sendJson(ctx.reply, 200, ctx.services.metrics.systemFigures()) };
  return undefined;
}

async function stats(ctx: RequestContext, path: readonly string[]): Promise<unknown> {
  return sendJson(ctx.reply, 200, await ctx.services.metrics.stats(path));
}

async function prometheus(ctx: RequestContext): Promise<unknown> {
  const { metrics } = ctx.services;
  const text = await metrics.prometheus();
  return ctx.reply.code(200).header('content-type', metrics.prometheusContentType).send(text);
}

/** `_logs?level=warn|error&limit=n`: `{ entries }`, newest first. */
async function recentLogs(ctx: RequestContext): Promise<unknown> {
  const level = levelParam(ctx.query.level);
  const limit = intParam(ctx.query, 'limit');
  const entries = ctx.services.metrics.recentErrors.list(level, limit);
  return sendJson(ctx.reply, 200, { entries });
}

function levelParam(value: string | undefined): RecentLevel {
  if (value === undefined) return 'warn';
  if ((RECENT_LEVELS as readonly string[]).includes(value)) return value as RecentLevel;
  throw badRequest(`level must be one of ${RECENT_LEVELS.join(', ')}`);
}

/** `_config`, `_config/{section}`, `_config/{section}/{key}`. */
function configMethods([section, key]: string[]): Methods {
  const read = async (ctx: RequestContext) => {
    const config = ctx.services.config;
    if (section === undefined) return sendJson(ctx.reply, 200, config);
    // A section of its own: `constructor` is none (CouchDB shows a section not set as `{}`).
    const entries = ownValue(config, section) ?? {};
    if (key === undefined) return sendJson(ctx.reply, 200, entries);
    // CouchDB: 404 `unknown_config_value` for a key that is not set.
    if (!Object.hasOwn(entries, key)) throw notFound('unknown_config_value');
    return sendJson(ctx.reply, 200, entries[key]);
  };
  const readOnly = async () => {
    throw new SetteeError(
      'method_not_allowed',
      "Settee's configuration is read at start: change the file, the environment or the flags, and restart.",
    );
  };
  return { GET: read, ...(key === undefined ? {} : { PUT: readOnly, DELETE: readOnly }) };
}
