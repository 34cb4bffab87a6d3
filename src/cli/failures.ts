/** Failures of the command line, each told in one line, without a stack. */
import { describeError } from '../core/describe-error.js';

/** A failure whose message is already the line to print. */
export class CommandError extends Error {
  override name = 'CommandError';
}

/** What the system's error codes mean for someone at the command line. */
const SYSTEM_FAILURES: Record<string, string> = {
  SQLITE_BUSY:
    'in use by another process (a running `settee serve`?); stop it, or reach the database through its URL',
  SQLITE_NOTADB: 'not a Settee database file',
  SQLITE_CORRUPT: 'the database file is damaged',
  SQLITE_READONLY: 'the database file cannot be written (check its permissions)',
  SQLITE_CANTOPEN: 'the database file cannot be opened (check the path and its permissions)',
  SQLITE_FULL: 'the disk is full',
  SQLITE_IOERR_LOCK:
    'the database file cannot be locked (a read-only folder, or a file system without locks?)',
  EADDRINUSE: 'another program listens there already; choose another --port or stop it',
  EADDRNOTAVAIL: 'this machine has no such address; check --host',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  ENOSPC: 'the disk is full',
  ENOTDIR: 'a part of the path is a file, not a folder',
};

/**
 * Why `settee serve` could not start, in one line. Once its data folder has been found
 * writable, a database that SQLite finds locked is held by another process: say which folder.
 */
export function describeStartFailure(error: unknown, dataDir: string): string {
  if ((error as { code?: unknown } | undefined)?.code === 'SQLITE_BUSY') {
    return `the data folder ${dataDir} is in use by another process (another \`settee serve\`?); stop it, or choose another --data`;
  }
  return describeFailure(error);
}

/** Anything thrown, as one line: known system failures in words, with what to do about them. */
export function describeFailure(error: unknown): string {
  const code = (error as { code?: unknown } | undefined)?.code;
  const meaning = typeof code === 'string' ? SYSTEM_FAILURES[code] : undefined;
  if (meaning === undefined) return describeError(error);
  // Node's listen errors name the address ("listen EADDRINUSE: … 127.0.0.1:5984"): keep it.
  const address = (error as { address?: unknown; port?: unknown }).address;
  const port = (error as { port?: unknown }).port;
  return typeof address === 'string' ? `${address}:${String(port)}: ${meaning}` : meaning;
}
