/**
 * The check `settee serve` makes of its data folder before anything opens a database in it: a
 * folder it cannot write would otherwise surface later as SQLite's error codes, which name
 * neither the folder nor the cause (a read-only folder shows as `SQLITE_BUSY`, "in use").
 */
import { accessSync, constants, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, describeFailure } from './failures.js';

/** The server's own files live in this sub-folder of the data folder. */
const OWN_FOLDER = '_settee';

/**
 * Creates the data folder when it is missing and proves it can be written, with every file
 * already in it (its databases and the server's own state). Throws a CommandError naming what
 * is wrong, in one line.
 */
export function checkDataFolder(dir: string): void {
  const problem = (what: string) => new CommandError(`the data folder ${dir} ${what}`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw problem('is a file, not a folder');
    throw problem(`cannot be created: ${describeFailure(error)}`);
  }
  for (const folder of [dir, join(dir, OWN_FOLDER)]) {
    const failure = unwritable(folder);
    if (failure)
      throw problem(`cannot be written: ${failure.path === dir ? '' : `${failure.path}: `}${failure.why}`);
  }
}

/** What in a folder cannot be written (the folder itself, or a file in it), and why. */
function unwritable(folder: string): { path: string; why: string } | undefined {
  // Access rights alone would pass a read-only file system for root: write for real.
  const probe = join(folder, `.settee-write-check-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (error) {
    // Only the server's own folder may be missing: the server creates it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { path: folder, why: describeFailure(error) };
  }
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(folder, entry.name);
    try {
      accessSync(file, constants.R_OK | constants.W_OK);
    } catch (error) {
      return { path: file, why: describeFailure(error) };
    }
  }
  return undefined;
}
