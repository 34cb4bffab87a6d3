import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileExists, notFound } from '../../core/errors.js';
import { randomHex } from '../../database/database.js';
import { openSqliteFile } from '../../storage/sqlite/open.js';
import type { Storage } from '../../storage/types.js';
import type { DatabaseStore } from './types.js';

const EXTENSION = '.sqlite';
/**
 * A server keeps many databases open: each gets 4 MB of page cache rather than an embedded
 * database's 16 (scans read in storage order and gain little from more).
 */
const SERVER_STORAGE = { pageCacheKiB: 4000 } as const;

/** Folders the server creates are its own (they hold credentials of replication jobs). */
const PRIVATE_DIR = 0o700;
const PRIVATE_FILE = 0o600;

/**
 * A reversible file name for a database name: letters, digits, `_` and `-` stay, every other
 * byte becomes `@xx` (hex). `@` never occurs in a valid name, so decoding is unambiguous.
 */
export function fileNameOf(name: string): string {
  let encoded = '';
  for (const byte of new TextEncoder().encode(name)) {
    const char = String.fromCharCode(byte);
    encoded += /[a-z0-9_-]/.test(char) ? char : `@${byte.toString(16).padStart(2, '0')}`;
  }
  return encoded + EXTENSION;
}

export function nameOfFile(file: string): string {
  const encoded = file.slice(0, -EXTENSION.length);
  const bytes: number[] = [];
  for (let i = 0; i < encoded.length; i++) {
    if (encoded[i] === '@') {
      bytes.push(Number.parseInt(encoded.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(encoded.charCodeAt(i));
  }
  return new TextDecoder().decode(Uint8Array.from(bytes));
}

/**
 * One SQLite file per database in the data folder, and the server's uuid in
 * `<data>/_settee/server.json`. One server owns the folder (SQLite locks each file).
 */
export class SqliteFolder implements DatabaseStore {
  readonly shared = false;

  constructor(readonly dataDir: string) {
    mkdirSync(join(dataDir, '_settee'), { recursive: true, mode: PRIVATE_DIR });
  }

  async list(): Promise<string[]> {
    return readdirSync(this.dataDir)
      .filter((file) => file.endsWith(EXTENSION))
      .map(nameOfFile)
      .sort();
  }

  async exists(name: string): Promise<boolean> {
    return existsSync(this.pathOf(name));
  }

  /**
   * The file is created private before SQLite opens it (SQLite gives its journal the same mode),
   * and exclusively: of two creations at once, one gets 412 rather than both opening one file.
   * That happens before the first `await`, so the registry's caller sees it synchronously.
   */
  async create(name: string): Promise<Storage> {
    const path = this.pathOf(name);
    try {
      closeSync(openSync(path, 'wx', PRIVATE_FILE));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw fileExists();
      throw error;
    }
    try {
      return await openSqliteFile(path, SERVER_STORAGE);
    } catch (error) {
      // A file left here would be listed by `_all_dbs` and make the next `PUT` answer 412.
      removeDatabaseFiles(path);
      throw error;
    }
  }

  async open(name: string): Promise<Storage> {
    const path = this.pathOf(name);
    if (!existsSync(path)) throw notFound('Database does not exist.');
    return openSqliteFile(path, SERVER_STORAGE);
  }

  /** Nobody else deletes the folder's databases while the server holds them open. */
  async isCurrent(): Promise<boolean> {
    return true;
  }

  /** No other server shares the folder. */
  async announce(): Promise<void> {}

  onNotice(): () => void {
    return () => undefined;
  }

  async serverUuid(): Promise<string> {
    return loadServerUuid(join(this.dataDir, '_settee', 'server.json'));
  }

  async close(): Promise<void> {}

  private pathOf(name: string): string {
    return join(this.dataDir, fileNameOf(name));
  }
}

/**
 * Removes a database's file and the ones SQLite keeps beside it, as far as it can: the failure
 * that brought us here is what the caller must hear, and what is not a file is not ours.
 */
function removeDatabaseFiles(path: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    try {
      unlinkSync(path + suffix);
    } catch {
      // Absent, or not a file (a folder of that name): nothing of this database to remove.
    }
  }
}

function loadServerUuid(path: string): string {
  if (existsSync(path)) {
    const state = JSON.parse(readFileSync(path, 'utf8')) as { uuid?: string };
    if (typeof state.uuid === 'string') return state.uuid;
  }
  const uuid = randomHex();
  writeFileSync(path, `${JSON.stringify({ uuid })}\n`);
  return uuid;
}
