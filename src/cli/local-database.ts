/**
 * Opening a database file named on the command line. Opening a path that holds nothing would
 * create an empty database there, so a typo would read as an empty database and leave a file
 * behind: only `create` opens a path where no database is.
 */
import { type Stats, statSync } from 'node:fs';
import { Database } from '../database/database.js';
import { CommandError, describeFailure } from './failures.js';

export interface OpenLocalOptions {
  /** Create the database when nothing is at the path. */
  create?: boolean;
  /** Added to the message when nothing is there, e.g. which option creates it. */
  hintWhenMissing?: string;
}

/**
 * Opens the database file at `file`; `role` names it in messages ("source", "database", …).
 * Throws a CommandError that says what is wrong in one line.
 */
export async function openLocalDatabase(
  file: string,
  role: string,
  { create = false, hintWhenMissing = '' }: OpenLocalOptions = {},
): Promise<Database> {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (stat === undefined && !create) {
    throw new CommandError(`${role} ${file}: no database there (no such file)${hintWhenMissing}`);
  }
  const problem = stat && fileProblem(stat);
  if (problem) throw new CommandError(`${role} ${file}: ${problem}`);
  try {
    return await Database.open(file);
  } catch (error) {
    throw new CommandError(`${role} ${file}: ${describeFailure(error)}`);
  }
}

/** Why an existing path cannot be opened as a database, or undefined when it can (or SQLite must say). */
function fileProblem(stat: Stats): string | undefined {
  if (stat.isDirectory()) return 'a folder, not a database file';
  // SQLite would make an empty file a new database; any other non-database it refuses itself.
  if (stat.size === 0) return 'an empty file, not a database';
  return undefined;
}
