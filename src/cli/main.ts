#!/usr/bin/env node
// Node's storage for Database.open: SQLite files (see storage/sqlite/open.ts).
import '../storage/sqlite/open.js';
// …and its sandbox for views and filter functions (see design/install-node.ts).
import '../design/install-node.js';
// …and HTTP over undici's keep-alive pool (importing installs it).
import '../remote/undici-transport.js';
import { Command, InvalidArgumentError } from 'commander';
import type { Database } from '../database/database.js';
import { describeFailure } from './failures.js';
import { examples } from './help.js';
import { openLocalDatabase } from './local-database.js';
import {
  type ReplicateCommandOptions,
  replicateCommand,
  type SyncCommandOptions,
  syncCommand,
} from './replicate.js';
import { serveCommand } from './serve.js';
import type { ServeOptions } from './serve-options.js';
import { addServeSettings } from './serve-settings.js';
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

addServeSettings(program.command('serve').description('run the CouchDB-compatible sync server'))
  .addHelpText(
    'after',
    examples([
      ['first start: an admin is created and its password printed once', 'npx settee serve'],
      [
        'your own admin, port and folder, for a web app on another origin',
        'npx settee serve --admin admin:s3cret --port 8080 --data /var/lib/settee --cors-origin http://localhost:3000',
      ],
      ['reset a lost admin password (stop the server first)', 'npx settee serve --admin admin:NEW-PASSWORD'],
      [
        'settings from a file (flags and the environment win over it)',
        'npx settee serve --config settee.ini',
      ],
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
  .option('--winning-revs-only', "only each document's winning revision: the target gets no conflicts")
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
      [
        'a copy without conflicts (winning revisions only)',
        'npx settee replicate shop.sqlite clean.sqlite --create-target --winning-revs-only',
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
  .option('--winning-revs-only', "both ways, only each document's winning revision")
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
  .action(async (a: string, b: string, options: SyncCommandOptions) => {
    exit(await syncCommand(a, b, options));
  });

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

await program.parseAsync();
