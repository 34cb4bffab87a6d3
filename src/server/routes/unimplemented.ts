/**
 * CouchDB's endpoints that Settee does not have yet. Each answers 501 `not_implemented` with a
 * reason naming the feature — never a 404 that reads as "no such document" — once the caller
 * has passed the route's access check (the rows join the permissions table).
 */
import { SetteeError } from '../../core/errors.js';
import type { Handler, Methods, RequestContext } from '../context.js';
import type { Access } from '../permissions.js';

export interface UnimplementedRoute {
  /** The methods CouchDB serves there, space-separated (others get 405). */
  methods: string;
  /** The permissions table's path: `/_x…` on the server, `/{db}/…` in a database. */
  path: string;
  access: Access;
  /** What the 501's reason names. */
  feature: string;
  /** The endpoint as the router resolves it: without the leading `/` and the database name. */
  matches: RegExp;
}

const route = (
  methods: string,
  path: string,
  access: Access,
  feature: string,
  matches: RegExp,
): UnimplementedRoute => ({ methods, path, access, feature, matches });

/** Every CouchDB endpoint Settee answers with 501, and the access each needs before that. */
export const UNIMPLEMENTED_ROUTES: readonly UnimplementedRoute[] = [
  route('GET PUT POST DELETE', '/_node/…', 'server_admin', 'Node endpoints (_node)', /^_node(\/|$)/),
  route('GET PUT DELETE', '/_config/…', 'server_admin', 'Configuration (_config)', /^_config(\/|$)/),
  route('GET', '/_stats/…', 'server_admin', 'Statistics (_stats)', /^_stats(\/|$)/),
  route('GET POST', '/_cluster_setup', 'server_admin', 'Cluster setup (_cluster_setup)', /^_cluster_setup$/),
  route('GET', '/_membership', 'server_admin', 'Cluster membership (_membership)', /^_membership$/),
  route('GET PUT POST DELETE', '/_reshard/…', 'server_admin', 'Resharding (_reshard)', /^_reshard(\/|$)/),
  route(
    'POST',
    '/_search_analyze',
    'server_admin',
    'Full-text search (_search_analyze)',
    /^_search_analyze$/,
  ),
  route('POST', '/{db}/_purge', 'db_admin', 'Purging (_purge)', /^_purge$/),
  route(
    'GET',
    '/{db}/_purged_infos_limit',
    'member',
    'Purging (_purged_infos_limit)',
    /^_purged_infos_limit$/,
  ),
  route(
    'PUT',
    '/{db}/_purged_infos_limit',
    'db_admin',
    'Purging (_purged_infos_limit)',
    /^_purged_infos_limit$/,
  ),
  route('POST', '/{db}/_compact/{ddoc}', 'db_admin', 'View compaction (_compact/{ddoc})', /^_compact\/./),
  route(
    'GET POST',
    '/{db}/_design/{ddoc}/_show/…',
    'member',
    'Show functions (_show)',
    designAction('_show'),
  ),
  route(
    'GET POST',
    '/{db}/_design/{ddoc}/_list/…',
    'member',
    'List functions (_list)',
    designAction('_list'),
  ),
  route(
    'POST PUT',
    '/{db}/_design/{ddoc}/_update/…',
    'member',
    'Update functions (_update)',
    designAction('_update'),
  ),
  route(
    'GET POST PUT DELETE',
    '/{db}/_design/{ddoc}/_rewrite/…',
    'member',
    'Rewrites (_rewrite)',
    designAction('_rewrite'),
  ),
];

/** `_design/{ddoc}/{action}` and anything under it (a design document's name may hold `/`). */
function designAction(action: string): RegExp {
  return new RegExp(`^_design/.+?/${action}(/|$)`);
}

/** The design document actions CouchDB dispatches (the router tells them from attachments). */
export const DESIGN_ACTIONS: ReadonlySet<string> = new Set([
  '_view',
  '_info',
  '_show',
  '_list',
  '_update',
  '_rewrite',
]);

function routesFor(where: 'server' | 'database', endpoint: string): UnimplementedRoute[] {
  return UNIMPLEMENTED_ROUTES.filter(
    (r) => r.path.startsWith('/{db}/') === (where === 'database') && r.matches.test(endpoint),
  );
}

/** The unimplemented route an endpoint falls under (its path in the permissions table), if any. */
export function unimplementedRoute(
  where: 'server' | 'database',
  endpoint: string,
): UnimplementedRoute | undefined {
  return routesFor(where, endpoint)[0];
}

/** The handlers of an unimplemented endpoint: each method CouchDB serves answers 501. */
export function unimplementedMethods<C extends RequestContext>(
  where: 'server' | 'database',
  endpoint: string,
): Methods<C> | undefined {
  const routes = routesFor(where, endpoint);
  if (routes.length === 0) return undefined;
  const methods: Methods<C> = {};
  for (const r of routes) {
    const refuse: Handler<C> = async () => {
      throw new SetteeError('not_implemented', `${r.feature} is not implemented in Settee yet.`);
    };
    for (const method of r.methods.split(' ')) methods[method] = refuse;
  }
  return methods;
}
