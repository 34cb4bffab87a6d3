import type { Socket } from 'node:net';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { notFound, SetteeError } from '../core/errors.js';
import { Auth } from './auth.js';
import type { DbContext, Methods, RequestContext, ServerServices } from './context.js';
import { applyCors } from './cors.js';
import { errorReply, sendJson } from './http.js';
import { DatabaseRegistry } from './registry.js';
import { ResolverSettings, type ResolverStrategy } from './resolvers.js';
import { ReplicationScheduler } from './replicator/index.js';
import { queryOf, resolveTarget, type Target } from './router.js';
import { databaseEndpoint, databaseMethods, reservedIdWrite } from './routes/databases.js';
import { attachmentMethods, documentMethods, localMethods } from './routes/documents.js';
import { schedulerMethods } from './routes/replication.js';
import { PUBLIC_ENDPOINTS, rootMethods, serverEndpoints } from './routes/server.js';
import { isUiPath, serveUi } from './ui.js';

export interface ServerOptions {
  /** Folder of the SQLite files, one per database, and of the server's own state. */
  dataDir: string;
  port?: number;
  host?: string;
  /** The server admin, `user:password`; generated (and printed once) when absent. */
  admin?: string;
  /** Origins allowed to call with credentials from a browser (none by default). */
  corsOrigins?: string[];
  /** Largest request body in bytes (default 256 MiB: PouchDB sends 100 docs with attachments at once). */
  maxRequestSize?: number;
  /** Largest JSON document in bytes (default 8 MB, CouchDB's `max_document_size`). */
  maxDocumentSize?: number;
  /** A pino logger for one line per request; silent when absent. */
  logger?: Logger;
  /** PBKDF2 iterations for new password hashes (default 600,000). */
  passwordIterations?: number;
  /** Conflict resolution strategies beyond the built-in ones, by name (see `loadResolverModules`). */
  resolvers?: Record<string, ResolverStrategy>;
  /** Waits before a crashed replication job is restarted: first (default 2 s) and longest (5 min). */
  replicator?: { retryInitialMs?: number; retryMaxMs?: number };
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
  /** Open client connections, to end at shutdown the ones that never sent a request. */
  private readonly sockets = new Set<Socket>();

  private constructor(
    readonly app: FastifyInstance,
    readonly services: ServerServices,
    private readonly options: ServerOptions,
  ) {}

  static async create(options: ServerOptions): Promise<SetteeServer> {
    const registry = new DatabaseRegistry(options.dataDir, new ResolverSettings(options.resolvers));
    const log = options.logger;
    const auth = await Auth.open(options.dataDir, {
      admin: options.admin,
      log: (message) => (log ? log.warn(message) : console.warn(message)),
      ...(options.passwordIterations ? { iterations: options.passwordIterations } : {}),
    });
    const app = Fastify({
      ...(log ? { loggerInstance: log } : { logger: false }),
      // One line per request, written by our onResponse hook, instead of fastify's two.
      logController: new LogController({ disableRequestLogging: true }),
      // Requests log through the server's logger itself: a child logger per request (for a
      // request id nobody reads) costs more than the line it writes.
      childLoggerFactory: (logger) => logger,
      bodyLimit: options.maxRequestSize ?? 256 * 1024 * 1024,
      // The query is parsed in dispatch, where a bad encoding becomes a 400: a parser that throws
      // here is an uncaught exception that takes the process down.
      routerOptions: { querystringParser: () => ({}) },
      forceCloseConnections: 'idle',
      // A path fastify cannot decode (`/%zz`) still gets CouchDB's error body.
      frameworkErrors: (error, _request, reply) =>
        sendJson(reply, 400, { error: 'bad_request', reason: error.message }),
    }) as unknown as FastifyInstance;
    const shutdownController = new AbortController();
    // The jobs of `_replicator` start once the server listens: some may replicate through it.
    const replications = new ReplicationScheduler(registry, {
      ...options.replicator,
      log: (message) => (log ? log.warn(message) : undefined),
    });
    await replications.open();
    const services: ServerServices = {
      registry,
      auth,
      maxDocumentSize: options.maxDocumentSize ?? 8_000_000,
      shutdown: shutdownController.signal,
      replications,
    };
    const server = new SetteeServer(app, services, options);
    server.shutdown.signal.addEventListener('abort', () => shutdownController.abort());
    server.configure();
    return server;
  }

  private configure(): void {
    const { app } = this;
    app.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    app.addHttpMethod('COPY', { hasBody: true });
    // Bodies stay bytes: each route parses them as CouchDB does (JSON, multipart, forms, raw
    // attachments), so an empty or odd body gets CouchDB's answer rather than the framework's.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    const origins = new Set(this.options.corsOrigins ?? []);
    // Hooks in callback style: an async hook costs a promise and its ticks on every request.
    app.addHook('onRequest', (request, reply, done) => {
      if (applyCors(request, reply, origins) === 'preflight') reply.code(204).send();
      else done();
    });
    app.addHook('onResponse', (request, reply, done) => {
      request.log.info(
        {
          method: request.method,
          url: request.url,
          status: reply.statusCode,
          ms: Math.round(reply.elapsedTime * 10) / 10,
        },
        'request',
      );
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

  /** Resolves the raw path to its target, authenticates, and runs the target's handler. */
  private async dispatch(request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const url = request.raw.url ?? '/';
    // The web page's static files are public: the page itself logs in through /_session.
    if (isUiPath(url)) return serveUi(request, reply);
    const target = resolveTarget(url);
    const query = queryOf(url);
    const { userCtx, via, setCookie } = await this.services.auth.authenticate(request.headers);
    if (setCookie) reply.header('set-cookie', setCookie);
    const ctx: RequestContext = {
      request,
      reply,
      query,
      target,
      userCtx,
      authenticatedVia: via,
      services: this.services,
    };
    if (userCtx.name === null && !isPublic(target)) throw unauthorized(target);
    switch (target.kind) {
      case 'root':
        return run(rootMethods, ctx);
      case 'server':
        return run(
          serverEndpoints[target.endpoint] ?? schedulerMethods(target.endpoint) ?? missingEndpoint(),
          ctx,
        );
      case 'db':
        return run(databaseMethods, ctx);
      default: {
        const methods = dbMethods(target, request.method);
        const db = await this.services.registry.get(target.db);
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
    return `http://${host}:${address.port}`;
  }

  /**
   * Cancels replications (each writes a last checkpoint, through this server if it must), ends
   * live feeds (with their final last_seq), lets in-flight requests finish, closes databases.
   */
  async close(): Promise<void> {
    await this.services.replications.stop();
    this.shutdown.abort();
    // Connections become idle only once their live feeds have ended, after close() began:
    // keep closing idle ones so a keep-alive client cannot hold the shutdown open.
    const closing = this.app.close();
    // A connection that never sent a request (a client's pre-opened or abandoned socket) is not
    // idle to Node: it would hold the shutdown until the headers timeout (60 s).
    const sweep = setInterval(() => {
      this.app.server.closeIdleConnections();
      for (const socket of this.sockets) if (socket.bytesRead === 0) socket.destroy();
    }, 25);
    try {
      await closing;
    } finally {
      clearInterval(sweep);
    }
    await this.services.registry.closeAll();
  }
}

function dbMethods(
  target: Exclude<Target, { kind: 'root' | 'server' | 'db' }>,
  method: string,
): Methods<DbContext> {
  switch (target.kind) {
    case 'db-endpoint':
      return databaseEndpoint(target.endpoint) ?? (method === 'PUT' ? reservedIdWrite : missingEndpoint());
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

function isPublic(target: Target): boolean {
  if (target.kind === 'root') return true;
  return target.kind === 'server' && PUBLIC_ENDPOINTS.has(target.endpoint);
}

function unauthorized(target: Target): SetteeError {
  const reason =
    target.kind === 'server' ? 'You are not a server admin.' : 'You are not authorized to access this db.';
  return new SetteeError('unauthorized', reason);
}
