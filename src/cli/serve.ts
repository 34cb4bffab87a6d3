/**
 * `settee serve`: the server over a data folder, with start-up lines that say at once where it
 * listens, where its web page is and who its admin is, and a clean stop on SIGINT or SIGTERM.
 */
import { SetteeServer } from '../server/app.js';
import { authFilePath } from '../server/auth/state-file.js';
import { loadResolverModules } from '../server/resolvers.js';
import { checkDataFolder } from './data-folder.js';
import { describeFailure, describeStartFailure } from './failures.js';
import { createServerLog, type ServerLog, type StartupLine } from './logger.js';
import {
  type AdminAtStart,
  adminAtStart,
  autoCompactionOptions,
  jwtOptions,
  postgresUrl,
  redactedUrl,
  type ServeOptions,
} from './serve-options.js';
import { effectiveSettings } from './serve-settings.js';
import { readTls, reloadTlsOnSighup, type TlsFiles, tlsFilesOf } from './serve-tls.js';

/** Starts the server; resolves once it listens (it runs until a signal), or with 1 if it cannot start. */
export async function serveCommand(options: ServeOptions): Promise<number | undefined> {
  const log = createServerLog(options.logLevel, options.logFormat, process.stdout.isTTY === true);
  let server: SetteeServer;
  let admin: AdminAtStart;
  let postgres: string | undefined;
  let tlsFiles: TlsFiles | undefined;
  try {
    postgres = postgresUrl(options, process.env);
    tlsFiles = tlsFilesOf(options);
    const tls = tlsFiles && (await readTls(tlsFiles));
    checkDataFolder(options.data);
    const start = await adminAtStart(options, process.env);
    admin = start.admin;
    server = await SetteeServer.create({
      dataDir: options.data,
      ...(postgres === undefined ? {} : { postgres }),
      port: options.port,
      host: options.host,
      admin: start.credentials,
      corsOrigins: options.corsOrigin,
      allowSignup: options.allowSignup === true,
      ...(options.perUserDbs ? { perUserDbs: { deleteWithUser: options.perUserDbsDelete === true } } : {}),
      ...(await jwtOptions(options, process.env)),
      secureCookies: options.secureCookies === true,
      ...(tls ? { tls } : {}),
      trustProxy: options.trustProxy,
      lockout: {
        threshold: options.lockoutAttempts,
        durationMs: Math.round(options.lockoutMinutes * 60_000),
        maxEntries: options.lockoutMaxObjects,
        mode: options.lockoutMode,
      },
      validation: { timeoutMs: options.validateTimeout },
      maxRequestSize: options.maxRequestSize,
      ...autoCompactionOptions(options),
      resolvers: await loadResolverModules(options.resolvers),
      logger: log.logger,
      requestLog: options.requestLog,
      config: effectiveSettings(options),
    });
  } catch (error) {
    return failed(log, `cannot start the server: ${describeStartFailure(error, options.data)}`);
  }
  try {
    const url = await server.listen();
    log.announce(startupLines(url, options.data, admin, postgres, tlsFiles));
  } catch (error) {
    await server.close();
    return failed(log, `cannot listen: ${describeFailure(error)}`);
  }
  stopOnSignals(server, log);
  if (tlsFiles) reloadTlsOnSighup(server, tlsFiles, log);
  return undefined;
}

function stopOnSignals(server: SetteeServer, log: ServerLog): void {
  const stop = async (signal: string) => {
    log.logger.info(`${signal}: ending live feeds and finishing in-flight requests`);
    await server.close();
    log.logger.info('stopped');
    await log.flush();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

/** Says why the server cannot run, in one line, once what it logged is written out; returns 1. */
async function failed(log: ServerLog, reason: string): Promise<number> {
  process.stderr.write(`error: ${reason}\n`);
  await log.flush();
  return 1;
}

/** What a person starting the server needs to know first, in plain words. */
export function startupLines(
  url: string,
  dataDir: string,
  admin: AdminAtStart,
  postgres?: string,
  tls?: TlsFiles,
): StartupLine[] {
  const ui = `${url}/_ui/`;
  return [
    { text: `Settee is listening on ${url}`, fields: { url } },
    { text: `Web page: ${ui}`, fields: { ui } },
    ...(postgres === undefined
      ? [{ text: `Data folder: ${dataDir}`, fields: { data: dataDir } }]
      : [
          {
            text: `Databases: PostgreSQL ${redactedUrl(postgres)}`,
            fields: { postgres: redactedUrl(postgres) },
          },
          { text: `Data folder (admins, cookie secret): ${dataDir}`, fields: { data: dataDir } },
        ]),
    ...adminLines(admin, authFilePath(dataDir)),
    ...(tls
      ? [
          {
            text: `TLS certificate: ${tls.cert} (HTTP/1.1 and HTTP/2; send SIGHUP to reload it once renewed)`,
            fields: { tls_cert: tls.cert },
          },
        ]
      : []),
    { text: 'Stop it with Ctrl+C.' },
  ];
}

/** `Server admin: "a"`, or `Server admins: "a", "b"`: names only, never a password. */
function adminsNamed(names: string[]): string {
  const quoted = names.map((name) => `"${name}"`).join(', ');
  return `Server admin${names.length > 1 ? 's' : ''}: ${quoted}`;
}

function adminLines(admin: AdminAtStart, stateFile: string): StartupLine[] {
  switch (admin.kind) {
    case 'configured':
      return [
        { text: `${adminsNamed(admin.names)} (as configured)`, fields: { admin: admin.names.join(',') } },
      ];
    case 'stored':
      return [
        {
          text:
            `${adminsNamed(admin.names)} (stored in ${stateFile}; ` +
            'lost the password? see "Resetting the admin password" in docs/cli.md)',
          fields: { admin: admin.names.join(','), saved: stateFile },
        },
      ];
    case 'generated':
      return [
        {
          text: `No server admin was configured, so one was created: name "${admin.name}", password "${admin.password}"`,
          fields: { admin: admin.name, password: admin.password },
        },
        {
          text:
            `Note the password now: it is not shown again (only its hash is saved, in ${stateFile}). ` +
            `To choose your own, start with --admin ${admin.name}:PASSWORD.`,
          fields: { saved: stateFile },
        },
      ];
  }
}
