#!/usr/bin/env node
import { Command } from 'commander';
import { Database } from '../database/database.js';

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

await program.parseAsync();
