/**
 * The server's own authentication state, `<dataDir>/_settee/auth.json` (mode 0600): the secret
 * that signs session cookies and the server admins' password hashes. A generated admin password
 * is announced once and never stored in clear.
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hashAdminPassword, parseAdminHash, verifyAdminPassword } from './passwords.js';

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
  known: { name: string; password: string; hash: string }[];
}

/** Where the state of the server over `dataDir` is stored. */
export function authFilePath(dataDir: string): string {
  return path.join(dataDir, '_settee', 'auth.json');
}

/** The names of the admins stored for `dataDir` (none before the first start). */
export async function storedAdminNames(dataDir: string): Promise<string[]> {
  return Object.keys((await readAuthFile(authFilePath(dataDir))).admins ?? {});
}

/** An admin for a server that has none: the name `admin` and a random password. */
export function generatedAdmin(): { name: string; password: string } {
  return { name: 'admin', password: randomBytes(18).toString('base64url') };
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
    if (typeof admins !== 'object' || admins === null || Array.isArray(admins)) throw invalid('bad "admins"');
    const checked: Record<string, string> = {};
    for (const [name, hash] of Object.entries(admins)) {
      if (typeof hash !== 'string' || !parseAdminHash(hash)) throw invalid(`bad hash for admin "${name}"`);
      checked[name] = hash;
    }
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

/** `"name:password"` → its parts, split at the first `:`; both must be non-empty. */
export function parseAdminOption(value: string): { name: string; password: string } {
  const colon = value.indexOf(':');
  const name = colon < 0 ? '' : value.slice(0, colon);
  const password = colon < 0 ? '' : value.slice(colon + 1);
  if (name.trim() === '' || password === '') {
    throw new Error('Invalid admin credentials: expected "name:password" (--admin or SETTEE_ADMIN)');
  }
  return { name, password };
}

/**
 * Loads (or creates) the state file. `admin` (`name:password`) replaces the stored admins;
 * without it the stored admins are used, and when there are none an `admin` with a random
 * password is created and announced once through `log`.
 */
export async function loadAuthState(
  dataDir: string,
  options: { admin?: string; iterations: number; log?: (message: string) => void },
): Promise<AuthState> {
  const given = options.admin === undefined ? undefined : parseAdminOption(options.admin);
  const file = authFilePath(dataDir);
  const stored = await readAuthFile(file);
  let changed = false;
  let secret = stored.secret;
  if (secret === undefined) {
    secret = randomBytes(32).toString('hex');
    changed = true;
  }
  let admins = stored.admins ?? {};
  const known: AuthState['known'] = [];

  if (given) {
    // Keep the stored hash when the password is unchanged: its salt is part of the cookie key,
    // so re-hashing on every start would log everyone out.
    const previous = admins[given.name];
    const hash =
      previous !== undefined && (await verifyAdminPassword(given.password, previous))
        ? previous
        : await hashAdminPassword(given.password, options.iterations);
    known.push({ ...given, hash });
    const names = Object.keys(admins);
    if (names.length !== 1 || names[0] !== given.name || previous !== hash) {
      admins = { [given.name]: hash };
      changed = true;
    }
  } else if (Object.keys(admins).length === 0) {
    const { name, password } = generatedAdmin();
    const hash = await hashAdminPassword(password, options.iterations);
    admins = { [name]: hash };
    known.push({ name, password, hash });
    changed = true;
    options.log?.(
      `No server admin configured: created admin "${name}" with password "${password}". ` +
        'This password will not be shown again; note it now, or set one with --admin name:password ' +
        '(or SETTEE_ADMIN, or --admin-file).',
    );
  }

  if (changed) await writeAuthFile(file, { version: AUTH_FILE_VERSION, secret, admins });
  return { secret, admins: new Map(Object.entries(admins)), known };
}
