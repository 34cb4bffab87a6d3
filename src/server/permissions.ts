/**
 * Who may call what: one table of routes and the access each needs. The server checks every
 * request against it before reading the body, the permissions test walks every row with every
 * kind of identity, and docs/security.md shows the same table (a test keeps them equal).
 */
import type { UserContext } from '../core/api.js';
import { SetteeError } from '../core/errors.js';
import type { Target } from './router.js';
import { UNIMPLEMENTED_ROUTES, unimplementedRoute } from './routes/unimplemented.js';
import { isDbAdmin, isMember, isServerAdmin, type SecurityObject } from './security.js';
import { USER_PREFIX, USERS_DB } from './users.js';

/**
 * - `anyone`: no credentials needed.
 * - `user`: any signed-in user.
 * - `member`: the database's members and admins (anyone when its members name nobody).
 * - `db_admin`: the database's admins and server admins.
 * - `server_admin`: server admins only.
 * - `own_user`: a user's own `_users` document (anyone, to sign up, when sign-up is on).
 * - `own_job`: any signed-in user, on the `_replicator` documents they own.
 * - `metrics`: server admins and users with the `_metrics` role (a monitoring system's account).
 */
export type Access =
  'anyone' | 'user' | 'member' | 'db_admin' | 'server_admin' | 'own_user' | 'own_job' | 'metrics';

/** The role that lets a user read the server's metrics, and nothing more. */
export const METRICS_ROLE = '_metrics';

export interface RouteRule {
  methods: readonly string[];
  path: string;
  access: Access;
}

const rule = (methods: string, path: string, access: Access): RouteRule => ({
  methods: methods.split(' '),
  path,
  access,
});

/** Every route of the server and the access it needs. `{db}` is any database but `_users`/`_replicator`. */
export const ROUTES: readonly RouteRule[] = [
  rule('GET', '/', 'anyone'),
  rule('GET', '/_up', 'anyone'),
  rule('GET', '/_uuids', 'anyone'),
  rule('GET POST DELETE', '/_session', 'anyone'),
  rule('GET', '/_all_dbs', 'server_admin'),
  rule('GET', '/_my_dbs', 'user'),
  rule('GET POST', '/_dbs_info', 'server_admin'),
  rule('POST', '/_replicate', 'user'),
  rule('GET', '/_active_tasks', 'server_admin'),
  rule('GET', '/_scheduler/jobs', 'server_admin'),
  rule('GET', '/_scheduler/jobs/{id}', 'server_admin'),
  rule('GET', '/_scheduler/docs', 'server_admin'),
  rule('GET', '/_scheduler/docs/{replicator}', 'server_admin'),
  rule('GET', '/_scheduler/docs/{replicator}/{docid}', 'server_admin'),
  rule('GET', '/_node/_local/_config', 'server_admin'),
  rule('GET', '/_node/_local/_config/{section}', 'server_admin'),
  rule('GET PUT DELETE', '/_node/_local/_config/{section}/{key}', 'server_admin'),
  rule('GET', '/_node/_local/_stats', 'metrics'),
  rule('GET', '/_node/_local/_stats/…', 'metrics'),
  rule('GET', '/_node/_local/_prometheus', 'metrics'),
  rule('GET', '/_node/_local/_system', 'metrics'),
  // Settee's own: log lines may name databases and documents, so not the `_metrics` role's.
  rule('GET', '/_node/_local/_logs', 'server_admin'),
  rule('PUT DELETE', '/{db}', 'server_admin'),
  rule('GET HEAD POST', '/{db}', 'member'),
  rule('GET POST', '/{db}/_all_docs', 'member'),
  rule('GET POST', '/{db}/_local_docs', 'member'),
  rule('GET POST', '/{db}/_changes', 'member'),
  rule('POST', '/{db}/_bulk_docs', 'member'),
  rule('POST', '/{db}/_bulk_get', 'member'),
  rule('POST', '/{db}/_revs_diff', 'member'),
  rule('POST', '/{db}/_missing_revs', 'member'),
  rule('POST', '/{db}/_ensure_full_commit', 'member'),
  rule('GET', '/{db}/_security', 'member'),
  rule('PUT', '/{db}/_security', 'db_admin'),
  rule('GET', '/{db}/_revs_limit', 'member'),
  rule('PUT', '/{db}/_revs_limit', 'db_admin'),
  rule('POST', '/{db}/_compact', 'db_admin'),
  rule('GET', '/{db}/_conflicts', 'member'),
  rule('GET', '/{db}/_resolutions', 'member'),
  rule('GET POST', '/{db}/_resolve', 'member'),
  rule('GET POST', '/{db}/_resolve/{docid}', 'member'),
  rule('GET PUT DELETE', '/{db}/_resolver', 'db_admin'),
  rule('POST', '/{db}/_find', 'member'),
  rule('POST', '/{db}/_explain', 'member'),
  rule('GET', '/{db}/_index', 'member'),
  // Indexes are design documents, which only database admins may write (couch_db.erl,
  // validate_doc_update: check_is_admin for `_design/` ids).
  rule('POST', '/{db}/_index', 'db_admin'),
  rule('DELETE', '/{db}/_index/{ddoc}/json/{name}', 'db_admin'),
  rule('POST', '/{db}/_index/_bulk_delete', 'db_admin'),
  rule('GET POST', '/{db}/_design_docs', 'member'),
  rule('POST', '/{db}/_view_cleanup', 'db_admin'),
  rule('GET HEAD PUT DELETE', '/{db}/{docid}', 'member'),
  rule('GET HEAD PUT DELETE', '/{db}/{docid}/{attachment}', 'member'),
  rule('GET PUT DELETE', '/{db}/_local/{docid}', 'member'),
  rule('GET HEAD', '/{db}/_design/{ddoc}', 'member'),
  rule('PUT DELETE', '/{db}/_design/{ddoc}', 'db_admin'),
  rule('GET HEAD', '/{db}/_design/{ddoc}/{attachment}', 'member'),
  rule('PUT DELETE', '/{db}/_design/{ddoc}/{attachment}', 'db_admin'),
  rule('GET POST', '/{db}/_design/{ddoc}/_view/{view}', 'member'),
  rule('POST', '/{db}/_design/{ddoc}/_view/{view}/queries', 'member'),
  rule('GET', '/{db}/_design/{ddoc}/_info', 'member'),
  // A user may delete their own account, as CouchDB's _users validation allows.
  rule('GET HEAD PUT DELETE', '/_users/org.couchdb.user:{name}', 'own_user'),
  rule('GET HEAD PUT POST DELETE', '/_users/…', 'server_admin'),
  rule('GET HEAD PUT DELETE', '/_replicator/{docid}', 'own_job'),
  rule('GET HEAD PUT POST DELETE', '/_replicator/…', 'server_admin'),
  // CouchDB's endpoints Settee answers with 501, once the caller has the access they need.
  ...UNIMPLEMENTED_ROUTES.map(({ methods, path, access }) => rule(methods, path, access)),
];

const DB_ENDPOINT_PATTERNS = new Set(
  ROUTES.flatMap(({ path }) => (path.startsWith('/{db}/_') ? [path.slice('/{db}/'.length)] : [])),
);
const SERVER_PATTERNS = new Set(ROUTES.flatMap(({ path }) => (path.startsWith('/_') ? [path] : [])));

/** Whether a database holds replication jobs: `_replicator` or `{prefix}/_replicator`. */
export function isReplicatorDb(name: string): boolean {
  return name === '_replicator' || name.endsWith('/_replicator');
}

/** The table's path for a request's target. */
export function routePattern(target: Target): string {
  switch (target.kind) {
    case 'root':
      return '/';
    case 'server':
      return serverPattern(target.endpoint);
    default:
      if (target.db === USERS_DB) return usersPattern(target);
      if (isReplicatorDb(target.db))
        return target.kind === 'doc' && !target.id.startsWith('_design/')
          ? '/_replicator/{docid}'
          : '/_replicator/…';
      return dbPattern(target);
  }
}

/** `_node/_local/_stats/{group}/{name}/…`: any part of the statistics. */
const NODE_STATS = '_node/_local/_stats/';

/** `_node/_local/_config/{section}` and `…/{section}/{key}`. */
const NODE_CONFIG = /^_node\/_local\/_config\/([^/]+)(?:\/([^/]+))?$/;

function serverPattern(endpoint: string): string {
  const path = `/${endpoint}`;
  if (SERVER_PATTERNS.has(path)) return path;
  if (endpoint.startsWith(NODE_STATS)) return '/_node/_local/_stats/…';
  const unimplemented = unimplementedRoute('server', endpoint);
  if (unimplemented) return unimplemented.path;
  if (endpoint.startsWith('_scheduler/jobs/')) return '/_scheduler/jobs/{id}';
  const config = NODE_CONFIG.exec(endpoint);
  if (config)
    return config[2] === undefined
      ? '/_node/_local/_config/{section}'
      : '/_node/_local/_config/{section}/{key}';
  if (endpoint.startsWith('_scheduler/docs/')) {
    const rest = endpoint.slice('_scheduler/docs/'.length);
    // A job database's name may itself hold a slash (`shop/_replicator`).
    const at = rest.indexOf('_replicator');
    const tail = at < 0 ? '' : rest.slice(at + '_replicator'.length);
    return tail === '' ? '/_scheduler/docs/{replicator}' : '/_scheduler/docs/{replicator}/{docid}';
  }
  return path;
}

function usersPattern(target: Exclude<Target, { kind: 'root' | 'server' }>): string {
  if (target.kind === 'doc' && target.id.startsWith(USER_PREFIX)) return '/_users/org.couchdb.user:{name}';
  return '/_users/…';
}

/** Database endpoints whose path holds names (the rest match their table path as they are). */
const ENDPOINT_PATTERNS: readonly [RegExp, string][] = [
  [/^_index\/(?!_bulk_delete$)./, '/{db}/_index/{ddoc}/json/{name}'],
  [/^_design\/.+\/_view\/[^/]+\/queries$/, '/{db}/_design/{ddoc}/_view/{view}/queries'],
  [/^_design\/.+\/_view\/[^/]+$/, '/{db}/_design/{ddoc}/_view/{view}'],
  [/^_design\/.+\/_info$/, '/{db}/_design/{ddoc}/_info'],
];

function dbPattern(target: Exclude<Target, { kind: 'root' | 'server' }>): string {
  switch (target.kind) {
    case 'db':
      return '/{db}';
    case 'db-endpoint': {
      if (target.endpoint.startsWith('_resolve/')) return '/{db}/_resolve/{docid}';
      const patterned = ENDPOINT_PATTERNS.find(([matches]) => matches.test(target.endpoint));
      if (patterned) return patterned[1];
      const unimplemented = unimplementedRoute('database', target.endpoint);
      if (unimplemented) return unimplemented.path;
      return DB_ENDPOINT_PATTERNS.has(target.endpoint) ? `/{db}/${target.endpoint}` : '/{db}/_…';
    }
    case 'local':
      return '/{db}/_local/{docid}';
    case 'doc':
      return target.id.startsWith('_design/') ? '/{db}/_design/{ddoc}' : '/{db}/{docid}';
    case 'attachment':
      return target.id.startsWith('_design/')
        ? '/{db}/_design/{ddoc}/{attachment}'
        : '/{db}/{docid}/{attachment}';
  }
}

const RULES_BY_PATH = new Map<string, RouteRule[]>();
for (const route of ROUTES) RULES_BY_PATH.set(route.path, [...(RULES_BY_PATH.get(route.path) ?? []), route]);

const STRICTNESS: Record<Access, number> = {
  anyone: 0,
  user: 1,
  own_user: 1,
  own_job: 1,
  member: 2,
  metrics: 3,
  db_admin: 3,
  server_admin: 4,
};

/**
 * The access a request needs. A method the table does not list for the path needs the strictest
 * access of that path (its handler then answers 405); a path it does not know needs a member of
 * the database, or a server admin outside databases (its handler then answers 404).
 */
export function accessFor(target: Target, method: string): Access {
  const rules = RULES_BY_PATH.get(routePattern(target)) ?? [];
  const exact = rules.find((route) => route.methods.includes(method));
  if (exact) return exact.access;
  if (rules.length === 0)
    return target.kind === 'root' || target.kind === 'server' ? 'server_admin' : 'member';
  return rules.reduce((a, b) => (STRICTNESS[b.access] > STRICTNESS[a.access] ? b : a)).access;
}

/** What deciding on a request may need to know beyond who asks. */
export interface AccessFacts {
  /** The database's security object (for `member` and `db_admin`). */
  security?: SecurityObject;
  /** Sign-up is open: anyone may create a user. */
  allowSignup: boolean;
}

/** Refuses the request (401 anonymous, 403 signed in) unless `userCtx` has `access`. */
export function authorize(
  access: Access,
  userCtx: UserContext,
  target: Target,
  method: string,
  facts: AccessFacts,
): void {
  if (allowed(access, userCtx, target, method, facts)) return;
  const reason = refusalReason(access);
  if (userCtx.name === null) throw new SetteeError('unauthorized', reason.anonymous);
  throw new SetteeError('forbidden', reason.signedIn);
}

function allowed(
  access: Access,
  userCtx: UserContext,
  target: Target,
  method: string,
  facts: AccessFacts,
): boolean {
  if (isServerAdmin(userCtx) || access === 'anyone') return true;
  switch (access) {
    case 'user':
    case 'own_job':
      return userCtx.name !== null;
    case 'member':
      return facts.security !== undefined && isMember(userCtx, facts.security);
    case 'db_admin':
      return facts.security !== undefined && isDbAdmin(userCtx, facts.security);
    case 'own_user': {
      const id = target.kind === 'doc' ? target.id : '';
      if (userCtx.name !== null && id === `${USER_PREFIX}${userCtx.name}`) return true;
      // Sign-up: the write rules of `_users` let only a new user without roles through.
      return method === 'PUT' && facts.allowSignup;
    }
    case 'metrics':
      return userCtx.roles.includes(METRICS_ROLE);
    case 'server_admin':
      return false;
  }
}

function refusalReason(access: Access): { anonymous: string; signedIn: string } {
  switch (access) {
    case 'server_admin':
      return { anonymous: 'You are not a server admin.', signedIn: 'You are not a server admin.' };
    case 'metrics': {
      const reason = `You are not a server admin, nor have you the ${METRICS_ROLE} role.`;
      return { anonymous: reason, signedIn: reason };
    }
    case 'db_admin':
      return {
        anonymous: 'You are not a db or server admin.',
        signedIn: 'You are not a db or server admin.',
      };
    case 'member':
      return {
        anonymous: 'You are not authorized to access this db.',
        signedIn: 'You are not allowed to access this db.',
      };
    default:
      return { anonymous: 'Authentication required.', signedIn: 'You may not access this document.' };
  }
}

/** The kinds of caller the permissions table (and its test) distinguish. */
export type Identity = 'anonymous' | 'non_member' | 'member' | 'db_admin' | 'server_admin' | 'jwt_member';

export const IDENTITIES: readonly Identity[] = [
  'anonymous',
  'non_member',
  'member',
  'db_admin',
  'server_admin',
  'jwt_member',
];

/** What a caller gets: the route's own answer (`ok`), or refused with 401 or 403. */
export type Outcome = 'ok' | 401 | 403;

const SERVER_ADMINS_ONLY: Record<Identity, Outcome> = {
  anonymous: 401,
  non_member: 403,
  member: 403,
  db_admin: 403,
  server_admin: 'ok',
  jwt_member: 403,
};

/**
 * What each access means for each identity: the expected status of every row of the table.
 * `own_user` is shown for the member's own user document, `own_job` for a job the member owns;
 * the JWT user holds a role that makes them a member.
 */
export const OUTCOMES: Record<Access, Record<Identity, Outcome>> = {
  anyone: {
    anonymous: 'ok',
    non_member: 'ok',
    member: 'ok',
    db_admin: 'ok',
    server_admin: 'ok',
    jwt_member: 'ok',
  },
  user: {
    anonymous: 401,
    non_member: 'ok',
    member: 'ok',
    db_admin: 'ok',
    server_admin: 'ok',
    jwt_member: 'ok',
  },
  member: {
    anonymous: 401,
    non_member: 403,
    member: 'ok',
    db_admin: 'ok',
    server_admin: 'ok',
    jwt_member: 'ok',
  },
  db_admin: {
    anonymous: 401,
    non_member: 403,
    member: 403,
    db_admin: 'ok',
    server_admin: 'ok',
    jwt_member: 403,
  },
  server_admin: SERVER_ADMINS_ONLY,
  own_user: {
    anonymous: 401,
    non_member: 403,
    member: 'ok',
    db_admin: 403,
    server_admin: 'ok',
    jwt_member: 403,
  },
  own_job: {
    anonymous: 401,
    non_member: 403,
    member: 'ok',
    db_admin: 403,
    server_admin: 'ok',
    jwt_member: 403,
  },
  // None of the table's identities holds the `_metrics` role (test/server/api-metrics.test.ts
  // calls these routes with it): they get what they get of server admins' routes.
  metrics: SERVER_ADMINS_ONLY,
};

const IDENTITY_TITLES: Record<Identity, string> = {
  anonymous: 'anonymous',
  non_member: 'signed-in non-member',
  member: 'member',
  db_admin: 'db admin',
  server_admin: 'server admin',
  jwt_member: 'JWT member',
};

/** The table as Markdown, for docs/security.md: each route, who may call it, and what each identity gets. */
export function permissionsMarkdown(): string {
  const head = ['Method', 'Path', 'Who may call it', ...IDENTITIES.map((id) => IDENTITY_TITLES[id])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const { methods, path, access } of ROUTES) {
    const cells = IDENTITIES.map((id) =>
      OUTCOMES[access][id] === 'ok' ? '✓' : String(OUTCOMES[access][id]),
    );
    lines.push(`| ${methods.join(', ')} | \`${path}\` | ${ACCESS_TEXT[access]} | ${cells.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

const ACCESS_TEXT: Record<Access, string> = {
  anyone: 'anyone',
  user: 'any signed-in user',
  member: 'members, database admins, server admins (anyone if the database is public)',
  db_admin: 'database admins, server admins',
  server_admin: 'server admins',
  own_user: 'that user, server admins; anyone with `--allow-signup` to create a new user',
  own_job: "the job document's owner (any signed-in user for a new one), server admins",
  metrics: 'server admins, users with the `_metrics` role',
};
