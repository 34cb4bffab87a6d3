import type { Http2SecureServer } from 'node:http2';
import type { Socket } from 'node:net';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type pg from 'pg';
import type { Logger } from 'pino';
import { notFound, SetteeError } from '../core/errors.js';
import { ownValue } from '../core/own.js';
import { DesignWorkerPool } from '../design/index.js';
import { authorizeRequest, refuseCrossSite, refuseHistoryReads, requireJobOwner } from './access.js';
import type { AdminCredentials } from './auth/admins.js';
import { HashScheduler } from './auth/hash-scheduler.js';
import { Auth, DEFAULT_ITERATIONS } from './auth/index.js';
import { PostgresAuthState } from './auth/postgres-state.js';
import type { JwtOptions } from './auth/jwt.js';
import type { LockoutSettings, LockoutWarning } from './auth/lockout.js';
import type { DbContext, Methods, RequestContext, ServerServices } from './context.js';
import { type AutoCompactionOptions, type AutoCompactor, startAutoCompaction } from './auto-compaction.js';
import { applyCors } from './cors.js';
import { answerClientError, errorReply, sendJson } from './http.js';
import { accessFor } from './permissions.js';
import { DatabaseRegistry } from './registry.js';
import { ReplicationScheduler } from './replicator/index.js';
import { ResolverSettings, type ResolverStrategy } from './resolvers.js';
import { queryOf, resolveTarget, type Target } from './router.js';
import { databaseEndpoint, databaseMethods, reservedIdWrite } from './routes/databases.js';
import { attachmentMethods, documentMethods, localMethods } from './routes/documents.js';
import { queryEndpoint } from './routes/queries.js';
import { schedulerMethods } from './routes/replication.js';
import { type ConfigSections, nodeMethods } from './routes/node.js';
import { rootMethods, serverEndpoints } from './routes/server.js';
import { unimplementedMethods } from './routes/unimplemented.js';
import { viewEndpoint } from './routes/views.js';
import { type Leases, LocalLeases } from './leases/leases.js';
import { PostgresLeases } from './leases/postgres.js';
import { isServerAdmin } from './security.js';
import { PostgresDatabases } from './stores/postgres.js';
import { SqliteFolder } from './stores/sqlite-folder.js';
import type { DatabaseStore } from './stores/types.js';
import {
  checkTlsPair,
  InvalidTlsError,
  replaceCertificate,
  TlsConnections,
  type TlsOptions,
  tlsServerOptions,
} from './tls.js';
import { isUiPath, serveUi } from './ui.js';
import { UserStore } from './users.js';
import { writeRulesFor } from './write-rules.js';
import { ServerMetrics } from './metrics/index.js';
import { RecentErrors, recordingLogger } from './metrics/recent-errors.js';
import { RequestLog, requestLine, type RequestLogSetting } from './metrics/request-log.js';

export interface ServerOptions {
  /** The settings shown by `GET /_node/_local/_config` (secrets already hidden). */
  config?: ConfigSections;
  /**
   * Folder of the server's own state (its admins and the secret that signs session cookies,
   * in `_settee/`) and, unless `postgres` is given, of the databases: one SQLite file each.
   */
  dataDir: string;
  /**
   * Keeps every database in this PostgreSQL instead (a `postgres://…` URL, or a `pg` pool that
   * the caller ends after `close()`, one per server: the server's listening connection goes with
   * it), which several servers may share: see docs/scale-out.md.
   */
  postgres?: string | pg.Pool;
  port?: number;
  host?: string;
  /**
   * The server admins, each `user:password`: one, or a list (a name given twice: the last
   * counts). They replace the stored admins; with none given and none stored, an `admin` is
   * generated and its password printed once.
   */
  admin?: AdminCredentials;
  /** Origins allowed to call with credentials from a browser (none by default). */
  corsOrigins?: string[];
  /** Largest request body in bytes (default 256 MiB: PouchDB sends 100 docs with attachments at once). */
  maxRequestSize?: number;
  /** Largest JSON document in bytes (default 8 MB, CouchDB's `max_document_size`). */
  maxDocumentSize?: number;
  /** A pino logger for one line per request; silent when absent. */
  logger?: Logger;
  /**
   * Which requests get their log line: `on` (default), `off`, or a share such as 0.1 (one in
   * ten). Server errors (5xx) always do.
   */
  requestLog?: RequestLogSetting;
  /** PBKDF2 iterations for new password hashes (default 600,000). */
  passwordIterations?: number;
  /** Conflict resolution strategies beyond the built-in ones, by name (see `loadResolverModules`). */
  resolvers?: Record<string, ResolverStrategy>;
  /**
   * Waits before a crashed replication job is restarted: first (default 2 s) and longest (5 min);
   * on PostgreSQL, how often a job another server runs is tried again (default 5 s).
   */
  replicator?: { retryInitialMs?: number; retryMaxMs?: number; leaseRetryMs?: number };
  /** Anyone may create a user in `_users` (without roles). Off by default. */
  allowSignup?: boolean;
  /** A database `userdb-{hex name}` for each user (`deleteWithUser`: deleted with the user too). */
  perUserDbs?: { deleteWithUser: boolean };
  /** Accept `Authorization: Bearer` JWTs signed with these keys. */
  jwt?: JwtOptions;
  /**
   * Authentication failures before a user is locked out of an address (5), for how long (5 min),
   * how many pairs are tracked (10 000), and the mode: `enforce` (default), `warn` (a warning is
   * logged once per lock, nothing refused) or `off`.
   */
  lockout?: Omit<LockoutSettings, 'onWarning'>;
  /** The server is reached over HTTPS (behind a TLS proxy): session cookies get `Secure`. */
  secureCookies?: boolean;
  /**
   * Serve HTTPS with this certificate and key, HTTP/1.1 and HTTP/2 on the same port (session
   * cookies get `Secure`); `replaceCertificate` renews them while the server runs.
   */
  tls?: TlsOptions;
  /**
   * Addresses (or CIDR ranges) of proxies in front of the server: their `X-Forwarded-For` names
   * the client, so that lockout and the hashing pool count per real client, not per proxy.
   */
  trustProxy?: string[];
  /** Limits of each validation function call: time (default 5 s) and memory (default 64 MiB). */
  validation?: { timeoutMs?: number; memoryBytes?: number };
  /** Compaction of databases whose files hold much more than their live data; `false` turns it off. */
  autoCompaction?: AutoCompactionOptions | false;
}

// Every method a client may send reaches dispatch, so an unsupported one gets CouchDB's 405 with
// `Allow` rather than a 404 (COPY is CouchDB's own method, unknown to fastify until added).
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'COPY'] as const;

/**
 * Settee's CouchDB-compatible HTTP server: CouchDB's routes, shapes and status codes over the
 * databases in a data folder, with Basic and cookie authentication and CORS for browsers.
 *
 * @example
 * const server = await SetteeServer.create({ dataDir: './data', admin: 'admin:secret' });
 * console.log(await server.listen());
 */
export class SetteeServer {
  private readonly shutdown = new AbortController();
  private readonly requestLog: RequestLog;
  /** Open client connections, to end at shutdown the ones that never sent a request. */
  private readonly sockets = new Set<Socket>();
  /** Origins allowed to call with credentials from a browser. */
  private readonly origins: ReadonlySet<string>;
  /** The shutdown under way, once `close()` was called. */
  private closing: Promise<void> | undefined;
  /** Under TLS, the connections a shutdown must end itself. */
  private tlsConnections: TlsConnections | undefined;

  private constructor(
    readonly app: FastifyInstance,
    readonly services: ServerServices,
    private readonly options: ServerOptions,
    /** Runs the validation functions of design documents. */
    private readonly validator: DesignWorkerPool,
    private readonly compactor: AutoCompactor | undefined,
    /** Which server runs each replication job and compaction, when several share PostgreSQL. */
    private readonly leases: Leases,
  ) {
    this.origins = new Set(options.corsOrigins ?? []);
    this.requestLog = new RequestLog(options.requestLog);
  }

  static async create(options: ServerOptions): Promise<SetteeServer> {
    // Before anything opens: a certificate that cannot be served stops the start.
    if (options.tls) checkTlsPair(options.tls);
    const store = await openStore(options);
    const registry = await DatabaseRegistry.open(store, new ResolverSettings(options.resolvers)).catch(
      async (error: unknown) => {
        await store.close();
        throw error;
      },
    );
    // Every line of the server's log goes through here, its warnings and errors kept for `_logs`.
    const recentErrors = new RecentErrors();
    const log = recordingLogger(options.logger, recentErrors);
    const { users, auth, validator } = await openAccounts(registry, options, log);
    const app = Fastify({
      loggerInstance: log,
      // One line per request, written by our onResponse hook, instead of fastify's two.
      logController: new LogController({ disableRequestLogging: true }),
      // Requests log through the server's logger itself: a child logger per request (for a
      // request id nobody reads) costs more than the line it writes.
      childLoggerFactory: (logger) => logger,
      bodyLimit: options.maxRequestSize ?? 256 * 1024 * 1024,
      ...(options.trustProxy?.length ? { trustProxy: options.trustProxy } : {}),
      // The query is parsed in dispatch, where a bad encoding becomes a 400: a parser that throws
      // here is an uncaught exception that takes the process down.
      routerOptions: { querystringParser: () => ({}) },
      forceCloseConnections: 'idle',
      // A path fastify cannot decode (`/%zz`) still gets CouchDB's error body.
      frameworkErrors: (error, _request, reply) =>
        sendJson(reply, 400, { error: 'bad_request', reason: error.message }),
      // ... and so does a request Node's parser refuses (headers too large, a malformed line).
      clientErrorHandler: answerClientError,
      // Fastify types an HTTP/2 server by another overload; the instance is cast below either way.
      ...(options.tls ? (tlsServerOptions(options.tls) as object) : {}),
    }) as unknown as FastifyInstance;
    const shutdownController = new AbortController();
    // The jobs of `_replicator` start once the server listens: some may replicate through it.
    const leases = leasesFor(options);
    const replications = new ReplicationScheduler(registry, {
      ...options.replicator,
      leases,
      log: (message) => log.warn(message),
    });
    await replications.open();
    followAccess(replications, registry, users);
    const services: ServerServices = {
      registry,
      auth,
      maxDocumentSize: options.maxDocumentSize ?? 8_000_000,
      shutdown: shutdownController.signal,
      replications,
      users,
      config: options.config ?? {},
      metrics: new ServerMetrics(
        {
          openDatabases: () => registry.openCount,
          replication: () => replications.figures(),
          auth: () => auth.stats,
        },
        recentErrors,
      ),
    };
    // The server's own databases are open by now; the ones opened later are followed as they open.
    const compactor = startAutoCompaction(
      registry,
      options.autoCompaction,
      ['_users', '_replicator'],
      log,
      leases,
    );
    const server = new SetteeServer(app, services, options, validator, compactor, leases);
    server.shutdown.signal.addEventListener('abort', () => shutdownController.abort());
    server.configure();
    return server;
  }

  private configure(): void {
    const { app } = this;
    if (this.options.tls)
      this.tlsConnections = new TlsConnections(app.server as unknown as Http2SecureServer);
    app.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    app.addHttpMethod('COPY', { hasBody: true });
    // Bodies stay bytes: each route parses them as CouchDB does (JSON, multipart, forms, raw
    // attachments), so an empty or odd body gets CouchDB's answer rather than the framework's.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    // Hooks in callback style: an async hook costs a promise and its ticks on every request.
    app.addHook('onRequest', (request, reply, done) => {
      if (applyCors(request, reply, this.origins) === 'preflight') reply.code(204).send();
      else this.admit(request, reply).then(() => done(), done);
    });
    // Counted as the answer starts, so that a client holding its answer finds it counted.
    app.addHook('onSend', (request, reply, payload, done) => {
      const target = admitted.get(request)?.target;
      this.services.metrics.countResponse(request.method, reply.statusCode, reply.elapsedTime, target);
      done(null, payload);
    });
    app.addHook('onResponse', (request, reply, done) => {
      const status = reply.statusCode;
      if (this.requestLog.wants(status)) {
        request.log[status >= 500 ? 'warn' : 'info'](requestLine(request, reply), 'request');
      }
      done();
    });
    app.setErrorHandler(async (error, request, reply) => {
      const { status, body } = errorReply(error);
      if (status >= 500) request.log.error({ err: error }, 'request failed');
      return sendJson(reply, status, body);
    });
    app.setNotFoundHandler(async (_request, reply) => sendJson(reply, 404, notFound('missing').toJSON()));
    for (const url of ['/', '/*'])
      app.route({ method: [...METHODS], url, handler: (rq, rp) => this.dispatch(rq, rp) });
  }

  /**
   * Before the body is read: resolves the raw path to its target, authenticates, refuses
   * cross-site requests and checks the caller's access. An unauthorized client never gets the
   * server to buffer its body.
   */
  private async admit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const url = request.raw.url ?? '/';
    try {
      // The web page's static files are public: the page itself logs in through /_session.
      if (isUiPath(url)) return refuseUploadToUi(request, reply);
      const target = resolveTarget(url);
      const query = queryOf(url);
      const { userCtx, via, setCookie } = await this.services.auth.authenticate({
        authorization: request.headers.authorization,
        cookie: request.headers.cookie,
        address: request.ip,
      });
      if (setCookie) reply.header('set-cookie', setCookie);
      if (via === 'cookie') refuseCrossSite(request, target, this.origins);
      if (isLogin(target, request.method)) refuseLargeLogin(request);
      const access = accessFor(target, request.method);
      await authorizeRequest(this.services, access, userCtx, target, request.method);
      admitted.set(request, {
        request,
        reply,
        query,
        target,
        userCtx,
        authenticatedVia: via,
        access,
        services: this.services,
      });
    } catch (error) {
      // The body was never read: end the connection rather than drain an unwanted upload. (Over
      // HTTP/2 flow control stops the upload, and the header does not exist.)
      if (hasBody(request) && request.raw.httpVersionMajor === 1) reply.header('connection', 'close');
      throw error;
    }
  }

  /** Runs the handler of an admitted request's target. */
  private async dispatch(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    if (isUiPath(request.raw.url ?? '/')) return serveUi(request, reply);
    const ctx = admitted.get(request);
    if (!ctx) throw new Error('a request reached its handler without being admitted');
    const { target } = ctx;
    switch (target.kind) {
      case 'root':
        return run(rootMethods, ctx);
      case 'server':
        return run(
          ownValue(serverEndpoints, target.endpoint) ??
            schedulerMethods(target.endpoint) ??
            nodeMethods(target.endpoint) ??
            unimplementedMethods('server', target.endpoint) ??
            missingEndpoint(),
          ctx,
        );
      case 'db':
        return run(databaseMethods, ctx);
      default: {
        const methods = dbMethods(target, request.method);
        const db = await this.services.registry.get(target.db);
        const owned = ctx.access === 'own_job' || ctx.access === 'own_user';
        if (owned && (request.method === 'GET' || request.method === 'HEAD')) {
          refuseHistoryReads(ctx.query, ctx.userCtx);
          if (ctx.access === 'own_job') await requireJobOwner(db, target, ctx.userCtx);
        }
        return run(methods, { ...ctx, db } satisfies DbContext);
      }
    }
  }

  /** Starts listening; returns the server's base URL. */
  async listen(): Promise<string> {
    await this.app.listen({ port: this.options.port ?? 5984, host: this.options.host ?? '127.0.0.1' });
    await this.services.replications.start();
    return this.url;
  }

  get url(): string {
    const address = this.app.server.address();
    if (!address || typeof address === 'string') throw new Error('the server is not listening');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.options.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  /**
   * Serves a renewed certificate and key to new connections; open ones keep working with theirs.
   * A pair that cannot be served throws an `InvalidTlsError` and the current one stays.
   */
  replaceCertificate(tls: TlsOptions): void {
    if (!this.options.tls) throw new InvalidTlsError('the server was not started with TLS');
    replaceCertificate(this.app.server as unknown as Http2SecureServer, tls);
  }

  /**
   * Cancels replications (each writes a last checkpoint, through this server if it must), ends
   * live feeds (with their final last_seq), lets in-flight requests finish, closes databases.
   * A second call (another shutdown signal) waits for the first: what closes, closes once.
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    const compactionStopped = this.compactor?.stop();
    await this.services.replications.stop();
    this.shutdown.abort();
    // Connections become idle only once their live feeds have ended, after close() began:
    // keep closing idle ones so a keep-alive client cannot hold the shutdown open.
    const closing = this.app.close();
    // A connection that never sent a request (a client's pre-opened or abandoned socket) is not
    // idle to Node: it would hold the shutdown until the headers timeout (60 s).
    const sweep = setInterval(() => {
      this.tlsConnections?.closeIdle();
      this.app.server.closeIdleConnections();
      for (const socket of this.sockets) if (socket.bytesRead === 0) socket.destroy();
    }, 25);
    try {
      await closing;
    } finally {
      clearInterval(sweep);
    }
    await this.services.users.close();
    await this.services.auth.close();
    await compactionStopped;
    // After the jobs and the compaction stopped: the other servers may take them over now.
    await this.leases.close();
    await this.services.registry.closeAll();
    await this.validator.close();
    this.services.metrics.stop();
  }
}

/** Where the databases live: SQLite files in the data folder, or the PostgreSQL given. */
async function openStore(options: ServerOptions): Promise<DatabaseStore> {
  return options.postgres === undefined
    ? new SqliteFolder(options.dataDir)
    : PostgresDatabases.open(options.postgres);
}

/** On PostgreSQL, leases shared with the other servers; alone, every lease is this server's. */
function leasesFor(options: ServerOptions): Leases {
  const { postgres } = options;
  if (postgres === undefined) return new LocalLeases();
  return new PostgresLeases(typeof postgres === 'string' ? postgres : postgres.options);
}

function dbMethods(
  target: Exclude<Target, { kind: 'root' | 'server' | 'db' }>,
  method: string,
): Methods<DbContext> {
  switch (target.kind) {
    case 'db-endpoint':
      return (
        databaseEndpoint(target.endpoint) ??
        queryEndpoint(target.endpoint) ??
        viewEndpoint(target.endpoint) ??
        unimplementedMethods('database', target.endpoint) ??
        (method === 'PUT' ? reservedIdWrite : missingEndpoint())
      );
    case 'local':
      return localMethods;
    case 'doc':
      return documentMethods;
    case 'attachment':
      return attachmentMethods;
  }
}

function run<C extends RequestContext>(methods: Methods<C>, ctx: C): Promise<unknown> {
  const handler = methods[ctx.request.method];
  if (!handler) {
    const allowed = Object.keys(methods).join(',');
    ctx.reply.header('allow', allowed);
    throw new SetteeError('method_not_allowed', `Only ${allowed} allowed`);
  }
  return handler(ctx);
}

function missingEndpoint(): never {
  throw notFound('missing');
}

/**
 * Users, authentication and the write rules of every database: `_users` opens first, since
 * authentication reads it; password hashes of logins and of user documents share one pool.
 */
async function openAccounts(
  registry: DatabaseRegistry,
  options: ServerOptions,
  log: Logger,
): Promise<{ users: UserStore; auth: Auth; validator: DesignWorkerPool }> {
  const given = options.logger;
  // Without a logger of its own, the server still says these on stderr, as it always did.
  const warn = (message: string) => {
    log.warn(message);
    if (!given) console.warn(message);
  };
  // Auth logs one line only: a generated admin's password, which must not be kept for `_logs`.
  const announce = (message: string) => (given ? given.warn(message) : console.warn(message));
  const iterations = options.passwordIterations ?? DEFAULT_ITERATIONS;
  const hashing = new HashScheduler();
  const usersOptions = {
    iterations,
    hashing,
    allowSignup: options.allowSignup === true,
    ...(options.perUserDbs ? { perUserDbs: options.perUserDbs } : {}),
    log: warn,
  };
  const validator = new DesignWorkerPool(options.validation ?? {});
  registry.prepare = (db) => {
    db.setWriteHook(writeRulesFor(db, { registry, users: usersOptions, validator }));
    // Views and filter functions run in the same pool of sandboxes as validation.
    db.setDesignRunner(validator);
  };
  const users = new UserStore(registry, usersOptions);
  await users.open();
  const auth = await Auth.open(options.dataDir, {
    admin: options.admin,
    log: announce,
    iterations,
    users,
    hashing,
    ...(options.jwt ? { jwt: options.jwt } : {}),
    lockout: { ...options.lockout, onWarning: (warning) => logLockoutWarning(log, warning) },
    secureCookies: options.secureCookies === true || options.tls !== undefined,
    // On PostgreSQL the secret, admins' hashes and lockout are the servers' together
    // (docs/scale-out.md), kept through the databases' own pool rather than one more.
    ...(registry.store instanceof PostgresDatabases
      ? { state: await PostgresAuthState.open(registry.store.pool, options.dataDir) }
      : {}),
  });
  return { users, auth, validator };
}

/** `warn` mode's line: who, from where, and until when `enforce` would have refused them. */
function logLockoutWarning(log: Logger, { address, user, until }: LockoutWarning): void {
  const who = user === undefined ? 'bad JWTs' : `user "${user}"`;
  log.warn(
    { address, user: user ?? null, until: new Date(until).toISOString() },
    `authentication failure threshold reached for ${who} from ${address}: ` +
      'let through, as [chttpd_auth_lockout] mode is warn',
  );
}

/**
 * Replication jobs run with their writers' rights, as they are now: a change of a database's
 * security or of a user's document re-checks the jobs it concerns.
 */
function followAccess(
  replications: ReplicationScheduler,
  registry: DatabaseRegistry,
  users: UserStore,
): void {
  // Server admin only if an admin wrote the job (never by name alone — a JWT may carry any
  // name), else the user's roles as they are now.
  replications.identify = async (recorded) => {
    if (isServerAdmin(recorded) || recorded.name === null) return recorded;
    const user = await users.user(recorded.name);
    return {
      name: recorded.name,
      roles: user ? user.roles : recorded.roles.filter((r) => !r.startsWith('_')),
    };
  };
  registry.onSecurityChange((db) => void replications.recheckAccess({ db }));
  users.onUserChange(
    (user) => void users.user(user).then((found) => replications.recheckAccess({ user, deleted: !found })),
  );
}

/** The context of each request that passed `admit`, for its handler. */
const admitted = new WeakMap<FastifyRequest, RequestContext>();

/** Anyone may log in, so a login's body is read before anyone is known: it must be small. */
const MAX_LOGIN_BODY = 64 * 1024;

function isLogin(target: Target, method: string): boolean {
  return target.kind === 'server' && target.endpoint === '_session' && method === 'POST';
}

function refuseLargeLogin(request: FastifyRequest): void {
  if (!hasBody(request)) return;
  const length = Number(request.headers['content-length'] ?? Number.NaN);
  if (!(length <= MAX_LOGIN_BODY)) {
    throw new SetteeError(
      'too_large',
      `A login body must have a Content-Length of at most ${MAX_LOGIN_BODY} bytes`,
    );
  }
}

/** The web page's files are only read: nothing may be uploaded there (nor read before refusing). */
function refuseUploadToUi(request: FastifyRequest, reply: FastifyReply): void {
  if (request.method === 'GET' || request.method === 'HEAD') return;
  reply.header('allow', 'GET,HEAD');
  throw new SetteeError('method_not_allowed', 'Only GET,HEAD allowed');
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}
