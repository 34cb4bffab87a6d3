/**
 * The server's own authentication state, `<dataDir>/_settee/auth.json` (mode 0600): the secret
 * that signs session cookies and the server admins' password hashes. A generated admin password
 * is announced once and never stored in clear.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import {
  type AdminHashes,
  type AdminOptions,
  checkAdminHashes,
  type KnownAdmins,
  resolveAdmins,
} from './admins.js';

export { generatedAdmin, parseAdminOption } from './admins.js';

const AUTH_FILE_VERSION = 1;

interface AuthFile {
  version: number;
  /** Hex; the HMAC key of session cookies (together with the user's salt). */
  secret: string;
  /** Admin name → password hash. */
  admins: Record<string, string>;
}

/** The loaded state, and the admins whose password is known now (to warm the credential cache). */
export interface AuthState {
  secret: string;
  admins: Map<string, string>;
  known: KnownAdmins;
}

/** Where the state of the server over `dataDir` is stored. */
export function authFilePath(dataDir: string): string {
  return path.join(dataDir, '_settee', 'auth.json');
}

/** The names of the admins stored for `dataDir` (none before the first start). */
export async function storedAdminNames(dataDir: string): Promise<string[]> {
  return Object.keys((await readAuthFile(authFilePath(dataDir))).admins ?? {});
}

async function readAuthFile(file: string): Promise<Partial<AuthFile>> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw err;
  }
  const invalid = (why: string) =>
    new Error(`${file} is not a valid Settee auth file (${why}); fix or remove it`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw invalid('not an object');
  const { secret, admins } = data as Record<string, unknown>;
  const result: Partial<AuthFile> = {};
  if (secret !== undefined) {
    if (typeof secret !== 'string' || secret.length < 32) throw invalid('bad "secret"');
    result.secret = secret;
  }
  if (admins !== undefined) {
    const checked = checkAdminHashes(admins);
    if (typeof checked === 'string') throw invalid(checked);
    result.admins = checked;
  }
  return result;
}

async function writeAuthFile(file: string, data: AuthFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/**
 * Loads (or creates) the state file. `admin` (`name:password`) replaces the stored admins;
 * without it the stored admins are used, and when there are none an `admin` with a random
 * password is created and announced once through `log`. `shared`: see `resolveAdmins`.
 */
export async function loadAuthState(
  dataDir: string,
  options: AdminOptions,
  shared?: AdminHashes,
): Promise<AuthState> {
  const file = authFilePath(dataDir);
  const stored = await readAuthFile(file);
  const secret = stored.secret ?? newSecret();
  const { admins, known, changed } = await resolveAdmins(stored.admins ?? {}, options, shared);
  if (changed || stored.secret === undefined)
    await writeAuthFile(file, { version: AUTH_FILE_VERSION, secret, admins });
  return { secret, admins: new Map(Object.entries(admins)), known };
}

/** A new cookie secret: 32 random bytes in hex. */
export function newSecret(): string {
  return randomBytes(32).toString('hex');
}
