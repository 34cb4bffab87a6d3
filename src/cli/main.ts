#!/usr/bin/env node
// Node's storage for Database.open: SQLite files (see storage/sqlite/open.ts).
import '../storage/sqlite/open.js';
// …and its sandbox for views and filter functions (see design/install-node.ts).
import '../design/install-node.js';
// …and HTTP over undici's keep-alive pool (importing installs it).
import '../remote/undici-transport.js';
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Database } from '../database/database.js';
import { describeFailure } from './failures.js';
import { examples } from './help.js';
import { openLocalDatabase } from './local-database.js';
import { LOG_FORMATS, LOG_LEVELS } from './logger.js';
import { type ReplicateCommandOptions, replicateCommand, syncCommand } from './replicate.js';
import { serveCommand } from './serve.js';
import { byteSize, compactionRatio, type ServeOptions } from './serve-options.js';
import { counted } from './words.js';

const program = new Command();
program
  .name('settee')
  .description('An offline-first document database that syncs like CouchDB')
  .version('0.1.0')
  .addHelpText(
    'after',
    examples([
      ['start a server on http://127.0.0.1:5984 over ./data', 'npx settee serve'],
      [
        'copy a server database into a local file',
        'npx settee replicate http://admin:pw@127.0.0.1:5984/shop shop.sqlite --create-target',
      ],
      ['show a local database', 'npx settee info shop.sqlite'],
      ['the options of one command', 'npx settee help serve'],
    ]),
  );

program
  .command('info')
  .description("print a local database's info (doc_count, update_seq, sizes, …)")
  .argument('<file>', 'the SQLite file of the database')
  .addHelpText('after', examples([['', 'npx settee info data/shop.sqlite']]))
  .action(async (file: string) => {
    exit(
      await withLocalDatabase(file, async (db) => {
        console.log(JSON.stringify(await db.info(), null, 2));
      }),
    );
  });

program
  .command('compact')
  .description('drop bodies of old revisions and unreferenced attachments of a local database')
  .argument('<file>', 'the SQLite file of the database (not one a running server holds open)')
  .addHelpText('after', examples([['', 'npx settee compact data/shop.sqlite']]))
  .action(async (file: string) => {
    exit(
      await withLocalDatabase(file, async (db) => {
        const before = (await db.info()).sizes.file;
        await db.compact();
        const after = (await db.info()).sizes.file;
        console.log(`compacted ${file}: ${before} → ${counted(after, 'byte')}`);
      }),
    );
  });

program
  .command('serve')
  .description('run the CouchDB-compatible sync server')
  .option('-p, --port <port>', 'port to listen on', integer, 5984)
  .option('-H, --host <host>', 'address to listen on', '127.0.0.1')
  .option('-d, --data <folder>', 'folder of the databases (one SQLite file each)', './data')
  .option(
    '--postgres <url>',
    'keep the databases in this PostgreSQL, shared with other servers (or $SETTEE_POSTGRES)',
  )
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
  .addOption(
    new Option('--auto-compact <on|off>', 'compact databases whose files hold much more than their data')
      .choices(['on', 'off'])
      .default('on'),
  )
  .option(
    '--auto-compact-ratio <n>',
    'compact once the files are n times the live data (default 2)',
    compactionRatio,
  )
  .option('--auto-compact-min-size <size>', 'and would free at least this much (default 16MB)', byteSize)
  .option(
    '--resolvers <module>',
    'a JavaScript module of conflict resolution strategies for PUT /{db}/_resolver (repeatable)',
    collect,
    [],
  )
  .addOption(
    new Option('--log-level <level>', 'which log lines to print (start-up lines always print)')
      .choices(LOG_LEVELS)
      .default('info'),
  )
  .addOption(
    new Option('--log-format <format>', 'auto: readable lines on a terminal, JSON lines otherwise')
      .choices(LOG_FORMATS)
      .default('auto'),
  )
  .addHelpText(
    'after',
    examples([
      ['first start: an admin is created and its password printed once', 'npx settee serve'],
      [
        'your own admin, port and folder, for a web app on another origin',
        'npx settee serve --admin admin:s3cret --port 8080 --data /var/lib/settee --cors-origin http://localhost:3000',
      ],
      ['reset a lost admin password (stop the server first)', 'npx settee serve --admin admin:NEW-PASSWORD'],
      ['only warnings and errors, as JSON', 'npx settee serve --log-level warn --log-format json'],
    ]),
  )
  .action(async (options: ServeOptions) => {
    const status = await serveCommand(options);
    if (status !== undefined) exit(status);
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
  .option('--filter <ddoc/name>', "only documents the source's filter function passes, or _view")
  .option('--view <ddoc/view>', 'with --filter _view: only documents this view emits for')
  .option('--query-params <json>', "the filter function's req.query", jsonObject)
  .addHelpText(
    'after',
    examples([
      [
        'push a local file to a server',
        'npx settee replicate shop.sqlite http://admin:pw@127.0.0.1:5984/shop',
      ],
      [
        'pull into a new local file',
        'npx settee replicate http://admin:pw@127.0.0.1:5984/shop copy.sqlite --create-target',
      ],
      [
        'keep following new changes',
        'npx settee replicate http://admin:pw@127.0.0.1:5984/shop copy.sqlite --continuous',
      ],
      [
        'only some documents',
        `npx settee replicate shop.sqlite red.sqlite --create-target --selector '{"color":"red"}'`,
      ],
      [
        "through the source's filter function",
        `npx settee replicate shop.sqlite sales.sqlite --create-target --filter app/by_type --query-params '{"type":"sale"}'`,
      ],
    ]),
  )
  .action(async (source: string, target: string, options: ReplicateCommandOptions) => {
    exit(await replicateCommand(source, target, options));
  });

program
  .command('sync')
  .description('replicate A and B both ways; each is an http(s) URL (credentials allowed) or a database file')
  .argument('<a>', 'one database')
  .argument('<b>', 'the other')
  .option('--continuous', 'keep syncing new changes until SIGINT or SIGTERM')
  .addHelpText(
    'after',
    examples([
      ['sync once', 'npx settee sync shop.sqlite http://admin:pw@127.0.0.1:5984/shop'],
      [
        'keep both sides in sync until Ctrl+C',
        'npx settee sync shop.sqlite http://admin:pw@127.0.0.1:5984/shop --continuous',
      ],
    ]),
  )
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

/** Runs `use` on the database file at `file`; resolves with the exit status. */
async function withLocalDatabase(file: string, use: (db: Database) => Promise<void>): Promise<number> {
  let db: Database | undefined;
  try {
    db = await openLocalDatabase(file, 'database');
    await use(db);
    return 0;
  } catch (error) {
    process.stderr.write(`error: ${describeFailure(error)}\n`);
    return 1;
  } finally {
    await db?.close();
  }
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
