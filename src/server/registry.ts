import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileExists, notFound, SetteeError } from '../core/errors.js';
import { Database, randomHex } from '../database/database.js';
import { ResolverSettings } from './resolvers.js';

const NAME = /^[a-z][a-z0-9_$()+/-]*$/;
const SYSTEM_DATABASES = new Set(['_users', '_replicator']);
const EXTENSION = '.sqlite';
// File names are at most 255 bytes, and SQLite adds `-journal` or `-wal` to ours.
const MAX_FILE_NAME = 255 - '-journal'.length;

/** Validates a database name as CouchDB does, and that its file name fits the file system. */
export function validateDbName(name: string): string {
  if (NAME.test(name) || SYSTEM_DATABASES.has(name) || /^[a-z][a-z0-9_$()+/-]*\/_replicator$/.test(name)) {
    if (fileNameOf(name).length > MAX_FILE_NAME) {
      throw new SetteeError('illegal_database_name', `Name: '${name}'. The name is too long.`);
    }
    return name;
  }
  throw new SetteeError(
    'illegal_database_name',
    `Name: '${name}'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter.`,
  );
}

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
 * The server's databases: one SQLite file each under the data folder, opened on first use and
 * kept open. Also the server's own persisted identity (its uuid).
 */
export class DatabaseRegistry {
  private readonly open = new Map<string, Promise<Database>>();
  readonly uuid: string;

  constructor(
    readonly dataDir: string,
    /** Each database's automatic conflict resolution, restored as it opens. */
    readonly resolvers: ResolverSettings = new ResolverSettings(),
  ) {
    mkdirSync(join(dataDir, '_settee'), { recursive: true });
    this.uuid = loadServerUuid(join(dataDir, '_settee', 'server.json'));
  }

  /** Names of all databases, sorted. */
  list(): string[] {
    return readdirSync(this.dataDir)
      .filter((file) => file.endsWith(EXTENSION))
      .map(nameOfFile)
      .sort();
  }

  exists(name: string): boolean {
    return this.open.has(name) || existsSync(this.pathOf(name));
  }

  /** An existing database; 404 when there is none. */
  async get(name: string): Promise<Database> {
    validateDbName(name);
    const opened = this.open.get(name);
    if (opened) return opened;
    if (!existsSync(this.pathOf(name))) throw notFound('Database does not exist.');
    return this.openDb(name);
  }

  /** Creates a database; 412 when it exists. */
  async create(name: string): Promise<Database> {
    validateDbName(name);
    if (this.exists(name)) throw fileExists();
    return this.openDb(name);
  }

  async delete(name: string): Promise<void> {
    const db = await this.get(name);
    this.open.delete(name);
    await db.destroy();
  }

  async closeAll(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const db of all) await (await db).close();
  }

  private openDb(name: string): Promise<Database> {
    // Resolved conflicts keep their losing versions, for people to look back at.
    const opening = Database.open(this.pathOf(name), { name, history: true }).then(async (db) => {
      await this.resolvers.restore(db);
      return db;
    });
    this.open.set(name, opening);
    opening.catch(() => this.open.delete(name));
    return opening;
  }

  private pathOf(name: string): string {
    return join(this.dataDir, fileNameOf(name));
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
