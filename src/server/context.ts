import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Database } from '../database/database.js';
import type { Auth, UserContext } from './auth/index.js';
import type { Query } from './http.js';
import type { ServerMetrics } from './metrics/index.js';
import type { Access } from './permissions.js';
import type { DatabaseRegistry } from './registry.js';
import type { ReplicationScheduler } from './replicator/index.js';
import type { Target } from './router.js';
import type { ConfigSections } from './routes/node.js';
import type { UserStore } from './users.js';

/** What routes share across requests: the databases, authentication, limits and live feeds. */
export interface ServerServices {
  registry: DatabaseRegistry;
  auth: Auth;
  maxDocumentSize: number;
  /** Aborted at shutdown: live feeds end with their final `last_seq`. */
  shutdown: AbortSignal;
  /** `_replicate`, the `_replicator` jobs and their listings. */
  replications: ReplicationScheduler;
  /** The users of `_users`. */
  users: UserStore;
  /** The settings the server started with, as `GET /_node/_local/_config` shows them. */
  config: ConfigSections;
  /** What `_stats`, `_prometheus` and `_system` show; routes that read or write many documents count them here. */
  metrics: ServerMetrics;
}

/** One request, resolved: its target, parsed query and user. */
export interface RequestContext {
  request: FastifyRequest;
  reply: FastifyReply;
  query: Query;
  target: Target;
  userCtx: UserContext;
  /** How the user authenticated, for `GET /_session`. */
  authenticatedVia: 'basic' | 'cookie' | 'jwt' | null;
  /** What the permissions table asked of the user (already checked). */
  access: Access;
  services: ServerServices;
}

/** A request on a database that exists. */
export interface DbContext extends RequestContext {
  db: Database;
}

export type Handler<C extends RequestContext = RequestContext> = (ctx: C) => Promise<unknown>;

/** Handlers of one resource, by HTTP method. */
export type Methods<C extends RequestContext = RequestContext> = Partial<Record<string, Handler<C>>>;
