#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { destination as pinoDestination, pino } from 'pino';
import { Database } from '../database/database.js';
import { SetteeServer } from '../server/app.js';
import { loadResolverModules } from '../server/resolvers.js';
import { type ReplicateCommandOptions, replicateCommand, syncCommand } from './replicate.js';
import { adminCredentials, jwtOptions, type ServeOptions } from './serve-options.js';

const program = new Command();
program
  .name('settee')
  .description('An offline-first document database that syncs like CouchDB')
  .version('0.1.0');

program
  .command('info')
  .description("print a local database's info (doc_count, update_seq, sizes, …)")
  .argument('<file>', 'the SQLite file of the database')
  .action(async (file: string) => {
    const db = await Database.open(file);
    console.log(JSON.stringify(await db.info(), null, 2));
    await db.close();
  });

program
  .command('compact')
  .description('drop bodies of old revisions and unreferenced attachments of a local database')
  .argument('<file>', 'the SQLite file of the database')
  .action(async (file: string) => {
    const db = await Database.open(file);
    const before = (await db.info()).sizes.file;
    await db.compact();
    const after = (await db.info()).sizes.file;
    console.log(`compacted ${file}: ${before} → ${after} bytes`);
    await db.close();
  });

program
  .command('serve')
  .description('run the CouchDB-compatible sync server')
  .option('-p, --port <port>', 'port to listen on', integer, 5984)
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('-d, --data <folder>', 'folder of the databases (one SQLite file each)', './data')
  .option('--admin <user:password>', 'the server admin (default: $SETTEE_ADMIN, or generated at first start)')
  .option(
    '--admin-file <file>',
    'read the server admin\'s "user:password" from this file, so it does not show in ps (or $SETTEE_ADMIN_FILE)',
  )
  .option('--allow-signup', 'anyone may create a user in _users (with no roles)')
  .option('--per-user-dbs', 'give every user a database userdb-{hex of name}, theirs alone')
  .option('--per-user-dbs-delete', "delete a user's database when the user is deleted")
  .option(
    '--jwt-secret <secret>',
    'accept HS256 JWTs signed with this secret ("base64:…" for bytes; or $SETTEE_JWT_SECRET)',
  )
  .option(
    '--jwt-key <file>',
    'accept RS256/ES256 JWTs verified with this PEM public key (repeatable; kid=file)',
    collect,
    [],
  )
  .option(
    '--jwt-roles-claim <path>',
    'where JWTs carry roles, as CouchDB roles_claim_path (default: the top-level claim "_couchdb.roles")',
  )
  .option('--secure-cookies', 'the server is reached over HTTPS (a TLS proxy): session cookies get Secure')
  .option(
    '--trust-proxy <address>',
    'a proxy in front of the server (address or CIDR, repeatable): its X-Forwarded-For names the client',
    collect,
    [],
  )
  .option(
    '--lockout-attempts <n>',
    'failed logins from one address before the user is locked out there',
    integer,
    5,
  )
  .option('--lockout-minutes <n>', 'how long a lockout lasts', integer, 5)
  .option('--validate-timeout <ms>', 'time limit of one validate_doc_update call', integer, 5000)
  .option(
    '--cors-origin <url>',
    'an origin browsers may call from, with credentials (repeatable)',
    collect,
    [],
  )
  .option('--max-request-size <bytes>', 'largest request body', integer, 256 * 1024 * 1024)
  .option(
    '--resolvers <module>',
    'a JavaScript module of conflict resolution strategies for PUT /{db}/_resolver (repeatable)',
    collect,
    [],
  )
  .action(async (options: ServeOptions) => {
    // Buffered, asynchronous writes: a line per request must not cost a write syscall each.
    const destination = pinoDestination({ sync: false, minLength: 4096 });
    const logger = pino({ name: 'settee' }, destination);
    const server = await SetteeServer.create({
      dataDir: options.data,
      port: options.port,
      host: options.host,
      admin: await adminCredentials(options, process.env),
      corsOrigins: options.corsOrigin,
      allowSignup: options.allowSignup === true,
      ...(options.perUserDbs ? { perUserDbs: { deleteWithUser: options.perUserDbsDelete === true } } : {}),
      ...(await jwtOptions(options, process.env)),
      secureCookies: options.secureCookies === true,
      trustProxy: options.trustProxy,
      lockout: { threshold: options.lockoutAttempts, durationMs: options.lockoutMinutes * 60_000 },
      validation: { timeoutMs: options.validateTimeout },
      maxRequestSize: options.maxRequestSize,
      resolvers: await loadResolverModules(options.resolvers),
      logger,
    });
    const url = await server.listen();
    logger.info(`Settee is listening on ${url} (data in ${options.data})`);
    const stop = async (signal: string) => {
      logger.info(`${signal}: ending live feeds and finishing in-flight requests`);
      await server.close();
      logger.info('stopped');
      destination.flushSync();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

program
  .command('replicate')
  .description(
    'replicate SOURCE into TARGET; each is an http(s) URL (credentials allowed) or a database file',
  )
  .argument('<source>', 'where documents come from')
  .argument('<target>', 'where they go')
  .option('--continuous', 'keep replicating new changes until SIGINT or SIGTERM')
  .option('--create-target', 'create the target database when it does not exist')
  .option('--doc-ids <ids>', 'only these documents (comma-separated ids)', idList)
  .option('--selector <json>', 'only documents matching this Mango selector', jsonObject)
  .action(async (source: string, target: string, options: ReplicateCommandOptions) => {
    exit(await replicateCommand(source, target, options));
  });

program
  .command('sync')
  .description('replicate A and B both ways; each is an http(s) URL (credentials allowed) or a database file')
  .argument('<a>', 'one database')
  .argument('<b>', 'the other')
  .option('--continuous', 'keep syncing new changes until SIGINT or SIGTERM')
  .action(async (a: string, b: string, options: { continuous?: boolean }) => {
    exit(await syncCommand(a, b, options));
  });

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a whole number');
  return parsed;
}

function idList(value: string): string[] {
  const ids = value
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (ids.length === 0) throw new InvalidArgumentError('expected comma-separated document ids');
  return ids;
}

function jsonObject(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidArgumentError('expected JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError('expected a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Ends the process once output is written: idle keep-alive connections must not hold it open. */
function exit(status: number): void {
  process.exitCode = status;
  process.stdout.write('', () => process.stderr.write('', () => process.exit(status)));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

await program.parseAsync();
