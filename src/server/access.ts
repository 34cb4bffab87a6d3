/**
 * The checks a request passes before its handler runs: its access by the permissions table, the
 * cross-site rules for cookie sessions, and ownership of replication jobs.
 */
import type { FastifyRequest } from 'fastify';
import type { UserContext } from '../core/api.js';
import { notFound, SetteeError } from '../core/errors.js';
import type { Database } from '../database/database.js';
import type { DbContext, ServerServices } from './context.js';
import type { Query } from './http.js';
import { type Access, type AccessFacts, authorize } from './permissions.js';
import type { Target } from './router.js';
import { isMember, isServerAdmin } from './security.js';

/** Checks `access`, reading the database's security object when the access depends on it. */
export async function authorizeRequest(
  services: ServerServices,
  access: Access,
  userCtx: UserContext,
  target: Target,
  method: string,
): Promise<void> {
  const facts: AccessFacts = { allowSignup: services.users.options.allowSignup === true };
  const needsSecurity = (access === 'member' || access === 'db_admin') && !isServerAdmin(userCtx);
  if (needsSecurity && target.kind !== 'root' && target.kind !== 'server') {
    facts.security = await services.registry.security(target.db).catch((error: unknown) => {
      // Which databases exist is not for anonymous callers to find out: sign in first.
      if (userCtx.name === null && error instanceof SetteeError && error.status === 404) {
        throw new SetteeError('unauthorized', 'You are not authorized to access this db.');
      }
      throw error;
    });
  }
  authorize(access, userCtx, target, method, facts);
}

/** Content types a page of another site can make a browser send with its cookies, without asking first. */
const SIMPLE_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data|text\/plain)\b/i;

/**
 * Refuses what a page of another origin could make a browser send with this server's session
 * cookie: any state-changing request whose `Origin` is neither this server nor an allowed CORS
 * origin, and a POST a plain HTML form or a no-preflight fetch could send (no JSON content type),
 * except logging in. `SameSite=Lax` alone does not stop a page of the same site (another port,
 * a sibling subdomain).
 */
export function refuseCrossSite(request: FastifyRequest, target: Target, origins: ReadonlySet<string>): void {
  const { method } = request;
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return;
  const origin = request.headers.origin;
  if (origin !== undefined && !origins.has(origin) && !sameOrigin(origin, request.headers.host)) {
    throw new SetteeError('forbidden', `Cross-site request refused: origin ${origin} is not allowed`);
  }
  const login = target.kind === 'server' && target.endpoint === '_session';
  if (method === 'POST' && !login) {
    const type = request.headers['content-type'];
    if (type === undefined || SIMPLE_TYPES.test(type)) {
      throw new SetteeError(
        'bad_content_type',
        'A request with a session cookie must have Content-Type: application/json',
      );
    }
  }
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}

/** Read options that reach other revisions than the current one. */
const HISTORY_PARAMS = [
  'rev',
  'open_revs',
  'revs',
  'revs_info',
  'conflicts',
  'deleted_conflicts',
  'meta',
  'latest',
];

/**
 * A document that belongs to someone — a user's own `_users` document, a `_replicator` job — is
 * read by that someone only as it is now. Its other revisions may be someone else's: a name
 * signed up again after its user was deleted, a job id re-used after its job was deleted, with
 * the old password hash or credentials still in the old revisions. Server admins read anything.
 */
export function refuseHistoryReads(query: Query, userCtx: UserContext): void {
  if (isServerAdmin(userCtx)) return;
  const asked = HISTORY_PARAMS.find((name) => query[name] !== undefined);
  if (asked !== undefined) {
    throw new SetteeError(
      'forbidden',
      `Only server admins may read other revisions of this document (${asked}).`,
    );
  }
}

/** A `_replicator` document is read by its owner (or a server admin) only: it may hold credentials. */
export async function requireJobOwner(db: Database, target: Target, userCtx: UserContext): Promise<void> {
  if (isServerAdmin(userCtx) || target.kind !== 'doc') return;
  const doc = await db.get(target.id).catch(() => undefined);
  if (!doc) throw notFound('missing');
  if (doc.owner !== userCtx.name) {
    throw new SetteeError('forbidden', 'This replication document belongs to another user.');
  }
}

/**
 * Aborts when the request's user may no longer read the database: its security object changed,
 * or the user's document did (deleted, roles taken away). Live feeds end on it. `dispose` stops
 * watching (call it when the response ends).
 */
export function watchMembership(ctx: DbContext): { signal: AbortSignal; dispose: () => void } {
  const { registry, users } = ctx.services;
  const revoked = new AbortController();
  let userCtx = ctx.userCtx;
  const recheck = async () => {
    const security = await registry.security(ctx.db.name).catch(() => undefined);
    if (!security || !isMember(userCtx, security)) revoked.abort();
  };
  const fromUsers = ctx.authenticatedVia === 'basic' || ctx.authenticatedVia === 'cookie';
  const stopSecurity = registry.onSecurityChange((name) => {
    if (name === ctx.db.name) void recheck();
  });
  const stopUsers = users.onUserChange((name) => {
    if (name !== userCtx.name || !fromUsers || isServerAdmin(userCtx)) return;
    void users.user(name).then((user) => {
      if (!user) return revoked.abort();
      userCtx = { name, roles: user.roles };
      return recheck();
    });
  });
  return {
    signal: revoked.signal,
    dispose: () => {
      stopSecurity();
      stopUsers();
    },
  };
}
