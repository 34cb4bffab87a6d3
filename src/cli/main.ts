#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { pino } from 'pino';
import { Database } from '../database/database.js';
import { SetteeServer } from '../server/app.js';

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
    '--cors-origin <url>',
    'an origin browsers may call from, with credentials (repeatable)',
    collect,
    [],
  )
  .option('--max-request-size <bytes>', 'largest request body', integer, 256 * 1024 * 1024)
  .action(async (options: ServeOptions) => {
    const logger = pino({ name: 'settee' });
    const server = await SetteeServer.create({
      dataDir: options.data,
      port: options.port,
      host: options.host,
      admin: options.admin ?? process.env.SETTEE_ADMIN,
      corsOrigins: options.corsOrigin,
      maxRequestSize: options.maxRequestSize,
      logger,
    });
    const url = await server.listen();
    logger.info(`Settee is listening on ${url} (data in ${options.data})`);
    const stop = async (signal: string) => {
      logger.info(`${signal}: ending live feeds and finishing in-flight requests`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
  });

interface ServeOptions {
  port: number;
  host: string;
  data: string;
  admin?: string;
  corsOrigin: string[];
  maxRequestSize: number;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('expected a whole number');
  return parsed;
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

await program.parseAsync();
